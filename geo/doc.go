// Package geo is the geometry of the mechanism and its conflict engine:
// it validates the 4D volumes parties declare, measures the separation
// between them, and keeps an index of live volumes that answers "what
// conflicts with these?" without looking at every operation. It is pure:
// no clock, no I/O.
//
// # Model
//
// The Earth is a sphere of radius EarthRadiusM (contract section 3). A
// Footprint is either a polygon, whose edges are great-circle arcs and
// whose interior is the smaller of the two regions its ring bounds, or a
// circle: a spherical cap whose radius is measured along the surface.
// Footprints may cross the antimeridian and contain a pole; nothing here
// works in latitude and longitude beyond parsing. A Volume adds an
// altitude band in metres and a time window.
//
// ParseVolumes turns the wire form (deconflict.Volume4D) into Volumes,
// rejecting what the contract forbids with a *deconflict.Error that names
// the exact field at fault. Rings are checked for repeated vertices,
// antipodal neighbours, edges that double back and edges that cross, in
// O(n log n) for the usual ring.
//
// # Separation and conflict
//
// Gap returns the separation of two volumes: the surface distance between
// their footprints (0 when they intersect), max(lower) - min(upper) and
// max(start) - min(end). Two volumes conflict when all three gaps are
// below the Minima (Within); CompareOperations applies that to two
// operations and returns the separation of the conflicting pair that is
// horizontally closest. Every function is symmetric to the last bit: a
// pair of footprints is always measured in the same order.
//
// Distances are exact to well under a millimetre. Cheap tests come first:
// time, altitude, then the distance between bounding caps. A polygon
// of more than a few vertices carries a tree of caps over runs of its
// edges (tree.go), so that distance and containment tests descend only
// where it matters: two rings of thousands of vertices are compared in
// microseconds, not in O(n·m). The crossing and distance predicates are
// s2's.
//
// A ring that crosses itself is refused in O(n log n) time for n
// vertices, whatever its shape: its tree is tried first under a budget
// linear in n, then a Shamos–Hoey sweep about an axis (sweep.go), whose
// every decision is an exact, symbolically perturbed s2.RobustSign, so it
// answers as s2.CrossingSign over all pairs of edges would.
//
// # Index
//
// Index files every volume under keys of a time bucket and an S2 cell
// (key.go): buckets of 68 minutes to years in levels, so that a window
// falls in at most two buckets of its level; and the few cells, at most
// about twice as wide as its footprint, that cover its bounding cap. A
// query covers each of its volumes' caps, widened by the horizontal
// minimum, in the same way and visits the buckets its window (widened by
// the time minimum) reaches: in each, a range scan finds the entries
// filed under the query cells and their descendants, and exact lookups
// find those filed under their ancestors. Candidates are then filtered by
// a hull of their entry (its time span, altitude span and a cap around
// its footprints), and the survivors get the very test CompareOperations
// makes, so the answers are those of brute force. Each bucket keeps its keys (cell and slot packed in 64 bits) in
// a chunked sorted array (set.go). The ranges and lookups of a query lie
// close together in key order and most find nothing: a search sorts them
// once, seeks each bucket once for the first, and gallops from there
// (bucket.scan).
//
// A search may decide the entries of some groups under minima of their
// own (PairMinima, what a federation node needs when nodes' minima
// differ): it reaches as far as the largest and compares each candidate
// under its group's.
//
// Index is safe for concurrent use: queries share a read lock; Insert and
// Remove take the write lock for the time of a few insertions.
//
// # Tests
//
// The tests check the implementation against an oracle written without
// s2 (oracle_test.go) on seeded random scenarios, including pairs placed
// a few metres either side of the minima, footprints across the
// antimeridian and around the poles; the index against brute force; and
// every validation rule. Randomised tests log their seed; -seed=N replays
// one and -scale=N runs N times as many cases. The self-crossing test is
// checked against CrossingSign over all pairs of edges (sweep_test.go).
// FuzzParseVolumes, FuzzDistance and FuzzSelfCrossing have a seed corpus
// in testdata/fuzz.
package geo
