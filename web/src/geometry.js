// Spherical geometry for drawing footprints on a flat map: polygon edges
// are great-circle arcs, circles are spherical caps, and rings are
// unwrapped across the antimeridian (and closed through a pole they
// contain) so that Leaflet draws them where they are. Pure functions, no
// Leaflet: tested with node --test.

/** EARTH_RADIUS_M is the radius of the sphere of the contract (section 3). */
export const EARTH_RADIUS_M = 6371008.8;

const RAD = Math.PI / 180;
const DEG = 180 / Math.PI;

/** toVector returns the unit vector of a [lat, lng] point in degrees. */
export function toVector([lat, lng]) {
  const φ = lat * RAD, λ = lng * RAD;
  return [Math.cos(φ) * Math.cos(λ), Math.cos(φ) * Math.sin(λ), Math.sin(φ)];
}

/** toLatLng returns the [lat, lng] in degrees of a (not necessarily unit) vector. */
export function toLatLng([x, y, z]) {
  return [Math.atan2(z, Math.hypot(x, y)) * DEG, Math.atan2(y, x) * DEG];
}

const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const norm = (a) => Math.hypot(a[0], a[1], a[2]);

/** angle returns the angle in radians between two [lat, lng] points. */
export function angle(p, q) {
  const a = toVector(p), b = toVector(q);
  return Math.atan2(norm(cross(a, b)), dot(a, b));
}

/** distanceM returns the surface distance in metres between two [lat, lng] points. */
export function distanceM(p, q) {
  return angle(p, q) * EARTH_RADIUS_M;
}

/**
 * interpolate returns the point a fraction f of the way from p to q along
 * the great circle (spherical linear interpolation).
 */
export function interpolate(p, q, f) {
  const a = toVector(p), b = toVector(q);
  const ω = Math.atan2(norm(cross(a, b)), dot(a, b));
  if (ω < 1e-12) return [p[0], p[1]];
  const s = Math.sin(ω);
  const ka = Math.sin((1 - f) * ω) / s, kb = Math.sin(f * ω) / s;
  return toLatLng([ka * a[0] + kb * b[0], ka * a[1] + kb * b[1], ka * a[2] + kb * b[2]]);
}

/**
 * densifyRing returns the ring with points added along each great-circle
 * edge so that no step is longer than maxStepDeg degrees of arc. A repeated
 * closing vertex is dropped; the ring stays open (its last edge runs back
 * to the first point).
 */
export function densifyRing(vertices, maxStepDeg = 0.25) {
  let ring = vertices.map(([lat, lng]) => [lat, lng]);
  if (ring.length > 1) {
    const [a, b] = [ring[0], ring[ring.length - 1]];
    if (a[0] === b[0] && a[1] === b[1]) ring = ring.slice(0, -1);
  }
  const out = [];
  for (let i = 0; i < ring.length; i++) {
    const p = ring[i], q = ring[(i + 1) % ring.length];
    out.push(p);
    const n = Math.ceil((angle(p, q) * DEG) / maxStepDeg);
    for (let k = 1; k < n; k++) out.push(interpolate(p, q, k / n));
  }
  return out;
}

/**
 * destination returns the point at distance metres from p along the
 * initial bearing (degrees clockwise from north).
 */
export function destination([lat, lng], bearingDeg, metres) {
  const δ = metres / EARTH_RADIUS_M, θ = bearingDeg * RAD;
  if (Math.abs(lat) > 90 - 1e-9) {
    // At a pole every direction is south (or north): walk the meridians.
    return lat > 0 ? [90 - δ * DEG, normalizeLng(180 - bearingDeg)] : [-90 + δ * DEG, normalizeLng(bearingDeg)];
  }
  const φ1 = lat * RAD, λ1 = lng * RAD;
  const sinφ2 = Math.sin(φ1) * Math.cos(δ) + Math.cos(φ1) * Math.sin(δ) * Math.cos(θ);
  const φ2 = Math.asin(Math.max(-1, Math.min(1, sinφ2)));
  const λ2 = λ1 + Math.atan2(Math.sin(θ) * Math.sin(δ) * Math.cos(φ1), Math.cos(δ) - Math.sin(φ1) * sinφ2);
  return [φ2 * DEG, normalizeLng(λ2 * DEG)];
}

/** normalizeLng brings a longitude into [-180, 180). */
export function normalizeLng(lng) {
  return ((((lng + 180) % 360) + 360) % 360) - 180;
}

/**
 * capRing returns n points on the boundary of the spherical cap of the
 * given radius (metres, along the surface) around center.
 */
export function capRing(center, radiusM, n = 128) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(destination(center, (360 * i) / n, radiusM));
  return out;
}

/**
 * unwrapRing makes a closed ring drawable on a flat map: longitudes are
 * unwrapped so that no step jumps more than 180° (a ring crossing the
 * antimeridian continues past ±180 instead of smearing across the world).
 * If the ring winds once around the globe it contains a pole: it is then
 * closed through that pole (the one on the side of the ring's mean
 * latitude, which bounds the smaller region). Returns {ring, pole}, pole
 * being 90, -90 or 0.
 */
export function unwrapRing(points) {
  if (points.length === 0) return { ring: [], pole: 0 };
  const ring = [[points[0][0], points[0][1]]];
  let lng = points[0][1];
  for (let i = 1; i < points.length; i++) {
    lng += wrapDelta(points[i][1] - points[i - 1][1]);
    ring.push([points[i][0], lng]);
  }
  const closing = lng + wrapDelta(points[0][1] - points[points.length - 1][1]);
  const winding = Math.round((closing - ring[0][1]) / 360);
  if (winding === 0) return { ring, pole: 0 };
  const meanLat = points.reduce((s, p) => s + p[0], 0) / points.length;
  const pole = meanLat >= 0 ? 90 : -90;
  ring.push([points[0][0], closing], [pole, closing], [pole, ring[0][1]]);
  return { ring, pole };
}

function wrapDelta(d) {
  return d > 180 ? d - 360 : d < -180 ? d + 360 : d;
}

/**
 * shiftNear moves a ring by a whole number of turns so that its middle
 * longitude is as close as possible to refLng.
 */
export function shiftNear(ring, refLng) {
  if (ring.length === 0) return ring;
  let min = Infinity, max = -Infinity;
  for (const [, lng] of ring) { min = Math.min(min, lng); max = Math.max(max, lng); }
  const k = Math.round((refLng - (min + max) / 2) / 360);
  return k === 0 ? ring : ring.map(([lat, lng]) => [lat, lng + 360 * k]);
}

/**
 * worldCopies returns the ring and, when it reaches past ±180, a copy a
 * turn the other way, so that a footprint across the antimeridian shows on
 * both edges of the map.
 */
export function worldCopies(ring) {
  let min = Infinity, max = -Infinity;
  for (const [, lng] of ring) { min = Math.min(min, lng); max = Math.max(max, lng); }
  const out = [ring];
  if (max > 180) out.push(ring.map(([lat, lng]) => [lat, lng - 360]));
  if (min < -180) out.push(ring.map(([lat, lng]) => [lat, lng + 360]));
  return out;
}

/**
 * footprint returns the drawable rings of a Volume3D (its outline_polygon
 * or outline_circle), each unwrapped, with their world copies.
 */
export function footprint(volume, opts = {}) {
  let points;
  if (volume.outline_polygon) {
    points = densifyRing(volume.outline_polygon.vertices.map((v) => [v.lat, v.lng]), opts.maxStepDeg);
  } else if (volume.outline_circle) {
    const c = volume.outline_circle;
    points = capRing([c.center.lat, c.center.lng], c.radius.value, opts.capPoints);
  } else {
    return [];
  }
  return worldCopies(unwrapRing(points).ring);
}

/** centre returns a representative [lat, lng] of a Volume3D: the normalised mean of its vertices, or the circle's centre. */
export function centre(volume) {
  if (volume.outline_circle) return [volume.outline_circle.center.lat, volume.outline_circle.center.lng];
  const vs = volume.outline_polygon?.vertices ?? [];
  const sum = [0, 0, 0];
  for (const v of vs) {
    const p = toVector([v.lat, v.lng]);
    sum[0] += p[0]; sum[1] += p[1]; sum[2] += p[2];
  }
  return norm(sum) < 1e-12 ? [vs[0]?.lat ?? 0, vs[0]?.lng ?? 0] : toLatLng(sum);
}

/** toMetres converts an altitude {value, units} to metres. */
export function toMetres(alt) {
  return alt.units === 'FT' ? alt.value * 0.3048 : alt.value;
}
