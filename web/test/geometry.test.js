import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  angle, capRing, centre, densifyRing, destination, distanceM, EARTH_RADIUS_M, footprint,
  interpolate, shiftNear, unwrapRing, worldCopies,
} from '../src/geometry.js';

const close = (a, b, eps, msg) => assert.ok(Math.abs(a - b) <= eps, `${msg ?? ''} ${a} != ${b} (±${eps})`);

test('densified edges lie on the great circle, not the rhumb line', () => {
  // From (45, -60) to (45, 60): the great circle bulges north to ~63.4°.
  const ring = densifyRing([[45, -60], [45, 60], [0, 0]], 1);
  const mid = ring.reduce((best, p) => (p[0] > best[0] ? p : best));
  close(mid[0], 63.4349, 0.05, 'northernmost latitude');
  close(mid[1], 0, 1.1, 'at the middle');
  // Every step is at most the limit.
  for (let i = 0; i < ring.length; i++) {
    const step = angle(ring[i], ring[(i + 1) % ring.length]) * 180 / Math.PI;
    assert.ok(step <= 1 + 1e-9, `step ${step}`);
  }
  // Every point of the first edge is on the plane of that great circle.
  const mids = [0.25, 0.5, 0.75].map((f) => interpolate([45, -60], [45, 60], f));
  for (const m of mids) close(angle([45, -60], m) + angle(m, [45, 60]), angle([45, -60], [45, 60]), 1e-9);
});

test('a repeated closing vertex is dropped', () => {
  const ring = densifyRing([[0, 0], [0, 1], [1, 1], [0, 0]], 10);
  assert.equal(ring.length, 3);
});

test('cap points are all at the radius from the centre', () => {
  for (const [center, r] of [[[33.5, 36.1], 8000], [[-60, 170], 500000], [[89, 0], 300000]]) {
    const ring = capRing(center, r, 64);
    assert.equal(ring.length, 64);
    for (const p of ring) close(distanceM(center, p), r, 1e-3, 'radius');
  }
  // North of the centre first.
  const [n] = capRing([0, 0], 111195, 4);
  close(n[0], 1.0, 1e-3); close(n[1], 0, 1e-9);
});

test('destination goes east along the equator', () => {
  const p = destination([0, 179.5], 90, (Math.PI / 180) * EARTH_RADIUS_M);
  close(p[0], 0, 1e-9); close(p[1], -179.5, 1e-9);
});

test('a ring across the antimeridian is unwrapped, not smeared', () => {
  const { ring, pole } = unwrapRing([[10, 179], [10, -179], [-10, -179], [-10, 179]]);
  assert.equal(pole, 0);
  assert.deepEqual(ring.map((p) => p[1]), [179, 181, 181, 179]);
  const copies = worldCopies(ring);
  assert.equal(copies.length, 2);
  assert.deepEqual(copies[1].map((p) => p[1]), [-181, -179, -179, -181]);
  // Shifted near a reference longitude on the other side.
  assert.deepEqual(shiftNear(ring, -170).map((p) => p[1]), [-181, -179, -179, -181]);
});

test('a circle across the antimeridian stays one compact shape', () => {
  const [first, ...rest] = footprint({ outline_circle: { center: { lat: -17, lng: 180 }, radius: { value: 200000, units: 'M' } } });
  const lngs = first.map((p) => p[1]);
  assert.ok(Math.max(...lngs) - Math.min(...lngs) < 5, 'span under 5°');
  assert.equal(rest.length, 1, 'one world copy');
});

test('a ring around a pole is closed through that pole', () => {
  const north = unwrapRing(capRing([90, 0], 500000, 36));
  assert.equal(north.pole, 90);
  assert.deepEqual(north.ring.slice(-2).map((p) => p[0]), [90, 90]);
  const lngs = north.ring.map((p) => p[1]);
  close(Math.max(...lngs) - Math.min(...lngs), 360, 1e-9, 'spans the world once');
  const south = unwrapRing([[-80, 0], [-80, 90], [-80, 180], [-80, -90]]);
  assert.equal(south.pole, -90);
  // A cap that contains the pole without being centred on it.
  assert.equal(unwrapRing(capRing([85, 40], 800000, 72)).pole, 90);
  // One that does not contain it.
  assert.equal(unwrapRing(capRing([80, 40], 800000, 72)).pole, 0);
});

test('centre of a polygon and a circle', () => {
  const c = centre({ outline_polygon: { vertices: [{ lat: -1, lng: 179 }, { lat: -1, lng: -179 }, { lat: 1, lng: -179 }, { lat: 1, lng: 179 }] } });
  close(c[0], 0, 1e-9); close(Math.abs(c[1]), 180, 1e-9);
  assert.deepEqual(centre({ outline_circle: { center: { lat: 3, lng: 4 }, radius: { value: 1, units: 'M' } } }), [3, 4]);
});
