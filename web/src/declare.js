// Declaring: the operator draws a polygon (click its vertices on the map)
// or a circle (click the centre, then a point of the edge), or types them;
// gives the altitude band and the time window; sees the what-if answer of
// POST /v1/check as it edits; then declares with PUT /v1/operations/{id}.

import L from 'leaflet';
import { h, replace, fmtDuration } from './dom.js';
import { formatUTC, parseUTC, rfc3339, stepUTC } from './utctime.js';
import { distanceM, footprint, shiftNear } from './geometry.js';
import { draftGroup, focusOperation, leafletMap, onMapClick, select, separationText, setDraftActive } from './map.js';
import { newID, post } from './api.js';
import { declare, describe } from './actions.js';
import { emit, on, opLabel } from './state.js';

const draft = { shape: 'polygon', vertices: [], center: null, radius: null, drawing: false };
let els, offClick, checkTimer, checkSeq = 0;

export function initDeclare(root) {
  const hour = 3600e3;
  const start = new Date(Math.ceil((Date.now() + 2 * hour) / (15 * 60e3)) * 15 * 60e3);
  const f = (name, label, input, note) => h('div', { class: 'field' }, h('label', { for: `d-${name}` }, label), input, note);
  els = {
    shape: h('fieldset', { class: 'shape' }, h('legend', {}, 'Footprint'),
      h('label', { class: 'check' }, h('input', { type: 'radio', name: 'shape', value: 'polygon', checked: true, id: 'd-shape-polygon' }), ' polygon'),
      h('label', { class: 'check' }, h('input', { type: 'radio', name: 'shape', value: 'circle', id: 'd-shape-circle' }), ' circle')),
    draw: h('button', { type: 'button', id: 'd-draw', onclick: toggleDrawing }, 'Draw on the map'),
    clear: h('button', { type: 'button', class: 'secondary', id: 'd-clear', onclick: clearDraft }, 'Clear'),
    hint: h('p', { class: 'hint small', id: 'd-hint', 'aria-live': 'polite' }),
    vertices: h('textarea', { id: 'd-vertices', rows: 4, spellcheck: 'false', placeholder: 'lat, lng — one vertex a line' }),
    clat: h('input', { id: 'd-clat', type: 'number', step: 'any', min: -90, max: 90 }),
    clng: h('input', { id: 'd-clng', type: 'number', step: 'any', min: -180, max: 180 }),
    radius: h('input', { id: 'd-radius', type: 'number', step: 'any', min: 0.01, max: 2000 }),
    lower: h('input', { id: 'd-lower', type: 'number', step: 'any', value: 3000, required: true }),
    upper: h('input', { id: 'd-upper', type: 'number', step: 'any', value: 6000, required: true }),
    units: h('select', { id: 'd-units' }, h('option', { value: 'M' }, 'metres'), h('option', { value: 'FT' }, 'feet')),
    start: utcInput('d-start', start),
    end: utcInput('d-end', new Date(start.getTime() + 2 * hour)),
    startNote: h('span', { id: 'd-start-note', class: 'small muted utc-note' }),
    endNote: h('span', { id: 'd-end-note', class: 'small muted utc-note' }),
    callsign: h('input', { id: 'd-callsign', maxlength: 32, autocomplete: 'off' }),
    share: h('input', { id: 'd-share', type: 'checkbox', checked: true }),
    priority: h('input', { id: 'd-priority', type: 'number', step: 1, value: 0 }),
    notes: h('textarea', { id: 'd-notes', rows: 2, placeholder: 'seen only by your party' }),
    state: h('select', { id: 'd-state' }, h('option', { value: 'planned' }, 'planned'), h('option', { value: 'active' }, 'active')),
    check: h('section', { id: 'd-check', class: 'check-result', 'aria-live': 'polite' }),
    submit: h('button', { type: 'submit', id: 'd-declare' }, 'Declare'),
    form: null,
  };
  els.polyFields = h('div', { class: 'poly-fields' }, h('label', { for: 'd-vertices' }, 'Vertices (lat, lng)'), els.vertices);
  els.circleFields = h('div', { class: 'circle-fields grid3', hidden: true },
    f('clat', 'Centre lat', els.clat), f('clng', 'Centre lng', els.clng), f('radius', 'Radius km', els.radius));
  els.form = h('form', { id: 'declare-form', novalidate: true },
    els.shape, h('div', { class: 'buttons' }, els.draw, els.clear), els.hint, els.polyFields, els.circleFields,
    h('fieldset', {}, h('legend', {}, 'Altitude band (WGS84)'), h('div', { class: 'grid3' }, f('lower', 'Lower', els.lower), f('upper', 'Upper', els.upper), f('units', 'Units', els.units))),
    h('fieldset', {}, h('legend', {}, 'Time window (UTC)'),
      h('p', { class: 'small muted', id: 'd-utc-help' }, 'UTC, as YYYY-MM-DD HH:MMZ; ↑ and ↓ move by 15 minutes.'),
      h('div', { class: 'grid2' }, f('start', 'Start (UTC)', els.start, els.startNote), f('end', 'End (UTC)', els.end, els.endNote))),
    els.check,
    h('div', { class: 'grid2' }, f('callsign', 'Callsign', els.callsign), f('priority', 'Priority', els.priority)),
    h('label', { class: 'check' }, els.share, ' share the callsign with the other parties'),
    f('notes', 'Notes', els.notes),
    h('div', { class: 'buttons' }, h('label', { for: 'd-state' }, 'Declare as '), els.state, els.submit));
  replace(root, els.form);

  els.shape.addEventListener('change', (e) => { draft.shape = e.target.value; if (draft.drawing) startDrawing(); renderShapeFields(); redraw(); });
  els.vertices.addEventListener('input', () => { draft.vertices = parseVertices(els.vertices.value); redraw(false); });
  for (const el of [els.clat, els.clng, els.radius]) {
    el.addEventListener('input', () => {
      const lat = parseFloat(els.clat.value), lng = parseFloat(els.clng.value), r = parseFloat(els.radius.value);
      draft.center = Number.isFinite(lat) && Number.isFinite(lng) ? [lat, lng] : null;
      draft.radius = Number.isFinite(r) && r > 0 ? r * 1000 : null;
      redraw(false);
    });
  }
  for (const el of [els.lower, els.upper, els.units, els.start, els.end]) el.addEventListener('input', scheduleCheck);
  for (const el of [els.start, els.end]) el.addEventListener('input', renderTimeNotes);
  renderTimeNotes();
  els.form.addEventListener('submit', submit);
  setDraftActive(() => draft.drawing);
  on('operations', () => { if (draft.drawing || hasShape()) scheduleCheck(); });
  renderShapeFields();
  redraw();
}

function renderShapeFields() {
  els.polyFields.hidden = draft.shape !== 'polygon';
  els.circleFields.hidden = draft.shape !== 'circle';
}

function toggleDrawing() {
  if (draft.drawing) stopDrawing();
  else startDrawing();
}

function startDrawing() {
  draft.drawing = true;
  offClick?.();
  offClick = onMapClick(onClick);
  leafletMap().doubleClickZoom.disable();
  leafletMap().getContainer().classList.add('drawing');
  els.draw.textContent = 'Finish drawing';
  els.draw.setAttribute('aria-pressed', 'true');
  hint();
}

function stopDrawing() {
  draft.drawing = false;
  offClick?.();
  offClick = null;
  leafletMap().doubleClickZoom.enable();
  leafletMap().getContainer().classList.remove('drawing');
  els.draw.textContent = 'Draw on the map';
  els.draw.setAttribute('aria-pressed', 'false');
  hint();
  scheduleCheck();
}

function hint() {
  let t = '';
  if (draft.drawing && draft.shape === 'polygon') {
    t = draft.vertices.length < 3 ? `Click the vertices on the map (${draft.vertices.length} so far, 3 at least).` : `${draft.vertices.length} vertices. Click more, or “Finish drawing”.`;
  } else if (draft.drawing) {
    t = draft.center ? 'Click a point of the edge to set the radius.' : 'Click the centre on the map.';
  } else if (!hasShape()) {
    t = 'Draw the footprint on the map, or type it below.';
  }
  els.hint.textContent = t;
}

function onClick(e) {
  const { lat } = e.latlng;
  const lng = L.Util.wrapNum(e.latlng.lng, [-180, 180], true);
  const p = [round(lat), round(lng)];
  if (draft.shape === 'polygon') {
    draft.vertices.push(p);
  } else if (!draft.center || draft.radius) {
    draft.center = p;
    draft.radius = null;
  } else {
    draft.radius = Math.max(1, Math.round(distanceM(draft.center, p)));
    stopDrawing();
  }
  redraw();
}

const round = (x) => Math.round(x * 1e5) / 1e5;

function parseVertices(text) {
  return text.split('\n').map((l) => l.split(/[,\s]+/).filter(Boolean).map(Number))
    .filter((p) => p.length === 2 && p.every(Number.isFinite));
}

function clearDraft() {
  draft.vertices = [];
  draft.center = null;
  draft.radius = null;
  redraw();
}

function hasShape() {
  return draft.shape === 'polygon' ? draft.vertices.length >= 3 : !!(draft.center && draft.radius);
}

function volume3D() {
  const u = els.units.value;
  const v = {
    altitude_lower: { value: Number(els.lower.value), reference: 'W84', units: u },
    altitude_upper: { value: Number(els.upper.value), reference: 'W84', units: u },
  };
  if (draft.shape === 'polygon') v.outline_polygon = { vertices: draft.vertices.map(([lat, lng]) => ({ lat, lng })) };
  else v.outline_circle = { center: { lat: draft.center[0], lng: draft.center[1] }, radius: { value: draft.radius, units: 'M' } };
  return v;
}

function volumes() {
  const s = parseUTC(els.start.value).date, e = parseUTC(els.end.value).date;
  if (!hasShape() || !s || !e || els.lower.value === '' || els.upper.value === '') return null;
  return [{
    volume: volume3D(),
    time_start: { value: rfc3339(s), format: 'RFC3339' },
    time_end: { value: rfc3339(e), format: 'RFC3339' },
  }];
}

/** utcInput is a text field for a UTC time; the arrow keys move it by 15 minutes. */
function utcInput(id, value) {
  const el = h('input', {
    id, type: 'text', value: formatUTC(value), required: true, autocomplete: 'off', spellcheck: 'false',
    inputmode: 'numeric', placeholder: 'YYYY-MM-DD HH:MMZ', 'aria-describedby': `d-utc-help ${id}-note`,
  });
  el.addEventListener('keydown', (e) => {
    if ((e.key !== 'ArrowUp' && e.key !== 'ArrowDown') || e.altKey || e.ctrlKey || e.metaKey) return;
    e.preventDefault();
    el.value = stepUTC(el.value, e.key === 'ArrowUp' ? 15 : -15);
    el.dispatchEvent(new Event('input'));
  });
  el.addEventListener('blur', () => { // tidy a valid time into the one form
    const { date } = parseUTC(el.value);
    if (date && formatUTC(date) !== el.value) { el.value = formatUTC(date); el.dispatchEvent(new Event('input')); }
  });
  return el;
}

/** renderTimeNotes says under each time what it was read as, or what is wrong with it. */
function renderTimeNotes() {
  for (const [el, note] of [[els.start, els.startNote], [els.end, els.endNote]]) {
    const { date, error } = parseUTC(el.value);
    el.setAttribute('aria-invalid', String(!date));
    note.classList.toggle('error', !date);
    if (!date) { note.textContent = error; continue; }
    const wd = date.toLocaleString('en-GB', { weekday: 'short', timeZone: 'UTC' });
    const lead = (date.getTime() - Date.now()) / 1000;
    note.textContent = `${wd} ${formatUTC(date)}, ${lead >= 0 ? `in ${fmtDuration(lead)}` : `${fmtDuration(-lead)} ago`}`;
  }
  const s = parseUTC(els.start.value).date, e = parseUTC(els.end.value).date;
  if (s && e && e <= s) { els.endNote.textContent = 'the end must be after the start'; els.endNote.classList.add('error'); els.end.setAttribute('aria-invalid', 'true'); }
}

function redraw(syncFields = true) {
  const g = draftGroup();
  if (!g) return;
  g.clearLayers();
  const map = leafletMap();
  const style = { color: '#111', weight: 2, dashArray: '5 4', fillColor: '#fdd835', fillOpacity: 0.25, interactive: false };
  if (draft.shape === 'polygon') {
    for (const p of draft.vertices) L.circleMarker(p, { radius: 4, color: '#111', fillColor: '#fdd835', fillOpacity: 1, weight: 1, interactive: false }).addTo(g);
    if (draft.vertices.length >= 3) {
      for (const ring of footprint({ outline_polygon: { vertices: draft.vertices.map(([lat, lng]) => ({ lat, lng })) } })) L.polygon(shiftNear(ring, map.getCenter().lng), style).addTo(g);
    } else if (draft.vertices.length === 2) {
      L.polyline(draft.vertices, style).addTo(g);
    }
    if (syncFields) els.vertices.value = draft.vertices.map(([a, b]) => `${a}, ${b}`).join('\n');
  } else {
    if (draft.center) L.circleMarker(draft.center, { radius: 4, color: '#111', fillColor: '#fdd835', fillOpacity: 1, weight: 1, interactive: false }).addTo(g);
    if (draft.center && draft.radius) {
      for (const ring of footprint({ outline_circle: { center: { lat: draft.center[0], lng: draft.center[1] }, radius: { value: draft.radius, units: 'M' } } })) L.polygon(shiftNear(ring, map.getCenter().lng), style).addTo(g);
    }
    if (syncFields) {
      els.clat.value = draft.center ? draft.center[0] : '';
      els.clng.value = draft.center ? draft.center[1] : '';
      els.radius.value = draft.radius ? (draft.radius / 1000).toFixed(3) : '';
    }
  }
  hint();
  scheduleCheck();
}

function scheduleCheck() {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(runCheck, 300);
}

async function runCheck() {
  const vols = volumes();
  if (!vols) {
    replace(els.check, h('p', { class: 'muted' }, 'What-if: complete the footprint, altitudes and times to check them against the other parties’ operations.'));
    return;
  }
  const seq = ++checkSeq;
  replace(els.check, h('p', { class: 'muted' }, 'Checking…'));
  try {
    const r = await post('/v1/check', { volumes: vols });
    if (seq !== checkSeq) return;
    const hits = r.conflicts ?? [];
    replace(els.check, hits.length === 0
      ? h('p', { class: 'ok', id: 'd-check-ok' }, '✓ What-if: no conflict with the other parties’ live operations.')
      : h('div', { class: 'warn' },
        h('p', {}, h('strong', {}, `⚠ What-if: ${hits.length} conflict${hits.length > 1 ? 's' : ''}`), ' — declaring opens them:'),
        h('ul', {}, hits.map((hit) => h('li', {}, h('strong', {}, opLabel(hit.operation)), ` (${hit.operation.party}): `, separationText({ separation: hit.separation }, true))))));
  } catch (err) {
    if (seq !== checkSeq) return;
    replace(els.check, h('p', { class: 'error', role: 'alert' }, describe(err, 'What-if'), err.field ? ` [${err.field}]` : ''));
  }
}

async function submit(e) {
  e.preventDefault();
  const vols = volumes();
  if (!vols) {
    const bad = [[els.start, 'start'], [els.end, 'end']].find(([el]) => !parseUTC(el.value).date);
    replace(els.check, h('p', { class: 'error', role: 'alert' }, bad
      ? `The ${bad[1]} time: ${parseUTC(bad[0].value).error}.`
      : 'The footprint, altitudes and times are needed.'));
    bad?.[0].focus();
    return;
  }
  const body = {
    volumes: vols,
    state: els.state.value,
    priority: Number(els.priority.value) || 0,
    share_callsign: els.share.checked,
  };
  if (els.callsign.value.trim()) body.callsign = els.callsign.value.trim();
  if (els.notes.value.trim()) body.notes = els.notes.value.trim();
  const id = newID();
  els.submit.disabled = true;
  try {
    const r = await declare(id, body);
    if (draft.drawing) stopDrawing();
    clearDraft();
    els.callsign.value = '';
    els.notes.value = '';
    emit('operations');
    select(id);
    focusOperation(r.operation);
    emit('declared');
  } catch (err) {
    replace(els.check, h('p', { class: 'error', role: 'alert' }, describe(err, 'Declaration'), err.field ? ` [${err.field}]` : ''));
  } finally {
    els.submit.disabled = false;
  }
}

