package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/tlog"
)

// witnessedBundle builds the admin's bundle of opA over the scenario, with
// bravo's node's cosignature of the log's checkpoint of 15 entries and
// charlie's of the whole log, and a cosignature by dave's node of a
// checkpoint of another history (which must be left out).
func witnessedBundle(t testing.TB) (b *Bundle, k, bravo, charlie *dc.SigningKey) {
	t.Helper()
	f := scenario(t)
	k = mustKey(t, origin)
	bravo, charlie, dave := mustKey(t, "bravo-node"), mustKey(t, "charlie-node"), mustKey(t, "dave-node")
	b, err := BuildBundle(ctx, f, origin, int64(len(f.events)), []*dc.SigningKey{k}, opA, viewer(admin))
	if err != nil {
		t.Fatal(err)
	}
	cosigned := func(size int64, by *dc.SigningKey, at time.Time) string {
		cp, err := Checkpoint(ctx, f, origin, size, []*dc.SigningKey{k})
		if err != nil {
			t.Fatal(err)
		}
		co, err := Cosign(cp, by.Signer, at)
		if err != nil {
			t.Fatal(err)
		}
		return string(co)
	}
	forged, err := signNote([]byte(origin+"\n20\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"), []*dc.SigningKey{k})
	if err != nil {
		t.Fatal(err)
	}
	other, err := Cosign(forged, dave.Signer, at(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	peers := []PeerWitness{
		{Key: bravo.Verifier, Parties: []string{"bravo"}, Cosigned: cosigned(15, bravo, at(time.Hour))},
		{Key: charlie.Verifier, Parties: []string{"charlie"}, Cosigned: cosigned(int64(len(f.events)), charlie, at(2*time.Hour))},
		{Key: dave.Verifier, Parties: []string{"dave"}, Cosigned: string(other)},
	}
	if err := AddWitnessed(ctx, f, b, []*dc.SigningKey{k}, peers); err != nil {
		t.Fatal(err)
	}
	return roundTrip(t, b), k, bravo, charlie
}

// TestWitnessedBundle: a bundle carries the peer nodes' cosignatures of
// the log's checkpoints; Verify checks them and the timeline says which
// node cosigned which checkpoint, when, and which of the bundle's entries
// it holds. A cosignature of another history is not carried. The keys
// given to CheckNodeKeys must include every cosigner's.
func TestWitnessedBundle(t *testing.T) {
	b, k, bravo, charlie := witnessedBundle(t)
	if b.Witnessed == nil || len(b.Witnessed.Checkpoints) != 2 || strings.Contains(b.Witnessed.Witnesses, "dave") {
		t.Fatalf("witnessed: %+v", b.Witnessed)
	}
	tl, err := Verify(b, k.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tl.Write(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"checkpoint 15 cosigned by bravo's node at 2026-03-01T11:00:00Z (key bravo-node+",
		"it holds 9 of this bundle's 15 entries (those before log index 15)",
		"checkpoint 25 cosigned by charlie's node at 2026-03-01T12:00:00Z (key charlie-node+",
		"it holds every entry of this bundle",
		"give each\n            peer node's key (--node-key)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the timeline lacks %q:\n%s", want, text)
		}
	}
	if err := tl.CheckNodeKeys([]string{bravo.Verifier}); err == nil || !strings.Contains(err.Error(), "checkpoint 25") {
		t.Errorf("CheckNodeKeys without charlie's key: %v", err)
	}
	if err := tl.CheckNodeKeys([]string{bravo.Verifier, charlie.Verifier}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	_ = tl.Write(&out)
	if strings.Contains(out.String(), "--node-key") {
		t.Errorf("a warning about the cosigners' keys after they were checked:\n%s", out.String())
	}

	// A bundle without cosignatures (a single server) verifies as before.
	b.Witnessed = nil
	if tl, err := Verify(b, k.Verifier); err != nil || len(tl.Cosignatures) != 0 {
		t.Errorf("without witnessed: %v, %v", tl, err)
	}
}

// TestWitnessedTampering: one changed byte anywhere in what a bundle
// carries of the cosignatures fails Verify, unless it decodes to the same
// bundle (JSON that says the same thing).
func TestWitnessedTampering(t *testing.T) {
	b, k, _, _ := witnessedBundle(t)
	orig, err := json.Marshal(b.Witnessed)
	if err != nil {
		t.Fatal(err)
	}
	tried := 0
	for i := range orig {
		changed := bytes.Clone(orig)
		changed[i] ^= 0x01
		var w Witnessed
		if json.Unmarshal(changed, &w) != nil {
			continue // not JSON: the bundle does not even read
		}
		for j := range w.Checkpoints {
			if len(w.Checkpoints[j].Proof) == 0 && j < len(b.Witnessed.Checkpoints) {
				w.Checkpoints[j].Proof = b.Witnessed.Checkpoints[j].Proof // null and [] are the same empty proof
			}
		}
		if reflect.DeepEqual(&w, b.Witnessed) {
			continue // the same value, written another way
		}
		tried++
		c := *b
		c.Witnessed = &w
		if _, err := Verify(&c, k.Verifier); err == nil {
			t.Errorf("byte %d changed (%q → %q) and the bundle still verifies", i, orig[i], changed[i])
		}
	}
	if tried < len(orig)/2 {
		t.Fatalf("only %d of %d changes were tried", tried, len(orig))
	}
	// A cosignature line of a node the list does not name fails too.
	c := *b
	w := *b.Witnessed
	w.Checkpoints = append([]CosignedCheckpoint{}, w.Checkpoints...)
	stranger := mustKey(t, "stranger-node")
	co, err := Cosign([]byte(w.Checkpoints[0].Checkpoint), stranger.Signer, at(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	w.Checkpoints[0].Checkpoint = string(co)
	c.Witnessed = &w
	if _, err := Verify(&c, k.Verifier); err == nil || !strings.Contains(err.Error(), "neither the log's key nor a node") {
		t.Errorf("a stranger's cosignature line: %v", err)
	}
}

// FuzzVerifyWitnessed: whatever a bundle carries as its cosignatures,
// Verify answers without panicking, and a bundle it accepts names only
// cosignatures of checkpoints of the log.
func FuzzVerifyWitnessed(f *testing.F) {
	b, k, _, _ := witnessedBundle(f)
	seed, err := json.Marshal(b.Witnessed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"witnesses":"","checkpoints":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var w Witnessed
		if json.Unmarshal(data, &w) != nil {
			return
		}
		c := *b
		c.Witnessed = &w
		tl, err := Verify(&c, k.Verifier)
		if err != nil {
			return
		}
		for _, co := range tl.Cosignatures {
			if co.Size < 1 || len(co.Parties) == 0 {
				t.Errorf("accepted a cosignature of %+v", co)
			}
		}
	})
}

// TestWitnessedExtraLines: a signature line that note.Open would skip
// without checking it — a second line by the same key, or one by a key
// the log does not name — fails the bundle, and so does a proof where
// none is needed, so that what verifies is exactly what the log signed,
// the peers cosigned and the proofs need; a cosigned checkpoint of no
// entries, which vouches for nothing, fails too.
func TestWitnessedExtraLines(t *testing.T) {
	b, k, bravo, _ := witnessedBundle(t)
	empty, err := signNote(formatCheckpoint(origin, tlog.Tree{}), []*dc.SigningKey{k})
	if err != nil {
		t.Fatal(err)
	}
	if empty, err = Cosign(empty, bravo.Signer, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	junk := junkLine
	foreignLine := strangerLine(t)
	for name, change := range map[string]func(w *Witnessed){
		"a repeated cosignature line": func(w *Witnessed) { w.Checkpoints[0].Checkpoint = junk(w.Checkpoints[0].Checkpoint) },
		"a repeated line of the log's key on a cosigned checkpoint": func(w *Witnessed) {
			cp := w.Checkpoints[1].Checkpoint
			text, sigs, _ := strings.Cut(cp, "\n\n")
			first, _, _ := strings.Cut(sigs, "\n")
			w.Checkpoints[1].Checkpoint = text + "\n\n" + sigs + first[:len(first)-12] + "AAAAAAAAAAA=\n"
		},
		"a repeated line on the witnesses list":   func(w *Witnessed) { w.Witnesses = junk(w.Witnesses) },
		"a stranger's line on the witnesses list": func(w *Witnessed) { w.Witnesses += foreignLine },
		"a cosigned checkpoint of no entries": func(w *Witnessed) {
			w.Checkpoints[0] = CosignedCheckpoint{Checkpoint: string(empty), Proof: tlog.TreeProof{}}
		},
		"a proof for a checkpoint of the bundle's own size": func(w *Witnessed) {
			w.Checkpoints[1].Proof = append(tlog.TreeProof{}, w.Checkpoints[0].Proof[0])
		},
	} {
		w := *b.Witnessed
		w.Checkpoints = append([]CosignedCheckpoint{}, w.Checkpoints...)
		change(&w)
		c := *b
		c.Witnessed = &w
		if _, err := Verify(&c, k.Verifier); err == nil {
			t.Errorf("%s: the bundle still verifies", name)
		}
	}
}

// relabelledBundle builds the admin's bundle of opA with bravo's and
// charlie's nodes' cosignatures of the whole log, the witnesses list
// naming each node's key with the parties given; withReceipt adds first
// bravo's node's signed receipt of opA (receiver bravo) to the log.
func relabelledBundle(t *testing.T, bravoAs, charlieAs string, withReceipt bool) (b *Bundle, k, bravo, charlie *dc.SigningKey) {
	t.Helper()
	return witnessedAs(t, []string{bravoAs}, nil, charlieAs, withReceipt)
}

// witnessedAs is relabelledBundle with bravo's node named in the
// witnesses list as hosting bravoAs, and before that each of bravoHosted.
func witnessedAs(t *testing.T, bravoAs []string, bravoHosted [][]string, charlieAs string, withReceipt bool) (b *Bundle, k, bravo, charlie *dc.SigningKey) {
	t.Helper()
	f := scenario(t)
	k = mustKey(t, origin)
	bravo, charlie = mustKey(t, "bravo-node"), mustKey(t, "charlie-node")
	if withReceipt {
		addNodeReceipt(t, f, bravo, 15, 2)
	}
	size := int64(len(f.events))
	b, err := BuildBundle(ctx, f, origin, size, []*dc.SigningKey{k}, opA, viewer(admin))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := Checkpoint(ctx, f, origin, size, []*dc.SigningKey{k})
	if err != nil {
		t.Fatal(err)
	}
	var peers []PeerWitness
	for _, n := range []struct {
		key    *dc.SigningKey
		as     []string
		hosted [][]string
	}{{bravo, bravoAs, bravoHosted}, {charlie, []string{charlieAs}, nil}} {
		co, err := Cosign(cp, n.key.Signer, at(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		peers = append(peers, PeerWitness{Key: n.key.Verifier, Parties: n.as, Hosted: n.hosted, Cosigned: string(co)})
	}
	if err := AddWitnessed(ctx, f, b, []*dc.SigningKey{k}, peers); err != nil {
		t.Fatal(err)
	}
	return roundTrip(t, b), k, bravo, charlie
}

// TestWitnessedPartiesBound: the parties a cosignature is shown as made
// by are the author's word (its witnesses list), so the author could show
// charlie's node's cosignature as bravo's while both keys are peers'.
// A receipt of the bundle signed by the same key, in which the node
// names its own parties, must agree; and so must the parties of each
// node's descriptor given to CheckNodeParties.
func TestWitnessedPartiesBound(t *testing.T) {
	// Relabelled, with bravo's receipt in the bundle: Verify refuses.
	b, k, _, _ := relabelledBundle(t, "charlie", "bravo", true)
	if _, err := Verify(b, k.Verifier); err == nil || !strings.Contains(err.Error(), "its receipt at entry") {
		t.Errorf("a bundle showing bravo's node's cosignature as charlie's, with bravo's receipt: %v", err)
	}
	b, k, _, _ = relabelledBundle(t, "bravo", "charlie", true)
	if _, err := Verify(b, k.Verifier); err != nil {
		t.Fatalf("the same bundle, rightly labelled: %v", err)
	}

	// Relabelled, without a receipt: both keys are peers', so only the
	// parties of their descriptors tell.
	b, k, bravo, charlie := relabelledBundle(t, "charlie", "bravo", false)
	tl, err := Verify(b, k.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.CheckNodeKeys([]string{bravo.Verifier, charlie.Verifier}); err != nil {
		t.Fatal(err)
	}
	nodes := map[string][][]string{bravo.Verifier: {{"bravo"}}, charlie.Verifier: {{"charlie"}}}
	if err := tl.CheckNodeParties(nodes); err == nil || !strings.Contains(err.Error(), "shown as the node of charlie's") {
		t.Errorf("CheckNodeParties of a bundle showing bravo's node's cosignature as charlie's: %v", err)
	}
	b, k, _, _ = relabelledBundle(t, "bravo", "charlie", false)
	if tl, err := Verify(b, k.Verifier); err != nil {
		t.Fatal(err)
	} else if err := tl.CheckNodeParties(nodes); err != nil {
		t.Errorf("CheckNodeParties of the bundle rightly labelled: %v", err)
	}
}

// TestWitnessedEarlierParties: a node's receipt names the parties it
// hosted when it gave it, which may differ from those it hosts when it
// cosigns (its descriptor changed since). The witnesses list names the
// parties the node hosts and, on "earlier" lines, those it hosted before:
// the receipt must name one of them, and the timeline says them. A list
// that does not say the node ever hosted the receipt's parties fails. A
// descriptor given to CheckNodeParties vouches only for the parties it
// names: a receipt of before the change needs the descriptor of then.
func TestWitnessedEarlierParties(t *testing.T) {
	b, k, bravo, charlie := witnessedAs(t, []string{"bravo", "india"}, [][]string{{"bravo"}}, "charlie", true)
	if !strings.Contains(b.Witnessed.Witnesses, bravo.Verifier+" earlier bravo\n") {
		t.Fatalf("the witnesses list does not name the parties bravo's node hosted before:\n%s", b.Witnessed.Witnesses)
	}
	tl, err := Verify(b, k.Verifier)
	if err != nil {
		t.Fatalf("a receipt given while the node hosted bravo alone: %v", err)
	}
	var out bytes.Buffer
	if err := tl.Write(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "cosigned by bravo, india's node at 2026-03-01T11:00:00Z (key bravo-node+") ||
		!strings.Contains(out.String(), "; it hosted bravo before); ") {
		t.Errorf("the timeline does not say which parties the node hosts and hosted:\n%s", out.String())
	}
	if err := tl.CheckNodeKeys([]string{bravo.Verifier, charlie.Verifier}); err != nil {
		t.Fatal(err)
	}
	now := map[string][][]string{bravo.Verifier: {{"india", "bravo"}}, charlie.Verifier: {{"charlie"}}}
	if err := tl.CheckNodeParties(now); err == nil || !strings.Contains(err.Error(), "give its descriptor of then too") {
		t.Errorf("the node's descriptor of now alone vouched for its receipt of before: %v", err)
	}
	both := map[string][][]string{bravo.Verifier: {{"india", "bravo"}, {"bravo"}}, charlie.Verifier: {{"charlie"}}}
	if err := tl.CheckNodeParties(both); err != nil {
		t.Errorf("with the node's descriptors of now and of then: %v", err)
	}
	then := map[string][][]string{bravo.Verifier: {{"bravo"}}, charlie.Verifier: {{"charlie"}}}
	if err := tl.CheckNodeParties(then); err == nil || !strings.Contains(err.Error(), "shown as the node of bravo,india's") {
		t.Errorf("the node's cosignature shown with parties no descriptor given names: %v", err)
	}

	for name, hosted := range map[string][][]string{"no earlier parties": nil, "other earlier parties": {{"india"}}} {
		b, k, _, _ := witnessedAs(t, []string{"bravo", "india"}, hosted, "charlie", true)
		if _, err := Verify(b, k.Verifier); err == nil || !strings.Contains(err.Error(), "but its receipt at entry") {
			t.Errorf("%s: a list that never names the receipt's parties for its node: %v", name, err)
		}
	}
}

// TestWitnessLines: the node lines of a witnesses list are each node's
// own line, then its earlier parties; an earlier line of a node not
// listed before it, a node listed twice, or a line of another shape is
// malformed.
func TestWitnessLines(t *testing.T) {
	bravo, charlie := mustKey(t, "bravo-node").Verifier, mustKey(t, "charlie-node").Verifier
	ws, err := parseWitnessLines([]string{bravo + " bravo,india", bravo + " earlier bravo", charlie + " charlie", bravo + " earlier india"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || !reflect.DeepEqual(ws[0].hosted, [][]string{{"bravo"}, {"india"}}) || ws[1].hosted != nil {
		t.Errorf("parsed %+v", ws)
	}
	for _, bad := range [][]string{
		{bravo + " earlier bravo", bravo + " bravo"},
		{bravo + " bravo", bravo + " india"},
		{bravo + " bravo india"},
		{bravo + " earlier "},
		{bravo},
	} {
		if _, err := parseWitnessLines(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzParseWitnessLines: whatever the node lines of a witnesses list say,
// parseWitnessLines answers without panicking, and every node it accepts
// has a key and parties, each set of them non-empty.
func FuzzParseWitnessLines(f *testing.F) {
	bravo := mustKey(f, "bravo-node").Verifier
	f.Add(bravo + " bravo,india\n" + bravo + " earlier bravo")
	f.Add(bravo + " earlier bravo")
	f.Add("x y z")
	f.Fuzz(func(t *testing.T, text string) {
		ws, err := parseWitnessLines(strings.Split(text, "\n"))
		if err != nil {
			return
		}
		for _, w := range ws {
			if w.key == "" || len(w.parties) == 0 || w.verifier == nil {
				t.Errorf("accepted %+v", w)
			}
			for _, h := range w.hosted {
				if len(h) == 0 {
					t.Errorf("accepted an empty earlier set of %+v", w)
				}
			}
		}
	})
}
