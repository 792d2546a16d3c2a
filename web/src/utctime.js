// Times as the console shows and reads them: always UTC, written
// "2026-11-25 14:05Z". A browser's own date-time input shows local time in
// the user's locale, which is ambiguous between parties in different zones;
// these are plain text fields that take UTC only.

const pad = (n) => String(n).padStart(2, '0');

/** formatUTC writes a Date as "2026-11-25 14:05Z" (seconds only when not zero). */
export function formatUTC(d) {
  const s = d.getUTCSeconds();
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}${s ? `:${pad(s)}` : ''}Z`;
}

const UTC_RE = /^(\d{4})-(\d{2})-(\d{2})[T ]+(\d{2}):(\d{2})(?::(\d{2}))?\s*(Z|UTC|\+00:?00)?$/i;

/**
 * parseUTC reads "YYYY-MM-DD HH:MM[:SS][Z]" (a "T" may separate date and
 * time; "Z", "UTC" or "+00:00" may end it; without, it is UTC all the same)
 * and answers {date} or {error} with a sentence saying what is wrong. An
 * offset other than UTC is refused rather than converted, so that no one
 * types a local time believing it is taken as such.
 */
export function parseUTC(text) {
  const t = String(text ?? '').trim();
  if (!t) return { error: 'a time is needed, in UTC: YYYY-MM-DD HH:MMZ' };
  if (/[+-]\d{2}:?\d{2}$/.test(t) && !/\+00:?00$/.test(t)) return { error: 'times are UTC: write them without an offset, ending with Z' };
  const m = UTC_RE.exec(t);
  if (!m) return { error: 'not a time: write it as YYYY-MM-DD HH:MMZ, in UTC' };
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((x) => Number(x ?? 0));
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const date = new Date(ms);
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d ||
      date.getUTCHours() !== h || date.getUTCMinutes() !== mi || date.getUTCSeconds() !== s) {
    return { error: 'no such date or time' };
  }
  return { date };
}

/** stepUTC moves the time in text by minutes, for the arrow keys; it answers text unchanged if it is not a time. */
export function stepUTC(text, minutes) {
  const { date } = parseUTC(text);
  return date ? formatUTC(new Date(date.getTime() + minutes * 60e3)) : text;
}

/** rfc3339 writes a Date as the API takes it: "2026-11-25T14:05:00Z". */
export function rfc3339(d) {
  return d.toISOString().replace('.000Z', 'Z');
}
