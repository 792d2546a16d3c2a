// The console's picture of the mechanism: what the caller may see, kept
// up to date from the API and the event stream. Views subscribe to the
// parts they draw.

import { all, get } from './api.js';

const listeners = new Map();

export const state = {
  me: null, // {party, role, token_id}
  parties: [], // [{id, name}]
  settings: null,
  operations: new Map(), // id → operation
  conflicts: new Map(), // id → conflict
  messages: [],
  escalations: [], // open ones
  receipts: new Set(), // "op:version:party"
  events: [], // the latest events, newest last
  time: Date.now(), // the time the map shows
  selected: null, // operation id
  showEnded: false,
  lastSeq: 0,
  staleParties: new Set(), // parties whose federation node is unreachable (peers.js)
};

/** on calls fn whenever topic changes ('operations', 'conflicts', …, or '*'). */
export function on(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(fn);
}

/** emit tells the listeners of topic (and of '*'). */
export function emit(topic) {
  for (const fn of listeners.get(topic) ?? []) fn();
  for (const fn of listeners.get('*') ?? []) fn(topic);
}

export const can = {
  declare: () => state.me?.role === 'operator' && !!state.me.party,
  acknowledge: () => ['liaison', 'head'].includes(state.me?.role) && !!state.me.party,
  waive: () => state.me?.role === 'head' && !!state.me.party,
  hotline: () => ['liaison', 'head'].includes(state.me?.role) && !!state.me.party,
  seeAll: () => ['observer', 'admin'].includes(state.me?.role),
};

/** isMine reports whether an operation belongs to the caller's party. */
export const isMine = (op) => !!state.me?.party && op.party === state.me.party;

const PALETTE = ['#1f5fbf', '#5f6f12', '#7b3fa0', '#b35900', '#00796b', '#6d4c41', '#ad1457', '#37474f'];

/** partyColour returns the colour of a party: stable, by its place among the parties. */
export function partyColour(id) {
  const i = state.parties.findIndex((p) => p.id === id);
  if (i >= 0) return PALETTE[i % PALETTE.length];
  let h = 0;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

export const partyName = (id) => state.parties.find((p) => p.id === id)?.name ?? id;

/** opLabel names an operation: its callsign if the caller may see it, else its party and a short id. */
export function opLabel(op) {
  if (typeof op === 'string') op = state.operations.get(op) ?? { id: op, party: 'operation' };
  if (!op || !op.id) return 'unknown operation';
  return op.callsign || `${op.party} ${op.id.slice(0, 8)}`;
}

/** opWindow returns [start, end] in ms of an operation's volumes. */
export function opWindow(op) {
  let s = Infinity, e = -Infinity;
  for (const v of op.volumes) {
    s = Math.min(s, Date.parse(v.time_start.value));
    e = Math.max(e, Date.parse(v.time_end.value));
  }
  return [s, e];
}

/** liveAt reports whether one of the operation's volumes spans time t (ms). */
export function liveAt(op, t) {
  return op.volumes.some((v) => Date.parse(v.time_start.value) <= t && t < Date.parse(v.time_end.value));
}

// The reloads of each list are numbered as they start. Their answers can
// arrive out of order; one whose reload was followed by another is
// dropped, since the later one read a state at least as new.
const reloads = new Map(); // topic → number of the latest reload

/** reload starts a reload of topic; the function it answers reports whether it is still the latest. */
function reload(topic) {
  const n = (reloads.get(topic) ?? 0) + 1;
  reloads.set(topic, n);
  return () => reloads.get(topic) === n;
}

// The highest version of each operation the console has seen (id →
// version), from the stream, the answers to its own changes and the lists,
// kept after the operation leaves the list. The three race: an answer or
// a list read before a change the console has already applied must not
// bring back an older version, nor an operation that ended.
const versions = new Map();

/** listed reports whether the operations list holds an operation in its state. */
const listed = (op) => state.showEnded || op.state === 'planned' || op.state === 'active';

/**
 * applyOperation applies an operation as an event or an answer carries it:
 * it replaces the one in state.operations, or removes it when the list
 * does not hold its state (ended, cancelled), unless a newer version was
 * seen already. It answers whether it applied it.
 *
 * An event's operation leaves out the notes, which the record does not
 * keep. The console keeps those it has (a reload follows every event):
 * otherwise the detail would lose its Notes line until the reload and the
 * buttons under it would move twice, under the user's pointer.
 */
export function applyOperation(op) {
  const seen = versions.get(op.id) ?? 0;
  if (seen > op.version) return false;
  const cur = state.operations.get(op.id);
  if (!('notes' in op) && cur?.notes !== undefined) {
    if (seen === op.version) return false; // the console has this version, notes and all
    op = { ...op, notes: cur.notes };
  }
  versions.set(op.id, op.version);
  if (listed(op)) state.operations.set(op.id, op);
  else state.operations.delete(op.id);
  return true;
}

export async function loadOperations() {
  const latest = reload('operations');
  const states = state.showEnded ? ['planned', 'active', 'ended', 'cancelled'] : ['planned', 'active'];
  const ops = await all(`/v1/operations?${states.map((s) => `state=${s}`).join('&')}`, 'operations');
  if (!latest()) return;
  const next = new Map();
  for (const o of ops) {
    if ((versions.get(o.id) ?? 0) > o.version) {
      // Read before a change the console applied meanwhile: that stands.
      const cur = state.operations.get(o.id);
      if (cur) next.set(o.id, cur);
      continue;
    }
    versions.set(o.id, o.version);
    if (listed(o)) next.set(o.id, o);
  }
  state.operations = next;
  emit('operations');
}

export async function loadConflicts() {
  const latest = reload('conflicts');
  const cs = await all('/v1/conflicts', 'conflicts');
  if (!latest()) return;
  state.conflicts = new Map(cs.map((c) => [c.id, c]));
  emit('conflicts');
}

export async function loadMessages() {
  const latest = reload('messages');
  const ms = await all('/v1/hotline/messages', 'messages');
  if (!latest()) return;
  state.messages = ms;
  emit('messages');
}

export async function loadEscalations() {
  const latest = reload('escalations');
  const es = (await get('/v1/escalations?status=open')).escalations ?? [];
  if (!latest()) return;
  state.escalations = es;
  emit('escalations');
}

export async function loadSettings() {
  const latest = reload('settings');
  const s = await get('/v1/settings');
  if (!latest()) return;
  state.settings = s;
  emit('settings');
}

export async function loadParties() {
  const latest = reload('parties');
  const ps = ((await get('/v1/parties')).parties ?? []).sort((a, b) => a.id.localeCompare(b.id));
  if (!latest()) return;
  state.parties = ps;
  emit('parties');
}

/** hasReceipt reports whether party acknowledged that version of the operation. */
export const hasReceipt = (opID, version, party) => state.receipts.has(`${opID}:${version}:${party}`);
