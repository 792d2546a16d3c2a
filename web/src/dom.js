// Small DOM helpers: elements are built with text nodes, never from HTML
// strings, so nothing a party typed can run as markup.

/**
 * h creates an element: h('button', {class: 'x', onclick: f}, 'text', child).
 * Attributes starting with "on" become listeners; booleans set or omit the
 * attribute; null and undefined children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** replace replaces the children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/**
 * redraw replaces the children of el unless the new ones show exactly what
 * the old ones do (the same elements, attributes and text), and answers
 * whether it replaced them. A view redrawn on every live event keeps its
 * nodes when nothing it shows changed: the browser clicks a button only
 * when the one pressed is the one released, so a click that straddles an
 * event still lands, and the keyboard focus stays put. The kept nodes keep
 * their listeners: what those act on must be shown (an operation's
 * version, say) or looked up when they run.
 */
export function redraw(el, ...children) {
  const next = document.createDocumentFragment();
  append(next, children);
  const old = el.childNodes;
  if (next.childNodes.length === old.length && [...next.childNodes].every((c, i) => c.isEqualNode(old[i]))) return false;
  el.replaceChildren(next);
  return true;
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** fmtTime formats an RFC 3339 time or Date as "25 Nov 14:05Z". */
export function fmtTime(t) {
  if (!t) return '—';
  const d = t instanceof Date ? t : new Date(t);
  const mon = d.toLocaleString('en-GB', { month: 'short', timeZone: 'UTC' });
  return `${d.getUTCDate()} ${mon} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}Z`;
}

/** fmtClock formats a time as "14:05Z". */
export function fmtClock(t) {
  const d = t instanceof Date ? t : new Date(t);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}Z`;
}

const pad = (n) => String(n).padStart(2, '0');

/** fmtDuration formats seconds as "-1 h 05 min", "12 min", "40 s". */
export function fmtDuration(s) {
  const sign = s < 0 ? '−' : '';
  s = Math.abs(Math.round(s));
  if (s < 60) return `${sign}${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${sign}${m} min`;
  return `${sign}${Math.floor(m / 60)} h ${pad(m % 60)} min`;
}

/** fmtMetres formats a distance: "850 m", "12.4 km", with a true minus sign. */
export function fmtMetres(m) {
  const sign = m < 0 ? '−' : '';
  const a = Math.abs(m);
  return a >= 10000 ? `${sign}${(a / 1000).toFixed(1)} km` : `${sign}${Math.round(a)} m`;
}
