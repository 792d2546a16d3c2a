// The escalation banner: every open escalation the caller may see, until
// it is cleared (by the acknowledgement it waits for). It cannot be
// dismissed; it offers the acknowledgement when the caller may give it.

import { h, replace, fmtTime } from './dom.js';
import { can, emit, on, opLabel, state } from './state.js';
import { ackConflict, ackMessage, ackOperation } from './actions.js';
import { focusOperation, select } from './map.js';

let root;

export function initBanner(el) {
  root = el;
  on('escalations', render);
  on('operations', render);
  on('conflicts', render);
  on('messages', render);
  render();
}

function subjectText(e) {
  const s = e.subject;
  if (s.kind === 'operation') return `declaration of ${opLabel(s.id)}`;
  if (s.kind === 'conflict') {
    const c = state.conflicts.get(s.id);
    return c ? `conflict ${c.operations.map((id) => opLabel(id)).join(' × ')}` : `conflict ${s.id.slice(0, 8)}`;
  }
  const m = state.messages.find((x) => x.id === s.id);
  return m ? `${m.kind === 'line_check' ? 'line check' : 'hotline message'} from ${m.from.party}` : 'hotline message';
}

function action(e) {
  const s = e.subject;
  const mine = e.party === state.me?.party && can.acknowledge();
  if (s.kind === 'operation') {
    const op = state.operations.get(s.id);
    if (!op) return null;
    if (mine) return h('button', { type: 'button', class: 'small', onclick: () => ackOperation(op).then(() => emit('receipts')) }, 'Acknowledge');
    return h('button', { type: 'button', class: 'small secondary', onclick: () => { select(op.id); focusOperation(op); } }, 'Show');
  }
  if (s.kind === 'conflict') {
    const c = state.conflicts.get(s.id);
    if (c && mine) return h('button', { type: 'button', class: 'small', onclick: () => ackConflict(c) }, 'Acknowledge');
    return h('button', { type: 'button', class: 'small secondary', onclick: () => emit('show-conflicts') }, 'Show');
  }
  const m = state.messages.find((x) => x.id === s.id);
  if (m && mine) return h('button', { type: 'button', class: 'small', onclick: () => ackMessage(m) }, 'Acknowledge');
  return h('button', { type: 'button', class: 'small secondary', onclick: () => emit('show-hotline') }, 'Show');
}

function render() {
  const es = [...state.escalations].sort((a, b) => (b.level - a.level) || a.raised_at.localeCompare(b.raised_at));
  root.hidden = es.length === 0;
  if (es.length === 0) { replace(root); return; }
  replace(root,
    h('strong', { class: 'banner-title' }, `⚠ ${es.length} escalated — unanswered past the acknowledgement timeout`),
    h('ul', {}, es.map((e) => h('li', { class: `level-${e.level}`, 'data-escalation': e.id },
      h('span', { class: 'badge' }, `level ${e.level}`), ' ',
      h('strong', {}, e.party), ` has not acknowledged the ${subjectText(e)} (since ${fmtTime(e.raised_at)}) `,
      action(e)))));
}
