package mechanism

import (
	"bytes"
	"context"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/record"
)

// WitnessedCheckpoint returns the node's signed checkpoint of its log
// (Checkpoint) with, as extra signature lines of the same note, the
// cosignatures (C2SP tlog-cosignature) its peers made of that very
// checkpoint and passed back: a party's witness, or `deconflict verify`,
// sees which other nodes vouch for the same history. A peer's
// cosignature of an earlier size is not shown: it vouches for another
// checkpoint.
func (f Federation) WitnessedCheckpoint(ctx context.Context) ([]byte, error) {
	m := f.m
	cp, err := m.Record().Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	var witnesses []string
	err = m.store.View(ctx, func(tx dc.Tx) error {
		ws, err := peerWitnesses(ctx, tx)
		for _, w := range ws {
			witnesses = append(witnesses, w.Cosigned)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return addCosignatures(cp, witnesses), nil
}

// peerWitnesses returns the latest cosignature of this node's log by
// each peer it trusts (dc.Peer.Witness), with the peer's key, its parties
// and those it hosted before (dc.Peer.Hosted); none on a store without
// federation.
func peerWitnesses(ctx context.Context, tx dc.Tx) ([]record.PeerWitness, error) {
	ftx, ok := tx.(dc.FederationTx)
	if !ok {
		return nil, nil
	}
	peers, err := ftx.Peers(ctx)
	if err != nil {
		return nil, err
	}
	var out []record.PeerWitness
	for _, p := range peers {
		if !p.Removed && p.Witness != "" {
			out = append(out, record.PeerWitness{Key: p.Key, Parties: p.Parties, Hosted: p.Hosted, Cosigned: p.Witness})
		}
	}
	return out, nil
}

// addCosignatures appends to the signed note cp the signature lines of
// each note in others that has the same text and that cp lacks.
func addCosignatures(cp []byte, others []string) []byte {
	i := bytes.Index(cp, []byte("\n\n"))
	if i < 0 {
		return cp
	}
	text := cp[:i+2]
	out := bytes.Clone(cp)
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	for _, o := range others {
		if !bytes.HasPrefix([]byte(o), text) {
			continue
		}
		for _, line := range bytes.SplitAfter([]byte(o)[len(text):], []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 || bytes.Contains(out[len(text):], line) {
				continue
			}
			if !bytes.HasSuffix(line, []byte("\n")) {
				line = append(line, '\n')
			}
			out = append(out, line...)
		}
	}
	return out
}
