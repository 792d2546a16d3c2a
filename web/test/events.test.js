import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SSEParser } from '../src/events.js';

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
