// What a user may do, as API calls: each returns a promise and reports
// its outcome in the status line; the event stream then refreshes the
// views.

import { APIError, download, post, request } from './api.js';
import { applyOperation, loadConflicts, loadEscalations, loadMessages, loadOperations, state } from './state.js';

let notify = () => {};
/** setNotifier sets the function that shows outcomes: notify(text, kind). */
export function setNotifier(fn) { notify = fn; }
export const say = (text, kind = 'info') => notify(text, kind);

/**
 * run runs an action, showing its outcome or its error; it answers the
 * action's result, or undefined after an error unless rethrow is set;
 * failed names the action in the error message (what by default).
 */
export async function run(what, fn, { rethrow = false, failed = what } = {}) {
  try {
    const out = await fn();
    say(what, 'ok');
    return out;
  } catch (err) {
    say(describe(err, failed), 'error');
    if (rethrow) throw err;
    return undefined;
  }
}

/**
 * unresolvedText explains a 409 conflict_unresolved: which operations the
 * operation is still in open conflict with, and what would let it become
 * active. The answer lists the open conflicts (contract section 2.2).
 */
export function unresolvedText(err, opID) {
  const cs = err.body?.error?.conflicts ?? err.body?.conflicts ?? [];
  const others = cs.map((c) => {
    const other = c.operations.find((id) => id !== opID) ?? c.operations[0];
    const op = state.operations.get(other);
    const party = op?.party ?? c.parties.find((p) => p !== state.operations.get(opID)?.party) ?? '';
    const name = op?.callsign || `${party} operation ${other.slice(0, 8)}`;
    const waiting = c.parties.filter((p) => !c.waived?.[p]);
    return `${name}${party ? ` (${party})` : ''}${waiting.length ? `, not yet waived by ${waiting.join(' and ')}` : ''}`;
  });
  const self = state.operations.get(opID)?.callsign || 'The operation';
  if (others.length === 0) return `${self} is still in an open conflict.`;
  return `${self} is still in open conflict with ${others.join('; ')}. It can become active once the heads of both parties have waived the conflict, or once the operations no longer conflict.`;
}

/** describe turns an error into a sentence for the user. */
export function describe(err, what = '') {
  if (!(err instanceof APIError)) return `${what}: ${err.message}`;
  if (err.code === 'conflict_unresolved' && err.opID) return `${what ? `${what} failed: ` : ''}${unresolvedText(err, err.opID)}`;
  const hint = {
    version_mismatch: 'the operation changed meanwhile; it was reloaded, try again',
    conflict_unresolved: 'it is still in an open conflict: the conflict must be resolved or waived by the heads first',
    permission_denied: 'your role may not do this',
    unauthenticated: 'your token is not valid any more; sign in again',
    rate_limited: 'too many requests; wait a moment',
  }[err.code];
  return `${what ? `${what} failed: ` : ''}${err.message}${hint ? ` (${hint})` : ''}`;
}

/** declarationOf returns the body that replaces an operation, with a new state. */
function declarationOf(op, newState) {
  const d = { volumes: op.volumes, state: newState, priority: op.priority ?? 0, share_callsign: !!op.share_callsign };
  if (op.callsign) d.callsign = op.callsign;
  if (op.notes) d.notes = op.notes;
  return d;
}

/**
 * changeState moves an own operation to active or ended, with If-Match; an
 * error is reported and, with rethrow, thrown on (err.opID names the
 * operation).
 */
export function changeState(op, newState, { rethrow = false } = {}) {
  const name = op.callsign || op.id.slice(0, 8);
  const [done, doing] = { active: ['Activated', 'Activating'], ended: ['Ended', 'Ending'] }[newState] ?? [newState, newState];
  return run(`${done} ${name}`, async () => {
    try {
      const r = await request('PUT', `/v1/operations/${op.id}`, { body: declarationOf(op, newState), headers: { 'If-Match': `"${op.version}"` } });
      applyOperation(r.body.operation);
      return r.body;
    } catch (err) {
      err.opID = op.id;
      if (err.code === 'version_mismatch') await loadOperations();
      throw err;
    } finally {
      loadConflicts().catch(() => {});
    }
  }, { rethrow, failed: `${doing} ${name}` });
}

/**
 * overrideActivation records a head's decision to activate an own
 * operation while a peer node is unreachable, with the reason (on the
 * record for every party).
 */
export function overrideActivation(op, reason) {
  return run(`Override recorded for ${op.callsign || op.id.slice(0, 8)}`, () => post(`/v1/operations/${op.id}/override`, { reason }));
}

/** cancel cancels an own operation (DELETE with If-Match). */
export function cancel(op) {
  return run(`Cancelled ${op.callsign || op.id.slice(0, 8)}`, async () => {
    try {
      return (await request('DELETE', `/v1/operations/${op.id}`, { headers: { 'If-Match': `"${op.version}"` } })).body;
    } catch (err) {
      if (err.code === 'version_mismatch') await loadOperations();
      throw err;
    }
  });
}

/** declare creates an operation. */
export function declare(id, body) {
  return run(`Declared ${body.callsign || id.slice(0, 8)}`, async () => {
    const r = await request('PUT', `/v1/operations/${id}`, { body });
    applyOperation(r.body.operation);
    return r.body;
  }, { rethrow: true });
}

export const ackOperation = (op) => run(`Acknowledged ${op.callsign || op.id.slice(0, 8)} v${op.version}`, async () => {
  const r = await post(`/v1/operations/${op.id}/ack`, { version: op.version });
  state.receipts.add(`${op.id}:${op.version}:${state.me.party}`);
  loadEscalations().catch(() => {});
  return r;
});

export const ackConflict = (c) => run('Acknowledged the conflict', async () => {
  const r = await post(`/v1/conflicts/${c.id}/ack`);
  state.conflicts.set(c.id, r.conflict);
  loadConflicts().catch(() => {});
  loadEscalations().catch(() => {});
  return r;
});

export const waiveConflict = (c) => run('Waived the conflict for your party', async () => {
  const r = await post(`/v1/conflicts/${c.id}/waive`);
  state.conflicts.set(c.id, r.conflict);
  loadConflicts().catch(() => {});
  return r;
});

export const ackMessage = (m) => run('Acknowledged the message', async () => {
  const r = await post(`/v1/hotline/messages/${m.id}/ack`);
  loadMessages().catch(() => {});
  loadEscalations().catch(() => {});
  return r;
});

export const sendMessage = (body) => run(body.urgency === 'urgent' ? 'Urgent message sent' : 'Message sent', async () => {
  const r = await post('/v1/hotline/messages', body);
  loadMessages().catch(() => {});
  return r;
});

export const lineCheck = () => run('Line check sent to every other party', async () => {
  const r = await post('/v1/hotline/check');
  loadMessages().catch(() => {});
  return r;
});

export const evidence = (op) => run(`Evidence of ${op.callsign || op.id.slice(0, 8)} downloaded`,
  () => download(`/v1/evidence/operations/${op.id}`, `evidence-${op.callsign ? op.callsign.replace(/[^A-Za-z0-9-]+/g, '_') + '-' : ''}${op.id}.json`));
