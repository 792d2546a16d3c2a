// The conflicts panel: every conflict the caller may see, filtered by
// status, with acknowledgement and waiver per party.

import { h, redraw, replace, fmtTime } from './dom.js';
import { can, emit, on, opLabel, state } from './state.js';
import { focusOperation, select, separationText } from './map.js';
import { ackConflict, waiveConflict } from './actions.js';

let els;
let status = 'open';

export function initConflicts(root) {
  els = {
    status: h('select', { id: 'conflict-status', 'aria-label': 'Conflict status' },
      ['open', 'resolved', 'waived', 'all'].map((s) => h('option', { value: s }, s))),
    list: h('ul', { class: 'list cards', id: 'conflict-list', 'aria-label': 'Conflicts' }),
  };
  els.status.addEventListener('change', () => { status = els.status.value; render(); });
  replace(root, h('div', { class: 'filters' }, h('label', { for: 'conflict-status' }, 'Status '), els.status), els.list);
  on('conflicts', render);
  on('operations', render);
}

function render() {
  const cs = [...state.conflicts.values()]
    .filter((c) => status === 'all' || c.status === status)
    .sort((a, b) => b.detected_at.localeCompare(a.detected_at));
  redraw(els.list, cs.length ? cs.map((c) => h('li', {}, conflictCard(c))) : h('li', { class: 'empty' }, `No ${status === 'all' ? '' : status + ' '}conflict.`));
}

/** conflictCard shows a conflict with the buttons the caller's role allows. */
export function conflictCard(c) {
  const ops = c.operations.map((id) => state.operations.get(id));
  const mine = state.me?.party && c.parties.includes(state.me.party) ? state.me.party : null;
  const buttons = [];
  if (mine && c.status === 'open' && can.acknowledge()) {
    const done = !!c.acknowledged?.[mine];
    buttons.push(h('button', { type: 'button', class: 'ack-conflict', 'data-conflict': c.id, disabled: done, onclick: () => ackConflict(c) },
      done ? 'Acknowledged' : 'Acknowledge'));
  }
  if (mine && c.status === 'open' && can.waive()) {
    const done = !!c.waived?.[mine];
    buttons.push(h('button', { type: 'button', class: 'danger waive-conflict', disabled: done, onclick: () => { if (confirm('Waive this conflict for your party?')) waiveConflict(c); } },
      done ? 'Waived' : 'Waive'));
  }
  if (can.hotline()) {
    buttons.push(h('button', { type: 'button', class: 'secondary', onclick: () => { state.hotlineSubject = { kind: 'conflict', id: c.id }; emit('compose'); } }, 'Message'));
  }
  return h('article', { class: `conflict status-${c.status}`, 'data-conflict': c.id },
    h('header', {},
      h('strong', {}, ops.map((op, i) => [i ? ' × ' : '', op
        ? h('a', { href: '#', onclick: (e) => { e.preventDefault(); select(op.id); focusOperation(state.operations.get(op.id) ?? op); } }, opLabel(op))
        : c.operations[i].slice(0, 8)])),
      h('span', { class: `badge ${c.status === 'open' ? 'danger' : 'quiet'}` }, c.status)),
    h('p', { class: 'separation' }, '⚠ ', separationText(c)),
    h('table', { class: 'parties' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Party'), h('th', {}, 'Acknowledged'), h('th', {}, 'Waived'))),
      h('tbody', {}, c.parties.map((p) => h('tr', {},
        h('th', { scope: 'row' }, p),
        h('td', {}, c.acknowledged?.[p] ? fmtTime(c.acknowledged[p]) : h('span', { class: 'pending' }, 'pending')),
        h('td', {}, c.waived?.[p] ? fmtTime(c.waived[p]) : '—'))))),
    h('p', { class: 'muted small' }, `Detected ${fmtTime(c.detected_at)}${c.closed_at ? `, closed ${fmtTime(c.closed_at)}` : ''}`),
    buttons.length ? h('div', { class: 'buttons' }, buttons) : null);
}
