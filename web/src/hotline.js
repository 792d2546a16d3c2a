// The hotline: messages between the parties' duty officers, in threads by
// subject (an operation, a conflict, or none), with urgency and
// acknowledgement per addressee; and the line check.

import { h, replace, fmtTime } from './dom.js';
import { can, on, opLabel, state } from './state.js';
import { ackMessage, lineCheck, sendMessage } from './actions.js';

let els;

export function initHotline(root) {
  els = {
    threads: h('div', { id: 'threads' }),
    form: h('form', { class: 'compose', id: 'compose' }),
  };
  replace(root, els.form, els.threads);
  on('messages', render);
  on('operations', render);
  on('parties', renderForm);
  on('compose', () => { renderForm(); els.form.querySelector('textarea')?.focus(); });
  renderForm();
}

function subjectName(s) {
  if (!s) return 'General';
  if (s.kind === 'operation') return `Operation ${opLabel(s.id)}`;
  if (s.kind === 'conflict') {
    const c = state.conflicts.get(s.id);
    return c ? `Conflict ${c.operations.map((id) => opLabel(id)).join(' × ')}` : `Conflict ${s.id.slice(0, 8)}`;
  }
  return `${s.kind} ${s.id}`;
}

function renderForm() {
  if (!els) return;
  if (!can.hotline()) {
    replace(els.form, h('p', { class: 'muted' }, 'Duty liaison officers and heads talk on the hotline; you can read it.'));
    return;
  }
  const others = state.parties.filter((p) => p.id !== state.me.party);
  const subj = state.hotlineSubject;
  const to = others.map((p) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'to', value: p.id, checked: true }), ` ${p.name}`));
  const urgency = h('select', { name: 'urgency', id: 'msg-urgency' }, h('option', { value: 'routine' }, 'routine'), h('option', { value: 'urgent' }, 'urgent'));
  const text = h('textarea', { name: 'text', id: 'msg-text', rows: 3, required: true, maxlength: 4000, 'aria-label': 'Message' });
  const subjectRow = subj
    ? h('p', { class: 'small' }, 'About: ', h('strong', {}, subjectName(subj)), ' ',
      h('button', { type: 'button', class: 'link', onclick: () => { state.hotlineSubject = null; renderForm(); } }, 'remove'))
    : null;
  replace(els.form,
    h('fieldset', {}, h('legend', {}, 'To'), to),
    subjectRow,
    h('label', { for: 'msg-text' }, 'Message'), text,
    h('div', { class: 'buttons' },
      h('label', { for: 'msg-urgency' }, 'Urgency '), urgency,
      h('button', { type: 'submit', id: 'msg-send' }, 'Send'),
      h('button', { type: 'button', class: 'secondary', id: 'line-check', onclick: () => lineCheck() }, 'Line check')));
  els.form.onsubmit = async (e) => {
    e.preventDefault();
    const fd = new FormData(els.form);
    const body = { to: fd.getAll('to'), text: String(fd.get('text')).trim(), urgency: fd.get('urgency') };
    if (!body.text || body.to.length === 0) return;
    if (state.hotlineSubject) body.subject = state.hotlineSubject;
    await sendMessage(body);
    state.hotlineSubject = null;
    renderForm();
  };
}

function render() {
  const threads = new Map();
  for (const m of state.messages) {
    const key = m.kind === 'line_check' ? 'line-check' : m.subject ? `${m.subject.kind}:${m.subject.id}` : 'general';
    if (!threads.has(key)) threads.set(key, { title: m.kind === 'line_check' ? 'Line checks' : subjectName(m.subject), messages: [] });
    threads.get(key).messages.push(m);
  }
  const sorted = [...threads.values()].map((t) => {
    t.messages.sort((a, b) => a.sent_at.localeCompare(b.sent_at));
    t.last = t.messages[t.messages.length - 1].sent_at;
    t.pending = t.messages.some(needsMyAck);
    return t;
  }).sort((a, b) => (b.pending - a.pending) || b.last.localeCompare(a.last));
  replace(els.threads, sorted.length === 0 ? h('p', { class: 'empty' }, 'No message yet.') : sorted.map((t) => h('section', { class: `thread${t.pending ? ' pending' : ''}` },
    h('h3', {}, t.title, t.pending ? h('span', { class: 'badge danger' }, 'to acknowledge') : null),
    h('ol', { class: 'messages' }, t.messages.map(messageItem)))));
}

function needsMyAck(m) {
  const p = state.me?.party;
  return !!p && m.to.includes(p) && !m.acknowledged?.[p];
}

function messageItem(m) {
  const mine = state.me?.party && m.to.includes(state.me.party);
  return h('li', { class: `message urgency-${m.urgency}${m.from.party === state.me?.party ? ' outgoing' : ''}`, 'data-message': m.id },
    h('div', { class: 'meta' },
      h('strong', {}, `${m.from.party} ${m.from.role}`), ` → ${m.to.join(', ')} · ${fmtTime(m.sent_at)} `,
      m.urgency === 'urgent' ? h('span', { class: 'badge danger' }, 'URGENT') : null,
      m.kind === 'line_check' ? h('span', { class: 'badge quiet' }, 'line check') : null),
    h('p', { class: 'text' }, m.text),
    h('div', { class: 'acks small' },
      m.to.map((p) => h('span', { class: m.acknowledged?.[p] ? 'acked' : 'pending' }, `${p}: ${m.acknowledged?.[p] ? `✓ ${fmtTime(m.acknowledged[p])}` : 'not acknowledged'} `)),
      mine && !m.acknowledged?.[state.me.party] && can.acknowledge()
        ? h('button', { type: 'button', class: 'small ack-message', onclick: () => ackMessage(m) }, 'Acknowledge')
        : null));
}
