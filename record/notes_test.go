package record

import (
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
)

// junkLine returns signed with a copy of its last signature line, its
// end changed: a second line by the same key, which note.Open skips
// without checking it.
func junkLine(signed string) string {
	ls := strings.Split(strings.TrimSuffix(signed, "\n"), "\n")
	l := ls[len(ls)-1]
	return signed + l[:len(l)-12] + "AAAAAAAAAAA=\n"
}

// strangerLine is a signature line by a key no verifier is given.
func strangerLine(t testing.TB) string {
	t.Helper()
	foreign, err := signNote([]byte("x\n"), []*dc.SigningKey{mustKey(t, "stranger-node")})
	if err != nil {
		t.Fatal(err)
	}
	_, line, _ := strings.Cut(string(foreign), "\n\n")
	return line
}

// TestBundleNotesExtraLines: every signed note of a bundle — its
// checkpoint, its manifest, a node receipt, a party's signed
// acknowledgement — verifies only as it was signed: a second signature
// line by its key, or a line by a key it is not checked with, fails the
// bundle, though note.Open would skip either unchecked. The bundle's
// checkpoint is the log's alone: a cosignature line on it fails too (the
// peers' cosignatures travel in Witnessed).
func TestBundleNotesExtraLines(t *testing.T) {
	k, bravo := mustKey(t, origin), mustKey(t, "bravo-node")
	f := scenario(t)
	addNodeReceipt(t, f, bravo, 15, 2)
	b := bundleFor(t, f, k, admin)
	if _, err := Verify(b, k.Verifier); err != nil {
		t.Fatalf("the bundle as built: %v", err)
	}
	stranger := strangerLine(t)
	cosigned, err := Cosign([]byte(b.Checkpoint), bravo.Signer, at(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(b *Bundle){
		"a repeated line on the checkpoint":   func(b *Bundle) { b.Checkpoint = junkLine(b.Checkpoint) },
		"a stranger's line on the checkpoint": func(b *Bundle) { b.Checkpoint += stranger },
		"a cosignature on the checkpoint":     func(b *Bundle) { b.Checkpoint = string(cosigned) },
		"a repeated line on the manifest":     func(b *Bundle) { b.Manifest = junkLine(b.Manifest) },
		"a stranger's line on the manifest":   func(b *Bundle) { b.Manifest += stranger },
	} {
		c := *b
		change(&c)
		if _, err := Verify(&c, k.Verifier); err == nil {
			t.Errorf("%s: the bundle still verifies", name)
		}
	}

	// A receipt so signed is in the log itself: the bundle of that log
	// fails.
	for name, extra := range map[string]func(string) string{
		"a repeated line":   junkLine,
		"a stranger's line": func(s string) string { return s + stranger },
	} {
		g := scenario(t)
		r := receiptOf(bravo, 15, leafOf(g, 15), 2)
		if err := SignNodeReceipt(r, bravo.Signer); err != nil {
			t.Fatal(err)
		}
		if _, err := CheckNodeReceipt(r); err != nil {
			t.Fatal(err)
		}
		r.Signed = extra(r.Signed)
		if _, err := CheckNodeReceipt(r); err == nil {
			t.Errorf("%s on a node receipt: CheckNodeReceipt accepts it", name)
		}
		logReceipt(t, g, r, "", &replicatedFrom{Node: bravo.Verifier, Index: 7, LeafHash: leafOf(g, 3)})
		if _, err := Verify(bundleFor(t, g, k, admin), k.Verifier); err == nil || !strings.Contains(err.Error(), "node receipt") {
			t.Errorf("%s on a node receipt: Verify = %v", name, err)
		}
	}

	// A party's signed acknowledgement, likewise.
	bk := newPartyKey(t, "bravo", "k1")
	ack := mustSign(t, bk.signer, AckOperation, opA, 2, "bravo")
	for name, signed := range map[string]string{"a repeated line": junkLine(ack), "a stranger's line": ack + stranger} {
		if _, err := OpenAck(signed, AckOperation, opA, 2, "bravo", []string{bk.verifier}); err == nil {
			t.Errorf("%s on a signed acknowledgement: OpenAck accepts it", name)
		}
	}
}

// TestServedCheckpointCosignatures: the checkpoint a federation node
// serves carries its peers' cosignature lines, which a reader holding
// only the log's key (deconflict witness) cannot check: ParseCheckpoint
// accepts them, and a reader holding a peer's key checks its line. A
// second line by any key, the log's or a peer's, is refused.
func TestServedCheckpointCosignatures(t *testing.T) {
	f := scenario(t)
	k, bravo, charlie := mustKey(t, origin), mustKey(t, "bravo-node"), mustKey(t, "charlie-node")
	cp, err := Checkpoint(ctx, f, origin, int64(len(f.events)), []*dc.SigningKey{k})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*dc.SigningKey{bravo, charlie} {
		if cp, err = Cosign(cp, w.Signer, at(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if _, tree, err := ParseCheckpoint(cp, k.Verifier); err != nil || tree.N != int64(len(f.events)) {
		t.Fatalf("the cosigned checkpoint: %v, %v", tree, err)
	}
	if _, err := VerifyCosignature(cp, bravo.Verifier); err != nil {
		t.Errorf("bravo's cosignature: %v", err)
	}
	text, sigs, _ := strings.Cut(string(cp), "\n\n")
	own, _, _ := strings.Cut(sigs, "\n")
	for name, msg := range map[string]string{
		"a repeated line of the log's key":       text + "\n\n" + sigs + own[:len(own)-12] + "AAAAAAAAAAA=\n",
		"a repeated cosignature line":            junkLine(string(cp)),
		"the same cosignature line twice":        string(cp) + sigs[strings.LastIndex(strings.TrimSuffix(sigs, "\n"), "\n")+1:],
		"a repeated line of the log's key first": text + "\n\n" + own[:len(own)-12] + "AAAAAAAAAAA=\n" + sigs,
	} {
		if _, _, err := ParseCheckpoint([]byte(msg), k.Verifier); err == nil {
			t.Errorf("%s: ParseCheckpoint accepts it:\n%s", name, msg)
		}
	}
}
