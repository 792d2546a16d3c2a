// Package loadgen generates seeded, realistic airspace scenarios and
// drives them against a deconflict server, in process against the conflict
// index, or (with package postgis) against PostgreSQL + PostGIS.
//
// A Scenario is a list of operations of several parties: footprints of 1
// to 100 km across (circles and star-shaped polygons), altitude bands
// between the surface and 12 km, windows of 5 minutes to 6 hours within a
// week, one to three volumes an operation. The same Config (seed
// included) always gives the same scenario, to the last bit. The conflict
// rate is a knob: that fraction of operations is placed to conflict with
// an earlier operation of another party, and the others are placed where
// they conflict with nothing earlier.
//
// Runner declares a scenario over the HTTP API with N concurrent clients
// and measures throughput and latency (Histogram); Progress shows how far
// it got on a terminal or in periodic lines; Result is the machine-readable
// record of a run. Package loadgen/plot draws the scaling curves as SVG.
package loadgen
