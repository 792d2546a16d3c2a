// The API client: every /v1 call carries the bearer token, kept in
// sessionStorage only (never localStorage, never the URL).

const KEY = 'deconflict.token';

/** takeTokenFromURL moves a #token=… fragment into sessionStorage and clears the address bar at once. */
export function takeTokenFromURL() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m) return;
  history.replaceState(null, '', location.pathname + location.search);
  setToken(decodeURIComponent(m[1]));
}

export function token() { return sessionStorage.getItem(KEY); }
export function setToken(t) { sessionStorage.setItem(KEY, t.trim()); }
export function clearToken() { sessionStorage.removeItem(KEY); }

/** APIError is an error answer of the API ({"error": {code, message, field}}). */
export class APIError extends Error {
  constructor(status, body) {
    const e = body?.error ?? {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'unknown';
    this.field = e.field;
    this.body = body;
  }
}

/**
 * request sends a request to the API and returns {status, body, etag}; an
 * answer with an error status throws an APIError.
 */
export async function request(method, path, { body, headers = {}, signal } = {}) {
  const h = { Accept: 'application/json', Authorization: `Bearer ${token()}`, ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const resp = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), signal, cache: 'no-store' });
  let data = null;
  if ((resp.headers.get('Content-Type') || '').startsWith('application/json')) data = await resp.json();
  if (!resp.ok) throw new APIError(resp.status, data);
  return { status: resp.status, body: data, etag: resp.headers.get('ETag') };
}

export const get = (path, opts) => request('GET', path, opts).then((r) => r.body);

/** getText gets a path that answers plain text (the log's checkpoint). */
export async function getText(path) {
  const resp = await fetch(path, { headers: { Authorization: `Bearer ${token()}` }, cache: 'no-store' });
  if (!resp.ok) {
    let data = null;
    try { data = await resp.json(); } catch { /* not JSON */ }
    throw new APIError(resp.status, data);
  }
  return resp.text();
}
export const post = (path, body) => request('POST', path, { body }).then((r) => r.body);

/** all follows the pages of a list endpoint and returns every item under key. */
export async function all(path, key) {
  const out = [];
  let after = '';
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get(after ? `${path}${sep}after=${encodeURIComponent(after)}` : path);
    out.push(...(page[key] ?? []));
    if (!page.next) return out;
    after = page.next;
  }
}

/** newID returns a random UUID (version 4), also outside secure contexts. */
export function newID() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** download fetches a path with the token and saves the answer as a file. */
export async function download(path, filename) {
  const resp = await fetch(path, { headers: { Authorization: `Bearer ${token()}` }, cache: 'no-store' });
  if (!resp.ok) {
    let data = null;
    try { data = await resp.json(); } catch { /* not JSON */ }
    throw new APIError(resp.status, data);
  }
  const url = URL.createObjectURL(await resp.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
