package mechanism

import (
	"context"
	"fmt"

	dc "github.com/deconflict/deconflict"
)

// An echo, for a peer, is an entry of this node's log the peer receives
// (PeerLog) but has no need to receive soon: it carries nothing the peer
// acts on. Echoes are the entries withheld from it (none of its parties
// may see them, or they are copies of other nodes' entries, the peer's
// own among them) and this node's receipts (operations.received, or
// operation.received in older logs): a receipt's audience is the author
// party and the receiving node's parties, so the receipts a peer may see
// are of its own parties' operations, proof that this node received
// them. A node that only follows a busy peer logs little but echoes of
// that peer's work, and a node serving a waiting pull may hold back a
// page of echoes only, so that the peer pays one round of its pull for
// many of them rather than one for each commit.

// PeerLogEchoes reports whether every entry of this node's log from index
// from on (at most limit of them, none if the log is no longer than
// from) is an echo for a peer hosting parties, with the log's size. It
// reads those entries but neither signs a checkpoint nor reads their
// leaf hashes, so that a node may ask it at every commit while it holds
// a pull.
func (f Federation) PeerLogEchoes(ctx context.Context, parties []string, from int64, limit int) (size int64, echoes bool, err error) {
	m := f.m
	if from < 0 {
		return 0, false, dc.FieldErrorf(dc.EInvalid, "from", "from must be 0 or more")
	}
	if limit <= 0 || limit > MaxPeerLogPage {
		limit = MaxPeerLogPage
	}
	viewers := peerViewers(parties)
	echoes = true
	err = m.store.View(ctx, func(tx dc.Tx) error {
		n, err := tx.LastSeq(ctx)
		if err != nil {
			return err
		}
		size = n
		if from >= n {
			return nil
		}
		end := min(n, from+int64(limit))
		skip, _, err := m.rememberedCopies(ctx, tx, from, end)
		if err != nil {
			return err
		}
		evs, err := tx.EventsExcept(ctx, from, end, skip)
		if err != nil {
			return err
		}
		if int64(len(evs)+len(skip)) != end-from {
			return fmt.Errorf("peer log: %d events from %d, want %d", len(evs), from, end-from-int64(len(skip)))
		}
		for _, e := range evs {
			if !isEcho(e, viewers) {
				echoes = false
				return nil
			}
		}
		return nil
	})
	return size, echoes, err
}

// isEcho reports whether e is an echo for a peer whose parties are
// viewers: withheld from it (peerPage) or a node's receipt.
func isEcho(e *dc.Event, viewers []dc.Actor) bool {
	switch {
	case e.Type == dc.EventOperationsReceived || e.Type == dc.EventOperationReceived:
		return true
	case !visibleToAny(e, viewers):
		return true
	}
	return isCopy(e)
}
