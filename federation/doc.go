// Package federation makes a deconflict server a node of a federation:
// each party runs its own node, authors its own operations there, and
// the nodes replicate to each other what they may see, never what is
// private.
//
// A node is identified by its descriptor (Descriptor): the parties it
// hosts, the URL where peers reach it, and its public key, which is the
// Ed25519 key that signs the node's Merkle log checkpoints. The same key
// signs the node's requests to its peers (RFC 9421 HTTP message
// signatures, httpsig.go) and its receipts of what it received.
//
// Replication is pulled. Each node serves its own log to its peers
// (GET /federation/v1/log): every entry from a position on, with the
// entry's bytes when one of the peer's parties may see the event and only
// its leaf hash otherwise (and for the node's copies of other nodes'
// entries, which every node pulls from their author), and the node's
// signed checkpoint of the log up
// to the last entry sent. The puller (pull.go) holds every leaf hash of
// each peer's log; it recomputes the tree root of the checkpoint from
// them and accepts a page only when the root and the signature match, so
// an edited entry, a rewritten or rolled-back history, or an entry the
// node never signed is refused and kept as an alert with its evidence.
// Accepted entries are kept in the store, then applied in log order
// (apply.go), each in one transaction with the cursor that says how far
// the peer's log was applied: nothing is lost or applied twice across
// cuts, duplicates and restarts.
//
// Only entries the peer authored for the parties it hosts are applied:
// operations (as the peer's party's operations, through the mechanism's
// exact engine), acknowledgements and waivers, and the peer's signed
// receipts of this node's own operations, which are kept in this node's
// log as proof of notice. The rules stay in package mechanism; this
// package translates and verifies.
package federation
