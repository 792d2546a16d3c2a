import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventStream, SSEParser, checkpointSize } from '../src/events.js';

test('SSE messages split across chunks, comments and CRLF', () => {
  const got = [];
  const p = new SSEParser((m) => got.push(m));
  p.push(': deconflict event stream\nretry: 2000\n\n');
  p.push('id: 7\nevent: operation.declared\nda');
  p.push('ta: {"seq":7}\r');
  p.push('\n\r\nid: 8\ndata: a\ndata: b\n');
  assert.equal(got.length, 2);
  p.push('\n');
  assert.deepEqual(got, [
    { retry: 2000 },
    { id: '7', event: 'operation.declared', data: '{"seq":7}' },
    { id: '8', data: 'a\nb' },
  ]);
});

test('checkpointSize reads the size of the log from a checkpoint', () => {
  const cp = 'deconflict.example/log\n1234\nq2Gz1aXf0hN0n2m0qg1q2Gz1aXf0hN0n2m0qg1q2Gk=\n\n— deconflict.example/log+1a2b3c4d AAAA\n';
  assert.equal(checkpointSize(cp), 1234);
  assert.equal(checkpointSize('deconflict.example/log\n0\nhash\n\n'), 0);
  assert.equal(checkpointSize(''), null);
  assert.equal(checkpointSize('{"error": {"code": "internal"}}'), null);
  assert.equal(checkpointSize('origin\n-3\nhash\n'), null);
});

// fakeStream answers fetch() with an event stream whose body is the given
// chunks and then ends.
function fakeStream(chunks) {
  const body = new ReadableStream({
    start(c) {
      for (const x of chunks) c.enqueue(new TextEncoder().encode(x));
      c.close();
    },
  });
  return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
}

test('EventStream follows from the given seq and resumes with Last-Event-ID', async () => {
  globalThis.sessionStorage = { getItem: () => 'dcf_test' };
  const asked = [];
  const answers = [
    fakeStream(['retry: 1\n\n', 'id: 43\nevent: line.check\ndata: {"seq":43,"type":"line.check"}\n\n']),
    fakeStream(['id: 44\nevent: line.check\ndata: {"seq":44,"type":"line.check"}\n\n']),
  ];
  const realFetch = globalThis.fetch;
  const got = [];
  let s;
  const done = new Promise((resolve) => {
    globalThis.fetch = async (url, opts) => {
      asked.push({ url, lastID: opts.headers['Last-Event-ID'] ?? null, auth: opts.headers.Authorization });
      if (answers.length) return answers.shift();
      s.stop();
      resolve();
      throw new Error('stopped');
    };
  });
  try {
    s = new EventStream({ after: 42, onEvent: (e) => got.push(e.seq), onStatus: () => {} });
    s.start();
    await done;
  } finally {
    globalThis.fetch = realFetch;
  }
  assert.deepEqual(got, [43, 44]);
  assert.deepEqual(asked.map((a) => a.lastID), ['42', '43', '44']);
  assert.equal(asked[0].url, '/v1/events');
  assert.equal(asked[0].auth, 'Bearer dcf_test');
});
