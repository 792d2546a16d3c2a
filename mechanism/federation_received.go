package mechanism

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/record"
)

// A node answers the versions of its peers' operations it applies with
// its receipt of them, an entry of its own log, which its signed
// checkpoints vouch for (a receipt carries no signature of its own). One
// batch of the writer gives one receipt (operations.received,
// record.NodeReceipts) of all the versions it applied of each author
// party, after every copy of the batch: a page of a peer's log the node
// applies in one batch costs it, and the author's node that keeps a copy
// of it, one entry rather than one a version.

// NodeReceiptsEventData is the body of operations.received.
type NodeReceiptsEventData struct {
	Receipts *record.NodeReceipts `json:"node_receipts"`
}

// received is a version of a peer's operation a batch applied: of party,
// from the log of the peer of key node.
type received struct {
	node    string
	party   string
	version record.ReceivedVersion
}

// appendNodeReceipts appends, in a batch's transaction once its requests
// have run, the node's receipt of the versions of peers' operations the
// batch applied: one operations.received for each author party (and
// peer's log), naming the versions in increasing order of the author's
// entry, by the node's active key, for the parties this node hosts. It
// returns the last event seq it wrote, or 0 if the batch applied none.
func (m *Mechanism) appendNodeReceipts(ctx context.Context, tx dc.Tx, b *batchState) (int64, error) {
	if len(b.received) == 0 {
		return 0, nil
	}
	keys, err := tx.Keys(ctx)
	if err != nil {
		return 0, err
	}
	active := activeKeys(keys)
	if len(active) == 0 {
		return 0, fmt.Errorf("node receipt: no signing key")
	}
	local := []string{}
	for _, p := range m.localParties(b.parties) {
		local = append(local, p.ID)
	}
	audience := slices.Clone(local)
	sort.Strings(audience)
	now := m.Now()
	var last int64
	for _, g := range receivedGroups(b.received) {
		for len(g) > 0 {
			n := min(len(g), record.MaxReceivedVersions)
			rs := &record.NodeReceipts{Party: g[0].party, Receiver: slices.Clone(local), Key: active[0].Verifier,
				ReceivedAt: now.Format(time.RFC3339Nano), Entries: make([]record.ReceivedVersion, n)}
			for i := range n {
				rs.Entries[i] = g[i].version
			}
			g = g[n:]
			e := &dc.Event{Type: dc.EventOperationsReceived, Time: now, Actor: dc.Actor{Role: "node"},
				Audience: append([]string{rs.Party}, audience...)}
			logged, err := m.appendLogged(ctx, tx, e, NodeReceiptsEventData{Receipts: rs})
			if err != nil {
				return 0, err
			}
			b.entries = append(b.entries, logged)
			last = e.Seq
		}
	}
	return last, nil
}

// receivedGroups splits the versions a batch applied by author party and
// peer's log, in the order each first came, each group in increasing
// order of the author's entry.
func receivedGroups(all []received) [][]received {
	type from struct{ node, party string }
	at := map[from]int{}
	var groups [][]received
	for _, r := range all {
		k := from{r.node, r.party}
		i, ok := at[k]
		if !ok {
			i = len(groups)
			at[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], r)
	}
	for _, g := range groups {
		sort.SliceStable(g, func(i, j int) bool { return g[i].version.Entry < g[j].version.Entry })
	}
	return groups
}
