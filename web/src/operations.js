// The operations panel: a filtered list, and the selected operation with
// what the caller's role may do to it.

import { h, redraw, replace, fmtTime } from './dom.js';
import { can, emit, hasReceipt, isMine, liveAt, loadOperations, on, opLabel, opWindow, partyColour, partyName, state } from './state.js';
import { focusOperation, select } from './map.js';
import { ackOperation, cancel, changeState, evidence, overrideActivation, unresolvedText } from './actions.js';
import { toMetres } from './geometry.js';
import { conflictCard } from './conflicts.js';

let els;
const filter = { party: '', text: '', liveOnly: false };
// Why an operation could not be activated (id → text), shown in its detail
// while it still has open conflicts.
const refusals = new Map();

export function initOperations(root) {
  els = {
    party: h('select', { id: 'op-party', 'aria-label': 'Party' }),
    text: h('input', { type: 'search', id: 'op-search', placeholder: 'Callsign or id', 'aria-label': 'Search operations' }),
    live: h('input', { type: 'checkbox', id: 'op-live' }),
    ended: h('input', { type: 'checkbox', id: 'op-ended' }),
    detail: h('section', { class: 'detail', id: 'op-detail', 'aria-live': 'polite' }),
    list: h('ul', { class: 'list', id: 'op-list', 'aria-label': 'Operations' }),
  };
  els.party.addEventListener('change', () => { filter.party = els.party.value; renderList(); });
  els.text.addEventListener('input', () => { filter.text = els.text.value.trim().toLowerCase(); renderList(); });
  els.live.addEventListener('change', () => { filter.liveOnly = els.live.checked; renderList(); });
  els.ended.addEventListener('change', () => { state.showEnded = els.ended.checked; loadOperations(); });
  replace(root,
    els.detail,
    h('div', { class: 'filters' },
      els.party, els.text,
      h('label', { class: 'check' }, els.live, ' live at the chosen time'),
      h('label', { class: 'check' }, els.ended, ' ended and cancelled')),
    els.list);
  on('operations', () => { renderList(); renderDetail(); });
  on('conflicts', () => { renderList(); renderDetail(); });
  on('parties', renderParties);
  on('selected', () => { renderList(); renderDetail(); });
  on('time', () => { if (filter.liveOnly) renderList(); });
  on('receipts', renderDetail);
  renderParties();
}

function renderParties() {
  replace(els.party, h('option', { value: '' }, 'All parties'),
    state.parties.map((p) => h('option', { value: p.id, selected: filter.party === p.id }, p.name)));
}

const openConflictsOf = (id) => [...state.conflicts.values()].filter((c) => c.status === 'open' && c.operations.includes(id));

function renderList() {
  const ops = [...state.operations.values()]
    .filter((op) => !filter.party || op.party === filter.party)
    .filter((op) => !filter.text || (op.callsign ?? '').toLowerCase().includes(filter.text) || op.id.startsWith(filter.text))
    .filter((op) => !filter.liveOnly || liveAt(op, state.time))
    .sort((a, b) => opWindow(a)[0] - opWindow(b)[0]);
  if (ops.length === 0) {
    redraw(els.list, h('li', { class: 'empty' }, 'No operation matches.'));
    return;
  }
  redraw(els.list, ops.map((op) => {
    const [s, e] = opWindow(op);
    const nConf = openConflictsOf(op.id).length;
    const sw = h('span', { class: 'swatch', 'aria-hidden': 'true' });
    sw.style.background = partyColour(op.party);
    return h('li', {},
      h('button', {
        type: 'button', class: `row${state.selected === op.id ? ' selected' : ''}`, 'data-op': op.id,
        'aria-current': state.selected === op.id ? 'true' : null,
        onclick: () => { select(op.id); focusOperation(state.operations.get(op.id) ?? op); },
      },
      sw,
      h('span', { class: 'row-main' }, h('strong', {}, opLabel(op)), ' ', h('span', { class: 'muted' }, op.party)),
      h('span', { class: `badge state-${op.state}` }, op.state),
      nConf ? h('span', { class: 'badge danger' }, `${nConf} conflict${nConf > 1 ? 's' : ''}`) : null,
      h('span', { class: 'row-sub muted' }, `${fmtTime(s)} – ${fmtTime(e)}`)));
  }));
}

function altitudeText(vol) {
  const lo = vol.altitude_lower, hi = vol.altitude_upper;
  return lo.units === 'FT'
    ? `${lo.value}–${hi.value} ft (${Math.round(toMetres(lo))}–${Math.round(toMetres(hi))} m)`
    : `${lo.value}–${hi.value} m`;
}

function shapeText(vol) {
  if (vol.outline_circle) {
    const c = vol.outline_circle;
    return `circle ${(c.radius.value / 1000).toFixed(1)} km around ${c.center.lat.toFixed(3)}, ${c.center.lng.toFixed(3)}`;
  }
  return `polygon of ${vol.outline_polygon.vertices.length} vertices`;
}

function renderDetail() {
  const op = state.operations.get(state.selected);
  if (!op) {
    replace(els.detail);
    els.detail.hidden = true;
    return;
  }
  els.detail.hidden = false;
  const mine = isMine(op);
  const buttons = [];
  if (mine && can.declare()) {
    if (op.state === 'planned') buttons.push(h('button', { type: 'button', id: 'btn-activate', onclick: () => activate(op) }, 'Activate'));
    if (op.state === 'active') buttons.push(h('button', { type: 'button', id: 'btn-end', onclick: () => changeState(op, 'ended') }, 'End'));
    if (op.state === 'planned' || op.state === 'active') {
      buttons.push(h('button', {
        type: 'button', class: 'danger', id: 'btn-cancel',
        onclick: () => { if (confirm(`Cancel ${opLabel(op)}? This cannot be undone.`)) cancel(op); },
      }, 'Cancel operation'));
    }
  }
  if (mine && state.me.role === 'head' && op.state === 'planned' && state.staleParties.size > 0) {
    // A peer node is unreachable: activating needs a head's recorded
    // override, after coordinating by voice.
    buttons.push(h('button', {
      type: 'button', class: 'secondary', id: 'btn-override',
      onclick: () => {
        const reason = prompt(`A peer node (${[...state.staleParties].join(', ')}) is unreachable. Record why ${opLabel(op)} may be activated anyway:`, 'coordinated by voice over the hotline');
        if (reason && reason.trim()) overrideActivation(op, reason.trim()).then(() => { refusals.delete(op.id); renderDetail(); });
      },
    }, 'Record override'));
  }
  if (!mine && can.acknowledge() && op.party !== state.me.party) {
    const done = hasReceipt(op.id, op.version, state.me.party);
    buttons.push(h('button', { type: 'button', id: 'btn-ack-op', disabled: done, onclick: () => ackOperation(op).then(() => emit('receipts')) },
      done ? `Version ${op.version} acknowledged` : `Acknowledge version ${op.version}`));
  }
  buttons.push(h('button', { type: 'button', class: 'secondary', id: 'btn-evidence', onclick: () => evidence(op) }, 'Download evidence'));
  if (can.hotline()) {
    buttons.push(h('button', { type: 'button', class: 'secondary', onclick: () => { state.hotlineSubject = { kind: 'operation', id: op.id }; emit('compose'); } }, 'Message about it'));
  }
  const conflicts = openConflictsOf(op.id);
  if ((conflicts.length === 0 && state.staleParties.size === 0) || op.state !== 'planned') refusals.delete(op.id);
  const refusal = refusals.get(op.id);
  // Redrawn on every event: kept when it shows the same, which includes
  // the version the buttons act on.
  redraw(els.detail,
    h('header', {},
      h('h2', {}, opLabel(op)),
      h('button', { type: 'button', class: 'icon', 'aria-label': 'Close', onclick: () => select(null) }, '×')),
    h('dl', {},
      h('dt', {}, 'Party'), h('dd', {}, partyName(op.party)),
      h('dt', {}, 'State'), h('dd', {}, h('span', { class: `badge state-${op.state}` }, op.state), ` version ${op.version}, priority ${op.priority ?? 0}`),
      op.volumes.map((v, i) => [
        h('dt', {}, op.volumes.length > 1 ? `Volume ${i + 1}` : 'Volume'),
        h('dd', {}, shapeText(v.volume), h('br'), altitudeText(v.volume), h('br'), `${fmtTime(v.time_start.value)} – ${fmtTime(v.time_end.value)}`),
      ]),
      op.notes ? [h('dt', {}, 'Notes'), h('dd', {}, op.notes)] : null,
      h('dt', {}, 'Id'), h('dd', { class: 'mono' }, op.id)),
    refusal ? h('p', { class: 'refusal', id: 'op-refusal', role: 'alert' }, h('strong', {}, 'Not activated. '), refusal) : null,
    conflicts.length ? h('div', { class: 'detail-conflicts' }, h('h3', {}, 'Open conflicts'), conflicts.map((c) => conflictCard(c))) : null,
    h('div', { class: 'buttons' }, buttons));
}

/** activate asks for the operation to become active; a refusal for open conflicts stays in its detail. */
async function activate(op) {
  try {
    await changeState(op, 'active', { rethrow: true });
    refusals.delete(op.id);
  } catch (err) {
    if (err.code === 'peer_unreachable') {
      refusals.set(op.id, 'A peer node is unreachable; a head of your party must first record an override (after coordinating by voice).');
      if (state.selected === op.id) renderDetail();
      return;
    }
    if (err.code !== 'conflict_unresolved') return;
    refusals.set(op.id, unresolvedText(err, op.id));
    if (state.selected === op.id) renderDetail();
  }
}
