import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatUTC, parseUTC, rfc3339, stepUTC } from '../src/utctime.js';

test('formatUTC writes UTC with a Z, whatever the local zone', () => {
  const d = new Date(Date.UTC(2026, 10, 25, 14, 5));
  assert.equal(formatUTC(d), '2026-11-25 14:05Z');
  assert.equal(formatUTC(new Date(Date.UTC(2026, 0, 2, 3, 4, 5))), '2026-01-02 03:04:05Z');
  assert.equal(rfc3339(d), '2026-11-25T14:05:00Z');
});

test('parseUTC reads UTC in the forms people type', () => {
  const want = Date.UTC(2026, 10, 25, 14, 5);
  for (const t of ['2026-11-25 14:05Z', '2026-11-25T14:05Z', '2026-11-25 14:05', ' 2026-11-25 14:05 UTC ',
    '2026-11-25t14:05z', '2026-11-25T14:05:00Z', '2026-11-25 14:05+00:00']) {
    assert.equal(parseUTC(t).date?.getTime(), want, t);
  }
  assert.equal(parseUTC('2026-11-25 14:05:30Z').date.getTime(), want + 30e3);
});

test('parseUTC refuses local offsets, impossible dates and other text', () => {
  for (const t of ['2026-11-25 14:05+02:00', '2026-11-25T14:05-0500']) assert.match(parseUTC(t).error, /UTC/, t);
  for (const t of ['2026-02-30 10:00Z', '2026-11-25 24:00Z', '2026-11-25 10:60Z', '2026-13-01 00:00Z']) assert.equal(parseUTC(t).error, 'no such date or time', t);
  for (const t of ['', '   ', 'tomorrow', '25/11/2026 14:05', '2026-11-25', '14:05Z']) assert.ok(parseUTC(t).error, t);
  assert.ok(parseUTC(undefined).error);
});

test('stepUTC moves a time by minutes across days, and leaves other text alone', () => {
  assert.equal(stepUTC('2026-11-25 23:50Z', 15), '2026-11-26 00:05Z');
  assert.equal(stepUTC('2026-03-01 00:10Z', -15), '2026-02-28 23:55Z');
  assert.equal(stepUTC('not yet', 15), 'not yet');
});
