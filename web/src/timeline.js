// Time: a slider for the time the map shows, and a timeline of the
// operations' windows with a cursor at that time. Operations live at the
// chosen time are drawn solid on the map; the others dashed and faint.

import { h, replace, fmtTime, fmtClock } from './dom.js';
import { emit, liveAt, on, opLabel, opWindow, partyColour, state } from './state.js';
import { focusOperation, select } from './map.js';

const HOUR = 3600e3;
let range = [0, 1];
let els;
let followNow = true; // the chosen time moves with the clock until the user moves it

export function initTimeline(root) {
  els = {
    slider: h('input', { type: 'range', id: 'time-slider', min: 0, max: 1000, step: 1, 'aria-label': 'Time shown on the map (UTC)' }),
    label: h('output', { id: 'time-label', for: 'time-slider' }),
    now: h('button', { type: 'button', class: 'small', onclick: () => { followNow = true; setTime(Date.now()); } }, 'Now'),
    count: h('span', { class: 'muted', id: 'live-count' }),
    rows: h('div', { class: 'tl-rows', role: 'list', 'aria-label': 'Operations over time' }),
    axis: h('div', { class: 'tl-axis', 'aria-hidden': 'true' }),
    cursor: h('div', { class: 'tl-cursor', 'aria-hidden': 'true' }),
  };
  els.slider.addEventListener('input', () => {
    followNow = false;
    const f = Number(els.slider.value) / 1000;
    setTime(range[0] + f * (range[1] - range[0]), false);
  });
  replace(root,
    h('div', { class: 'tl-head' }, h('label', { for: 'time-slider' }, 'Time'), els.slider, els.label, els.now, els.count),
    h('div', { class: 'tl-body' }, els.axis, els.rows, els.cursor));
  on('operations', render);
  on('time', renderCursor);
  on('selected', render);
  render();
  setInterval(() => { if (followNow) setTime(Date.now()); else render(); }, 30e3);
}

/** setTime sets the time the map shows. */
export function setTime(t, moveSlider = true) {
  state.time = t;
  if (t < range[0] || t > range[1]) render();
  emit('time');
  if (moveSlider) renderCursor();
}

function computeRange() {
  const now = Date.now();
  let lo = now - HOUR, hi = now + 6 * HOUR;
  for (const op of state.operations.values()) {
    const [s, e] = opWindow(op);
    lo = Math.min(lo, s); hi = Math.max(hi, e);
  }
  lo = Math.max(lo, now - 7 * 24 * HOUR);
  hi = Math.min(hi, now + 30 * 24 * HOUR);
  lo = Math.min(lo, state.time); hi = Math.max(hi, state.time);
  range = [Math.floor(lo / HOUR) * HOUR, Math.ceil(hi / HOUR) * HOUR];
  els.slider.dataset.start = new Date(range[0]).toISOString();
  els.slider.dataset.end = new Date(range[1]).toISOString();
}

const pct = (t) => `${(100 * (t - range[0])) / (range[1] - range[0])}%`;

function render() {
  if (!els) return;
  computeRange();
  const ops = [...state.operations.values()].sort((a, b) => opWindow(a)[0] - opWindow(b)[0]);
  replace(els.rows, ops.map((op) => {
    const bars = op.volumes.map((v) => {
      const s = Date.parse(v.time_start.value), e = Date.parse(v.time_end.value);
      const bar = h('span', { class: 'tl-bar' });
      bar.style.left = pct(s);
      bar.style.width = `calc(${pct(e)} - ${pct(s)})`;
      bar.style.background = partyColour(op.party);
      return bar;
    });
    const [s, e] = opWindow(op);
    return h('button', {
      type: 'button', role: 'listitem',
      class: `tl-row${state.selected === op.id ? ' selected' : ''}${op.state === 'active' ? ' active' : ''}`,
      title: `${opLabel(op)}: ${fmtTime(s)} – ${fmtTime(e)}`,
      'aria-label': `${opLabel(op)}, ${op.party}, ${op.state}, ${fmtTime(s)} to ${fmtTime(e)}`,
      onclick: () => { select(op.id); focusOperation(op); },
    }, h('span', { class: 'tl-name' }, opLabel(op)), h('span', { class: 'tl-track' }, bars));
  }));
  // Hour ticks, at most a dozen.
  const hours = (range[1] - range[0]) / HOUR;
  const step = Math.max(1, Math.ceil(hours / 12)) * HOUR;
  const ticks = [];
  for (let t = range[0]; t <= range[1]; t += step) {
    const tick = h('span', { class: 'tl-tick' }, fmtClock(t));
    tick.style.left = pct(t);
    ticks.push(tick);
  }
  const now = h('span', { class: 'tl-now', title: 'now' });
  now.style.left = pct(Date.now());
  replace(els.axis, ticks, now);
  renderCursor();
}

function renderCursor() {
  if (!els) return;
  const f = (state.time - range[0]) / (range[1] - range[0]);
  els.slider.value = String(Math.round(f * 1000));
  els.cursor.style.left = `calc(var(--tl-name) + (100% - var(--tl-name)) * ${f})`;
  els.label.value = fmtTime(state.time);
  const live = [...state.operations.values()].filter((op) => liveAt(op, state.time)).length;
  els.count.textContent = `${live} live`;
  els.slider.setAttribute('aria-valuetext', `${fmtTime(state.time)}, ${live} operations live`);
}
