package mechanism

// Federation is the part of the mechanism that talks to peer nodes: which
// parties are hosted elsewhere, applying what a peer's log says happened,
// keeping node receipts and peer alerts, and serving this node's own log and
// key to peers. It is a view over the same Mechanism (same store, writer and
// log), kept as its own type so the federation surface can be read alone.
type Federation struct{ m *Mechanism }

// Federation returns the federation view of m.
func (m *Mechanism) Federation() Federation { return Federation{m: m} }
