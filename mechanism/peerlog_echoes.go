package mechanism

import (
	"context"
	"fmt"
	"slices"

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

// PeerLogEchoes reports whether the entries of this node's log from index
// from on are fewer than limit and each an echo for a peer hosting
// parties (so when there are none), with the log's size. A node that
// holds a pull asks it at every commit, so it is cheap: it signs no
// checkpoint and reads no leaf hash, reads no entry when there are limit
// or more (a full page is sent whatever it holds), judges the entries the
// writer remembers (federation_entries.go) without reading them, and
// stops at the first entry that is no echo, reading the rows a few at a
// time.
func (f Federation) PeerLogEchoes(ctx context.Context, parties []string, from int64, limit int) (size int64, echoes bool, err error) {
	m := f.m
	if limit, err = peerLogRange(from, limit); err != nil {
		return 0, false, err
	}
	viewers := peerViewers(parties)
	err = m.store.View(ctx, func(tx dc.Tx) error {
		n, err := tx.LastSeq(ctx)
		if err != nil {
			return err
		}
		size = n
		if n-from >= int64(limit) {
			return nil
		}
		mem := m.writer.entries.within(from, n)
		for i := range mem {
			if !mem[i].isEcho(viewers) {
				return nil
			}
		}
		copies, _, err := m.rememberedCopies(ctx, tx, from, n, mem)
		if err != nil {
			return err
		}
		skip := make([]int64, 0, len(mem)+len(copies)) // the seqs whose rows are not read
		for _, e := range mem {
			skip = append(skip, e.index+1)
		}
		skip = append(skip, copies...)
		slices.Sort(skip)
		for at, chunk := from, int64(4); at < n; at, chunk = at+chunk, 2*chunk {
			end := min(n, at+chunk)
			var except []int64 // of skip, those from at up to end
			for len(skip) > 0 && skip[0] <= end {
				except, skip = append(except, skip[0]), skip[1:]
			}
			evs, err := tx.EventsExcept(ctx, at, end, except)
			if err != nil {
				return err
			}
			if int64(len(evs)+len(except)) != end-at {
				return fmt.Errorf("peer log: %d events from %d, want %d", len(evs), at, end-at-int64(len(except)))
			}
			for _, e := range evs {
				if !isEcho(e, viewers) {
					return nil
				}
			}
		}
		echoes = true
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

// isEcho is isEcho of the event the entry logged.
func (e *loggedEntry) isEcho(viewers []dc.Actor) bool {
	switch {
	case e.typ == dc.EventOperationsReceived || e.typ == dc.EventOperationReceived:
		return true
	case e.record == nil: // a copy
		return true
	}
	return !e.visibleToAny(viewers)
}
