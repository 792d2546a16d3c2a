import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOperation, loadOperations, state } from '../src/state.js';
import { changeState } from '../src/actions.js';

// The console's picture of the operations is fed by three things that race:
// the event stream, the answers to its own changes, and the lists it reloads
// after events. These tests hold answers back to put them in the orders a
// loaded machine can produce, and check that the list ends up as the server
// has it.

globalThis.sessionStorage = { getItem: () => 'dcf_test', setItem() {}, removeItem() {} };

// server stands for the API: each request waits until the test answers it.
const server = {
  pending: [], // [{method, path, answer(status, body)}]
  waiters: [],
  take(method, prefix) {
    const i = this.pending.findIndex((r) => r.method === method && r.path.startsWith(prefix));
    if (i >= 0) return Promise.resolve(this.pending.splice(i, 1)[0]);
    return new Promise((resolve) => this.waiters.push({ method, prefix, resolve }));
  },
};
globalThis.fetch = (path, { method = 'GET' } = {}) => new Promise((resolve) => {
  const req = {
    method, path,
    answer: (status, body) => resolve(new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })),
  };
  const w = server.waiters.findIndex((x) => x.method === method && path.startsWith(x.prefix));
  if (w >= 0) server.waiters.splice(w, 1)[0].resolve(req);
  else server.pending.push(req);
});

// Every answer of GET /v1/conflicts is empty: these tests are about operations.
async function answerConflicts() {
  for (;;) (await server.take('GET', '/v1/conflicts')).answer(200, { conflicts: [] });
}
answerConflicts();

let n = 0;
function operation(callsign, version, opState) {
  n++;
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, party: 'olive', version, state: opState, callsign,
    volumes: [{ volume: {}, time_start: { value: '2026-01-01T10:00:00Z' }, time_end: { value: '2026-01-01T11:00:00Z' } }],
  };
}
const again = (op, version, opState) => ({ ...op, version, state: opState });

// list loads the operations list, answering it with ops.
async function list(ops) {
  const loading = loadOperations();
  (await server.take('GET', '/v1/operations?')).answer(200, { operations: ops });
  await loading;
}

test('the answer to ending an operation, arriving after the list reloaded without it, does not bring it back', async () => {
  const op = operation('OLIVE 31', 2, 'active');
  await list([op]);
  const ending = changeState(op, 'ended');
  const put = await server.take('PUT', `/v1/operations/${op.id}`);
  // The event of the end came first and the list was reloaded: it is gone.
  await list([]);
  assert.equal(state.operations.has(op.id), false);
  put.answer(200, { operation: again(op, 3, 'ended'), conflicts: [] });
  await ending;
  assert.equal(state.operations.has(op.id), false, 'the ended operation is listed again');
});

test('a list read before an operation ended, answering after a later one, does not bring it back', async () => {
  const op = operation('OLIVE 41', 2, 'active');
  await list([op]);
  const first = loadOperations();
  const older = await server.take('GET', '/v1/operations?');
  const second = loadOperations();
  const newer = await server.take('GET', '/v1/operations?');
  newer.answer(200, { operations: [] });
  await second;
  older.answer(200, { operations: [op] });
  await first;
  assert.equal(state.operations.has(op.id), false, 'the older list put the ended operation back');
});

test('the answer to activating, arriving after the events of its activation and end, does not bring it back', async () => {
  const op = operation('OLIVE 51', 1, 'planned');
  await list([op]);
  const activating = changeState(op, 'active');
  const put = await server.take('PUT', `/v1/operations/${op.id}`);
  assert.equal(applyOperation(again(op, 2, 'active')), true);
  assert.equal(applyOperation(again(op, 3, 'ended')), true);
  put.answer(200, { operation: again(op, 2, 'active'), conflicts: [] });
  await activating;
  assert.equal(state.operations.has(op.id), false, 'the late answer listed the ended operation as active');
});

test('a list read before a change the console applied keeps the newer version', async () => {
  const op = operation('OLIVE 61', 1, 'planned');
  await list([op]);
  const loading = loadOperations();
  const older = await server.take('GET', '/v1/operations?');
  assert.equal(applyOperation(again(op, 2, 'active')), true);
  older.answer(200, { operations: [op] });
  await loading;
  assert.equal(state.operations.get(op.id)?.state, 'active');
  assert.equal(applyOperation(op), false, 'an older version was applied');
  assert.equal(state.operations.get(op.id)?.version, 2);
});

test('an event, which leaves out the notes, does not take them from the operation', async () => {
  const op = { ...operation('OLIVE 71', 1, 'planned'), notes: 'medevac standby' };
  await list([op]);
  const { notes, ...event } = again(op, 1, 'planned');
  assert.equal(notes, 'medevac standby');
  applyOperation(event);
  assert.equal(state.operations.get(op.id)?.notes, 'medevac standby', 'the event of the same version dropped the notes');
  applyOperation({ ...event, version: 2, state: 'active' });
  assert.equal(state.operations.get(op.id)?.state, 'active');
  assert.equal(state.operations.get(op.id)?.notes, 'medevac standby', 'the event of the next version dropped the notes');
  applyOperation({ ...op, version: 3, state: 'active', notes: 'moved north' });
  assert.equal(state.operations.get(op.id)?.notes, 'moved north');
});
