package record

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
)

// FuzzParseCheckpoint: whatever a checkpoint's bytes, ParseCheckpoint
// answers without panicking; one the strict form (a bundle's checkpoint)
// accepts is byte for byte the checkpoint the log's key signs of that
// tree (Ed25519 signatures are deterministic), so nothing was added to
// it; and one with cosignature lines keeps each key to one line.
func FuzzParseCheckpoint(f *testing.F) {
	fx := scenario(f)
	k, bravo := mustKey(f, origin), mustKey(f, "bravo-node")
	cp, err := Checkpoint(ctx, fx, origin, int64(len(fx.events)), []*dc.SigningKey{k})
	if err != nil {
		f.Fatal(err)
	}
	co, err := Cosign(cp, bravo.Signer, at(time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cp)
	f.Add(co)
	f.Add([]byte(junkLine(string(co))))
	f.Fuzz(func(t *testing.T, msg []byte) {
		o, tree, err := parseCheckpoint(msg, false, []string{k.Verifier})
		if err == nil {
			want, err := signNote(formatCheckpoint(o, tree), []*dc.SigningKey{k})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(msg, want) {
				t.Errorf("accepted as a bundle's checkpoint:\n%s\nwhich the key signs as:\n%s", msg, want)
			}
		}
		if _, _, err := ParseCheckpoint(msg, k.Verifier); err == nil {
			if n := bytes.Count(msg, []byte("\n— "+origin+" ")); n != 1 {
				t.Errorf("accepted with %d lines of the log's key:\n%s", n, msg)
			}
		}
	})
}

// FuzzCheckReceived: whatever a node receipt names, checkReceived
// answers without panicking, and accepts a receipt kept as the author's
// only if it names an entry of the bundle before it, of that leaf hash.
func FuzzCheckReceived(f *testing.F) {
	fx := scenario(f)
	k, bravo := mustKey(f, origin), mustKey(f, "bravo-node")
	addNodeReceipt(f, fx, bravo, 15, 2)
	tl, err := Verify(bundleFor(f, fx, k, admin), k.Verifier)
	if err != nil {
		f.Fatal(err)
	}
	seed, _ := json.Marshal(receiptOf(bravo, 15, leafOf(fx, 15), 2))
	f.Add(seed, []byte(`{"node":"`+bravo.Verifier+`","index":7,"leaf_hash":""}`))
	f.Add(seed, []byte(`null`))
	index := tl.Items[len(tl.Items)-1].Index
	f.Fuzz(func(t *testing.T, receipt, from []byte) {
		var r NodeReceipt
		var rf *replicatedFrom
		if json.Unmarshal(receipt, &r) != nil || json.Unmarshal(from, &rf) != nil {
			return
		}
		if _, err := tl.checkReceived(index, &r, rf); err == nil && rf != nil {
			if leaf, ok := tl.leaves[r.Entry]; !ok || r.Entry >= index || leaf.String() != r.LeafHash {
				t.Errorf("accepted a receipt of entry %d, leaf hash %s", r.Entry, r.LeafHash)
			}
		}
	})
}
