// The live event stream. GET /v1/events is Server-Sent Events behind a
// bearer token, which EventSource cannot send; so the stream is read with
// fetch() and parsed here, and resumed with Last-Event-ID after a break.
//
// The console does not replay the whole history on connecting: it reads
// the current state from the list endpoints and follows the stream from
// the latest event at that time. The latest sequence number is the size of
// the log (every event is one entry of the record, section 9 of the
// contract), read from the signed checkpoint: cheap whatever the history.

import { token } from './api.js';

/**
 * EventStream follows /v1/events, calling onEvent(event) for each event
 * and onStatus('live' | 'connecting' | 'offline' | 'unauthenticated').
 */
export class EventStream {
  /** after, if given, is the sequence number to follow the stream from (the events after it). */
  constructor({ onEvent, onStatus, after = null }) {
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.lastID = after === null || after === undefined ? null : String(after);
    this.retryMs = 2000;
    this.abort = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.loop();
  }

  stop() {
    this.stopped = true;
    this.abort?.abort();
  }

  async loop() {
    while (!this.stopped) {
      this.onStatus('connecting');
      try {
        await this.connect();
      } catch (err) {
        if (this.stopped) return;
        if (err.status === 401) {
          this.onStatus('unauthenticated');
          return;
        }
      }
      if (this.stopped) return;
      this.onStatus('offline');
      await new Promise((r) => setTimeout(r, this.retryMs));
    }
  }

  async connect() {
    this.abort = new AbortController();
    const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${token()}` };
    if (this.lastID !== null) headers['Last-Event-ID'] = this.lastID;
    const resp = await fetch('/v1/events', { headers, signal: this.abort.signal, cache: 'no-store' });
    if (!resp.ok) throw Object.assign(new Error(`HTTP ${resp.status}`), { status: resp.status });
    this.onStatus('live');
    const parser = new SSEParser((msg) => this.dispatch(msg));
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.push(value);
    }
  }

  dispatch(msg) {
    if (msg.retry !== undefined) this.retryMs = msg.retry;
    if (msg.id !== undefined) this.lastID = msg.id;
    if (msg.data === undefined) return;
    let ev;
    try { ev = JSON.parse(msg.data); } catch { return; }
    if (!ev.type && msg.event) ev.type = msg.event;
    this.onEvent(ev);
  }
}

/**
 * checkpointSize reads the tree size (the number of events recorded, so the
 * sequence number of the latest) from a checkpoint of GET /v1/log/checkpoint:
 * a signed note whose second line is the size. It answers null when the
 * text is not a checkpoint.
 */
export function checkpointSize(text) {
  const lines = String(text ?? '').split('\n');
  if (lines.length < 3 || !/^\d{1,18}$/.test(lines[1])) return null;
  return Number(lines[1]);
}

/**
 * SSEParser splits a text/event-stream into messages
 * ({id, event, data, retry}), following the HTML standard's rules: lines
 * end with CR, LF or CRLF; a blank line ends a message; comments start
 * with a colon.
 */
export class SSEParser {
  constructor(onMessage) {
    this.onMessage = onMessage;
    this.buf = '';
    this.reset();
  }

  reset() { this.msg = {}; this.data = null; }

  push(chunk) {
    this.buf += chunk;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (!m) return;
      // A CR at the very end may be the first half of a CRLF.
      if (m[0] === '\r' && m.index === this.buf.length - 1) return;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      this.line(line);
    }
  }

  line(line) {
    if (line === '') {
      if (this.data !== null) this.msg.data = this.data;
      if (Object.keys(this.msg).length > 0) this.onMessage(this.msg);
      this.reset();
      return;
    }
    if (line.startsWith(':')) return;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data': this.data = this.data === null ? value : `${this.data}\n${value}`; break;
      case 'id': if (!value.includes('\0')) this.msg.id = value; break;
      case 'event': this.msg.event = value; break;
      case 'retry': if (/^\d+$/.test(value)) this.msg.retry = Number(value); break;
      default: break;
    }
  }
}
