// The map: country borders from Natural Earth drawn by Leaflet with no
// tile server, the operations as their real footprints, coloured by party,
// and the open conflicts in red with the separation they breach.

import L from 'leaflet';
import { feature, mesh } from 'topojson-client';
import { centre, footprint, shiftNear } from './geometry.js';
import { h } from './dom.js';
import { emit, liveAt, on, opLabel, partyColour, state } from './state.js';
import { fmtDuration, fmtMetres } from './dom.js';

let map;
let opsLayer, conflictLayer, draftLayer;
const clickHandlers = new Set();

/** initMap creates the map in the element with the given id. */
export async function initMap(id, bordersURL) {
  map = L.map(id, {
    worldCopyJump: false,
    zoomSnap: 0.25,
    minZoom: 1.5,
    maxZoom: 14,
    attributionControl: true,
    keyboard: true,
    preferCanvas: false,
  }).setView([34, 36], 6);
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  map.attributionControl.addAttribution('Borders: Natural Earth');
  L.control.scale({ imperial: false }).addTo(map);

  const borders = L.layerGroup().addTo(map);
  opsLayer = L.layerGroup().addTo(map);
  conflictLayer = L.layerGroup().addTo(map);
  draftLayer = L.layerGroup().addTo(map);

  map.on('click', (e) => { for (const fn of clickHandlers) fn(e); });
  // The banner and the timeline change the map's height: keep its centre.
  new ResizeObserver(() => map.invalidateSize({ animate: false })).observe(map.getContainer());

  on('operations', draw);
  on('conflicts', draw);
  on('time', draw);
  on('selected', draw);
  on('parties', draw);

  try {
    const topo = await (await fetch(bordersURL)).json();
    const renderer = L.canvas({ padding: 0.5 });
    const land = feature(topo, topo.objects.countries);
    for (const shift of [-360, 0, 360]) {
      L.geoJSON(land, {
        renderer, interactive: false,
        coordsToLatLng: (c) => L.latLng(c[1], c[0] + shift),
        style: { color: '#7d7868', weight: 0.8, fillColor: '#ece7d9', fillOpacity: 1 },
      }).addTo(borders);
    }
    // The borders once more as lines, so shared borders are drawn evenly.
    const lines = mesh(topo, topo.objects.countries, (a, b) => a !== b);
    L.geoJSON(lines, { renderer, interactive: false, style: { color: '#8f8a7a', weight: 0.6 } }).addTo(borders);
  } catch (err) {
    console.warn('borders not loaded', err);
  }
  return map;
}

export const leafletMap = () => map;

/** onMapClick registers a handler of clicks on the map; returns a function that removes it. */
export function onMapClick(fn) {
  clickHandlers.add(fn);
  return () => clickHandlers.delete(fn);
}

/** draftGroup is the layer the drawing tool draws its draft into. */
export const draftGroup = () => draftLayer;

/** ringsOf returns the drawable rings of an operation's volumes near the map's centre. */
export function ringsOf(volume) {
  const ref = map ? map.getCenter().lng : 0;
  return footprint(volume).map((r) => shiftNear(r, ref));
}

function draw() {
  if (!map) return;
  opsLayer.clearLayers();
  conflictLayer.clearLayers();
  const t = state.time;
  const ops = [...state.operations.values()].sort((a, b) => liveAt(a, t) - liveAt(b, t));
  for (const op of ops) {
    const live = liveAt(op, t);
    const colour = partyColour(op.party);
    const selected = state.selected === op.id;
    const final = op.state === 'ended' || op.state === 'cancelled';
    const stale = state.staleParties.has(op.party); // its node is unreachable: possibly out of date
    for (const [i, v] of op.volumes.entries()) {
      for (const ring of ringsOf(v.volume)) {
        const poly = L.polygon(ring, {
          color: colour,
          weight: selected ? 4 : 2,
          opacity: live ? 0.95 : 0.55,
          dashArray: stale ? '2 6' : (live ? null : '6 5'),
          fillColor: colour,
          fillOpacity: live ? 0.28 : 0.06,
          className: `op op-${op.party}${final ? ' op-final' : ''}${stale ? ' op-stale' : ''}`,
        });
        poly.on('click', (e) => {
          L.DomEvent.stopPropagation(e);
          if (clickHandlers.size && draftActive()) { for (const fn of clickHandlers) fn(e); return; }
          select(op.id);
        });
        poly.bindTooltip(tooltipFor(op, v), { sticky: true, className: 'op-tip' });
        poly.addTo(opsLayer);
      }
      // The callsign label: other parties see it only when the owner shares it.
      if (i === 0 && op.callsign) {
        const [lat, lng] = centre(v.volume);
        const ref = map.getCenter().lng;
        const k = Math.round((ref - lng) / 360);
        L.marker([lat, lng + 360 * k], {
          icon: L.divIcon({ className: `op-label${live ? '' : ' op-label-idle'}`, html: escapeHTML(op.callsign), iconSize: null }),
          interactive: false,
          keyboard: false,
        }).addTo(opsLayer);
      }
    }
  }
  drawConflicts();
}

let draftActiveFn = () => false;
/** setDraftActive tells the map whether the drawing tool takes the clicks. */
export function setDraftActive(fn) { draftActiveFn = fn; }
const draftActive = () => draftActiveFn();

function drawConflicts() {
  for (const c of state.conflicts.values()) {
    if (c.status !== 'open') continue;
    const [a, b] = c.operations.map((id) => state.operations.get(id));
    if (!a || !b) continue;
    for (const op of [a, b]) {
      for (const v of op.volumes) {
        for (const ring of ringsOf(v.volume)) {
          L.polygon(ring, { color: '#c62828', weight: 3, fill: false, dashArray: null, interactive: false, className: 'conflict-outline' }).addTo(conflictLayer);
        }
      }
    }
    // The label sits above the northern edge of the pair, off their own labels.
    const pts = [a, b].flatMap((op) => op.volumes.flatMap((v) => ringsOf(v.volume)[0] ?? []));
    const north = Math.max(...pts.map((p) => p[0]));
    const lngs = pts.map((p) => p[1]);
    const mid = [north, (Math.min(...lngs) + Math.max(...lngs)) / 2];
    L.marker(mid, {
      icon: L.divIcon({ className: 'conflict-label', html: escapeHTML(`⚠ ${opLabel(a)} × ${opLabel(b)}: ${separationText(c, true)}`), iconSize: null }),
      keyboard: false,
      interactive: false,
    }).addTo(conflictLayer);
  }
}

/**
 * separationText says how far apart the conflicting volumes are (negative:
 * overlap), and, unless short, against which minima.
 */
export function separationText(c, short = false) {
  const s = c.separation ?? {};
  const m = state.settings ?? {};
  const min = (v, f) => (short || !v ? '' : ` (min ${f(v)})`);
  return [
    `H ${fmtMetres(s.horizontal_m)}${min(m.horizontal_m, fmtMetres)}`,
    `V ${fmtMetres(s.vertical_m)}${min(m.vertical_m, fmtMetres)}`,
    `T ${fmtDuration(s.time_s)}${min(m.time_s, fmtDuration)}`,
  ].join(' · ');
}

function tooltipFor(op, v) {
  const vol = v.volume;
  const lo = vol.altitude_lower, hi = vol.altitude_upper;
  return h('div', {},
    h('strong', {}, opLabel(op)), ` — ${op.party}, ${op.state}`, h('br'),
    `${lo.value}–${hi.value} ${lo.units === 'FT' ? 'ft' : 'm'}, `,
    `${v.time_start.value.slice(11, 16)}Z–${v.time_end.value.slice(11, 16)}Z`,
    state.staleParties.has(op.party) ? [h('br'), h('em', {}, `${op.party}'s node is unreachable: possibly out of date`)] : null);
}

function escapeHTML(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

/** select selects an operation (or none) and tells the views. */
export function select(id) {
  state.selected = id;
  emit('selected');
}

/** focusOperation pans and zooms the map to an operation. */
export function focusOperation(op) {
  const pts = op.volumes.flatMap((v) => ringsOf(v.volume)[0] ?? []);
  if (pts.length) map.fitBounds(L.latLngBounds(pts), { maxZoom: 8, padding: [40, 40] });
}

/** fitOperations fits the map to every operation shown (the region of interest). */
export function fitOperations() {
  const pts = [...state.operations.values()].flatMap((op) => op.volumes.flatMap((v) => ringsOf(v.volume)[0] ?? []));
  map.invalidateSize({ animate: false });
  if (pts.length) map.fitBounds(L.latLngBounds(pts), { maxZoom: 9, padding: [30, 30] });
}

