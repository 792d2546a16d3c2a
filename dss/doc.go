// Package dss serves the strategic-coordination interface of an ASTM
// F3548-21 Discovery and Synchronization Service (DSS) under /dss/v1/,
// as the InterUSS OpenAPI file utm.yaml (API version 1.0.0, kept beside
// this file) describes it, over the same airspace as the mechanism.
//
// A UAS Service Supplier (USS) is the sub of its access token: RS256
// JWTs signed by a trusted key, for an accepted audience, expiring
// within the hour, with the scopes each operation lists in utm.yaml
// (auth.go). The DSS keeps operational intent references (OIRs),
// constraint references, subscriptions and USS availabilities; a USS
// that creates or updates an Accepted or Activated OIR must name in its
// key the current OVN of every Accepted or Activated OIR that intersects
// it in 4D (plain intersection of the volumes, the caller's own OIRs
// included, the one updated excluded), and of every constraint when its
// subscription asks for constraints; otherwise the answer is 409 with
// the missing ones. OVNs are shown only to their manager; others read
// "Available from USS". Every change answers the subscribers to notify,
// each subscription's notification index advanced by one; a change of a
// /v1 operation advances those of the constraint subscriptions it
// touches (follow.go). An explicit subscription must cover the time and
// the area of its intents (coverage.go). A USS that an arbiter marked
// Down may not make an intent Accepted or Activated, nor delete one
// (412, as utm.yaml gives). Records are purged DefaultRetention after
// their end, and the rows deleted records leave once every process had
// the time to learn of them (purge.go).
//
// One airspace. Each USS is a party of the mechanism ("uss-" and its sub,
// PartyOf), made the first time it calls, and each OIR is an operation
// of that party with the same ID and volumes: planned while Accepted,
// active once Activated. So the conflict engine finds conflicts between
// a USS's intent and a /v1 party's operation under the separation
// minima, exactly, and they are opened, notified, escalated and recorded
// like any other; F3548 decides when an intent may be activated, so an
// open conflict does not stop it (mechanism.Attachment). F3548 has no
// acknowledgement: USS parties give no receipts and their intents are
// owed none (mechanism.Attachments.SetNoReceipts). The other way
// round, the live /v1 operations are shown to USSs as read-only
// constraint references managed by "deconflict:<party>" (v1ops.go), with
// their volumes at /dss/mechanism/uss/v1/constraints/{id}: to a drone, a
// military reservation is airspace to plan around, not to negotiate.
//
// Exactness. Every DSS write is an attachment to the mechanism's write
// path: its check runs in the mechanism's single write order, inside the
// batch transaction that also writes the operation, against everything
// committed before it and every earlier request of its batch, and its
// records are written in that transaction (deconflict.DSSTx). Of two
// USSs racing to create intersecting OIRs with empty keys, one is
// decided first and the other is refused naming it. The DSS keeps its
// records in memory with an index per kind (state.go); the writer holds
// their lock from the first attempt of a batch to its end, so a reader
// never sees a change before it committed, and a failed batch's changes
// are undone.
//
// Bodies are decoded into this package's request types, checked against
// the types generated from utm.yaml (package api, by oapi-codegen) in
// TestRequestShapes; answers are the generated types. Fields utm.yaml
// does not declare are ignored, as F3548 requires.
package dss
