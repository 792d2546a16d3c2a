// The console: sign in, then the map, the timeline and the panels,
// followed live from the event stream.

import { clearToken, get, getText, setToken, takeTokenFromURL, token } from './api.js';
import { $, h, replace } from './dom.js';
import { EventStream, checkpointSize } from './events.js';
import { applyOperation, can, emit, loadConflicts, loadEscalations, loadMessages, loadOperations, loadParties, loadSettings, on, state } from './state.js';
import { fitOperations, initMap } from './map.js';
import { initTimeline } from './timeline.js';
import { initOperations } from './operations.js';
import { initConflicts } from './conflicts.js';
import { initHotline } from './hotline.js';
import { initDeclare } from './declare.js';
import { initBanner } from './banner.js';
import { initEventLog } from './eventlog.js';
import { initPeers } from './peers.js';
import { describe, setNotifier } from './actions.js';

// First of all: the token leaves the address bar.
takeTokenFromURL();

// Problems the page meets (script errors, Content-Security-Policy
// violations), kept for the browser tests to read.
const diagnostics = [];
window.deconflictDiagnostics = diagnostics;
window.addEventListener('error', (e) => diagnostics.push(`error: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => diagnostics.push(`unhandled: ${e.reason?.message ?? e.reason}`));
document.addEventListener('securitypolicyviolation', (e) => diagnostics.push(`csp: ${e.violatedDirective} ${e.blockedURI}`));

const ROLE_TEXT = {
  operator: 'declares and changes its party’s operations',
  liaison: 'acknowledges for its party and uses the hotline',
  head: 'acknowledges, uses the hotline and waives conflicts',
  observer: 'reads everything shared',
  admin: 'reads everything shared',
};

let stream;

// behind sets whether the page behind the sign-in form is out of reach
// (inert: neither focusable by Tab nor clickable), so that Tab stays in the form.
function behind(inert) {
  for (const el of document.body.children) {
    if (el.id !== 'signin' && el.id !== 'toast') el.inert = inert;
  }
}

function showSignIn(message) {
  document.body.classList.remove('signed-in');
  behind(true);
  const input = $('#token-input');
  $('#signin-error').textContent = message ?? '';
  $('#signin').hidden = false;
  input.value = '';
  input.focus();
}

$('#signin-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const t = $('#token-input').value.trim();
  if (!t) return;
  $('#token-input').value = '';
  setToken(t);
  start();
});

$('#signout').addEventListener('click', () => {
  stream?.stop();
  clearToken();
  location.replace(location.pathname);
});

function notifier(text, kind) {
  const el = $('#toast');
  el.className = `toast ${kind}`;
  el.textContent = text;
  el.hidden = false;
  clearTimeout(notifier.timer);
  notifier.timer = setTimeout(() => { el.hidden = true; }, kind === 'error' ? 12000 : 4000);
}

// Tabs, keyboard-reachable: Tab reaches the selected one, the arrow keys,
// Home and End move between them (the WAI-ARIA tabs pattern).
function initTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const activate = (tab, focus = false) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      $(`#${t.getAttribute('aria-controls')}`).hidden = !on;
    }
    if (focus) tab.focus();
  };
  for (const t of tabs) {
    t.addEventListener('click', () => activate(t));
    t.addEventListener('keydown', (e) => {
      const visible = tabs.filter((x) => !x.hidden);
      const i = visible.indexOf(t);
      if (e.key === 'ArrowRight' || e.key === 'ArrowDown') { e.preventDefault(); activate(visible[(i + 1) % visible.length], true); }
      if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') { e.preventDefault(); activate(visible[(i - 1 + visible.length) % visible.length], true); }
      if (e.key === 'Home') { e.preventDefault(); activate(visible[0], true); }
      if (e.key === 'End') { e.preventDefault(); activate(visible[visible.length - 1], true); }
    });
  }
  on('show-conflicts', () => activate($('#tab-conflicts')));
  on('show-hotline', () => activate($('#tab-hotline')));
  on('compose', () => activate($('#tab-hotline')));
  on('selected', () => { if (state.selected) activate($('#tab-operations')); });
  activate(tabs[0]);
}

function renderCounts() {
  const open = [...state.conflicts.values()].filter((c) => c.status === 'open').length;
  $('#count-conflicts').textContent = open ? String(open) : '';
  const p = state.me?.party;
  const pending = p ? state.messages.filter((m) => m.to.includes(p) && !m.acknowledged?.[p]).length : 0;
  $('#count-hotline').textContent = pending ? String(pending) : '';
  $('#count-operations').textContent = String(state.operations.size);
}

// Refreshes after events, batched: what changed is reloaded once.
const dirty = new Set();
let refreshTimer;
function refresh(what) {
  dirty.add(what);
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    const todo = [...dirty];
    dirty.clear();
    const loads = { operations: loadOperations, conflicts: loadConflicts, messages: loadMessages, escalations: loadEscalations, settings: loadSettings, parties: loadParties };
    await Promise.all(todo.map((k) => loads[k]().catch((err) => console.warn(`reload ${k}`, err))));
  }, 150);
}

// Topics to tell the views about, coalesced so that a burst of events
// (the replay after connecting) redraws once.
const pendingEmits = new Set();
function emitSoon(topic) {
  if (pendingEmits.size === 0) setTimeout(() => { const ts = [...pendingEmits]; pendingEmits.clear(); ts.forEach(emit); }, 0);
  pendingEmits.add(topic);
}

// remember keeps an event in the event log, and a receipt among the receipts.
function remember(e) {
  state.lastSeq = Math.max(state.lastSeq, e.seq ?? 0);
  state.events.push(e);
  if (state.events.length > 500) state.events.splice(0, state.events.length - 300);
  if (e.type === 'operation.acknowledged' && e.receipt) {
    state.receipts.add(`${e.receipt.operation}:${e.receipt.version}:${e.receipt.party}`);
    return true;
  }
  return false;
}

// The recent history shown in the event log (and the receipts it holds),
// read once before following the stream: the events among the last
// RECENT of the record that the caller may see.
const RECENT = 300;

// latestSeq answers the sequence number of the latest event, or null if it
// cannot be read (the stream then starts from the beginning, as before).
async function latestSeq() {
  try {
    return checkpointSize(await getText('/v1/log/checkpoint'));
  } catch (err) {
    console.warn('read the checkpoint', err);
    return null;
  }
}

async function loadRecent(seq) {
  if (!seq) return;
  const from = Math.max(0, seq - RECENT);
  const page = await get(`/v1/events?after=${from}&limit=${RECENT}`);
  for (const e of page.events ?? []) if (e.seq <= seq) remember(e);
  emitSoon('receipts');
  emitSoon('events');
}

function onEvent(e) {
  if (e.seq && e.seq <= state.lastSeq) return; // seen already
  const receipt = remember(e);
  const kind = e.type.split('.')[0];
  if (receipt) {
    emitSoon('receipts');
  } else if (kind === 'operation') {
    // The event carries the operation as the caller may see it: show it at
    // once, then reload the list to be sure.
    const op = e.operation;
    if (op && typeof op === 'object' && applyOperation(op)) emitSoon('operations');
    refresh('operations');
    refresh('conflicts');
  } else if (kind === 'conflict') {
    const c = e.conflict;
    if (c && typeof c === 'object') {
      state.conflicts.set(c.id, c);
      emitSoon('conflicts');
    }
    refresh('conflicts');
  } else if (kind === 'escalation') {
    refresh('escalations');
  } else if (kind === 'hotline' || kind === 'line') {
    refresh('messages');
  } else if (kind === 'settings') {
    refresh('settings');
  } else if (kind === 'party') {
    refresh('parties');
  }
  emitSoon('events');
}

let started = false;
async function start() {
  let me;
  try {
    me = await get('/v1/whoami');
  } catch (err) {
    clearToken();
    showSignIn(err.status === 401 ? 'That token is not valid (unknown or revoked).' : describe(err, 'Sign-in'));
    return;
  }
  state.me = me;
  $('#signin').hidden = true;
  behind(false);
  document.body.classList.add('signed-in', `role-${me.role}`);
  replace($('#whoami'),
    h('span', { class: 'who-party' }, me.party || 'no party'), ' · ',
    h('strong', { class: 'who-role', id: 'who-role' }, me.role));
  $('#whoami').title = ROLE_TEXT[me.role] ?? '';
  if (started) return;
  started = true;

  setNotifier(notifier);
  $('#tab-declare').hidden = !can.declare();
  initTabs();
  initBanner($('#banner'));
  initPeers($('#peers'));
  await initMap('map', document.body.dataset.borders);
  initTimeline($('#timeline'));
  initOperations($('#panel-operations'));
  initConflicts($('#panel-conflicts'));
  initHotline($('#panel-hotline'));
  if (can.declare()) initDeclare($('#panel-declare'));
  initEventLog($('#panel-events'));
  for (const t of ['operations', 'conflicts', 'messages']) on(t, renderCounts);

  // The latest event first, then the state: an event after it is followed
  // by the stream even if the lists already show it (applying it twice is
  // harmless); none is missed.
  const since = await latestSeq();
  await loadParties().catch(() => {});
  await Promise.all([loadSettings(), loadOperations(), loadConflicts(), loadMessages(), loadEscalations()]
    .map((p) => p.catch((err) => notifier(describe(err, 'Loading'), 'error'))));
  await loadRecent(since).catch((err) => console.warn('load the recent events', err));
  emit('time');
  requestAnimationFrame(() => fitOperations()); // once the timeline has its height

  document.body.dataset.streamFrom = since ?? '';
  stream = new EventStream({
    after: since,
    onEvent,
    onStatus: (s) => {
      const el = $('#live');
      el.dataset.status = s;
      el.textContent = { live: 'live', connecting: 'connecting…', offline: 'reconnecting…', unauthenticated: 'signed out' }[s] ?? s;
      if (s === 'unauthenticated') { clearToken(); location.replace(location.pathname); }
    },
  });
  stream.start();
  document.body.dataset.ready = 'true';
}

if (token()) start();
else showSignIn();
