package record

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var ctx = context.Background()

func TestEntryBytes(t *testing.T) {
	e := &dc.Event{Seq: 7, Type: dc.EventHotlineMessage, Time: time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.FixedZone("X", 3600)),
		Actor: dc.Actor{Party: "alpha", Role: dc.RoleLiaison, TokenID: "secret"}, Subject: &dc.Subject{Kind: "message", ID: "m<1>"},
		Audience: []string{"alpha", "bravo"}, Data: json.RawMessage(` {"message":{"text":"a & b"}} `)}
	want := `{"seq":7,"type":"hotline.message","time":"2026-03-01T11:00:00.123456Z","actor":{"party":"alpha","role":"liaison"},` +
		`"subject":{"kind":"message","id":"m<1>"},"audience":["alpha","bravo"],"data":{"message":{"text":"a & b"}}}`
	if got := string(EntryBytes(e)); got != want {
		t.Fatalf("EntryBytes:\n got %s\nwant %s", got, want)
	}
	bare := &dc.Event{Seq: 1, Type: dc.EventSettingsChanged, Time: t0, Actor: dc.Actor{Role: dc.RoleAdmin}}
	want = `{"seq":1,"type":"settings.changed","time":"2026-03-01T10:00:00Z","actor":{"party":"","role":"admin"},"subject":null,"audience":[],"data":null}`
	if got := string(EntryBytes(bare)); got != want {
		t.Fatalf("EntryBytes:\n got %s\nwant %s", got, want)
	}
	// Empty and nil audiences and data are the same entry.
	bare2 := *bare
	bare2.Audience, bare2.Data = []string{}, json.RawMessage{}
	if !bytes.Equal(EntryBytes(bare), EntryBytes(&bare2)) {
		t.Fatal("nil and empty audience/data differ")
	}
	// Invalid data is embedded as a string, keeping the entry valid JSON.
	bad := *bare
	bad.Data = json.RawMessage("{not json\xff")
	if b := EntryBytes(&bad); !json.Valid(b) {
		t.Fatalf("entry with invalid data is not JSON: %s", b)
	}
	for _, ev := range []*dc.Event{e, bare, &bad} {
		back, err := parseEntry(EntryBytes(ev))
		if err != nil {
			t.Fatalf("parseEntry: %v", err)
		}
		if !bytes.Equal(EntryBytes(back), EntryBytes(ev)) {
			t.Fatalf("round trip changed the entry")
		}
	}
	if _, err := parseEntry([]byte(strings.Replace(want, `"seq":1,`, `"seq":1, `, 1))); err == nil {
		t.Fatal("parseEntry accepted a non-canonical entry")
	}
	// What json.Marshal wrote needs no check: the entry is the same.
	for _, v := range []any{
		map[string]any{"text": "a & b <c> \u2028\u2029 \x00\x1f \"q\" \\", "bad": "\xff\xfe", "n": 1.5e300, "list": []int{}},
		"plain", nil, []string{"é", "漢字", "\U0001F600"}, struct{ A json.RawMessage }{json.RawMessage(` { "x" : [ 1 , 2 ] } `)},
		// Marshal copies a RawMessage's strings without checking their UTF-8.
		struct{ A json.RawMessage }{json.RawMessage("\"bad \xff\"")},
	} {
		ev := *e
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		ev.Data = b
		if got, want := entryBytes(&ev, true), EntryBytes(&ev); !bytes.Equal(got, want) {
			t.Errorf("entry of marshalled %s:\n got %s\nwant %s", b, got, want)
		} else if _, err := parseEntry(got); err != nil {
			t.Errorf("entry of marshalled %s does not parse back: %v", b, err)
		}
	}
}

// mapReader is a log built with tlog alone, independently of Append and
// the store.
type mapReader map[int64]tlog.Hash

func (m mapReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := m[x]
		if !ok {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = h
	}
	return out, nil
}

func TestAppendMatchesTlog(t *testing.T) {
	const n = 300
	f := newFakeTx()
	ref := mapReader{}
	var roots []tlog.Hash
	for i := int64(0); i < n; i++ {
		e := f.add(t, &dc.Event{Type: dc.EventLineCheck, Time: t0.Add(time.Duration(i) * time.Second), Actor: alphaLO,
			Audience: []string{"alpha"}}, map[string]int64{"i": i})
		hs, err := tlog.StoredHashes(i, EntryBytes(e), ref)
		if err != nil {
			t.Fatal(err)
		}
		for j, h := range hs {
			ref[tlog.StoredHashIndex(0, i)+int64(j)] = h
		}
		want, err := tlog.TreeHash(i+1, ref)
		if err != nil {
			t.Fatal(err)
		}
		got, err := TreeHash(ctx, f, i+1)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("tree hash of size %d: stored %s, reference %s", i+1, got, want)
		}
		roots = append(roots, got)
	}
	if len(f.hashes) != len(ref) {
		t.Fatalf("stored %d hashes, reference %d", len(f.hashes), len(ref))
	}
	// Inclusion proofs for many (index, size) pairs.
	for size := int64(1); size <= n; size += 7 {
		for index := int64(0); index < size; index += 1 + size/11 {
			p, err := InclusionProof(ctx, f, index, size)
			if err != nil {
				t.Fatal(err)
			}
			leaf := tlog.RecordHash(EntryBytes(f.events[index]))
			if err := tlog.CheckRecord(p, size, roots[size-1], index, leaf); err != nil {
				t.Fatalf("inclusion of %d in %d: %v", index, size, err)
			}
			if index+1 < size {
				if tlog.CheckRecord(p, size, roots[size-1], index+1, leaf) == nil {
					t.Fatalf("proof of %d in %d also proves %d", index, size, index+1)
				}
			}
		}
	}
	// Consistency proofs for many (from, to) pairs.
	for to := int64(1); to <= n; to += 13 {
		for from := int64(1); from <= to; from += 1 + to/9 {
			p, err := ConsistencyProof(ctx, f, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckTree(p, to, roots[to-1], from, roots[from-1]); err != nil {
				t.Fatalf("consistency %d→%d: %v", from, to, err)
			}
			if err := CheckConsistency(tlog.Tree{N: from, Hash: roots[from-1]}, tlog.Tree{N: to, Hash: roots[to-1]}, p); err != nil {
				t.Fatalf("CheckConsistency %d→%d: %v", from, to, err)
			}
		}
	}
	if p, err := ConsistencyProof(ctx, f, 0, 5); err != nil || len(p) != 0 {
		t.Fatalf("ConsistencyProof(0, 5) = %v, %v", p, err)
	}
	for _, c := range [][2]int64{{-1, 3}, {3, 3}, {0, 0}} {
		if _, err := InclusionProof(ctx, f, c[0], c[1]); dc.ErrorCode(err) != dc.EInvalid {
			t.Errorf("InclusionProof(%d, %d): %v, want invalid", c[0], c[1], err)
		}
	}
	if _, err := InclusionProof(ctx, f, 0, n+10); dc.ErrorCode(err) != dc.ENotFound {
		t.Errorf("InclusionProof beyond the log: %v, want not found", err)
	}
	if _, err := ConsistencyProof(ctx, f, 5, 4); dc.ErrorCode(err) != dc.EInvalid {
		t.Errorf("ConsistencyProof(5, 4): %v, want invalid", err)
	}
}

func TestAppendRefusesGapsAndRewrites(t *testing.T) {
	f := newFakeTx()
	for i := 0; i < 3; i++ {
		f.add(t, &dc.Event{Type: dc.EventLineCheck, Time: t0, Actor: alphaLO}, nil)
	}
	again := *f.events[2]
	again.Type = dc.EventSettingsChanged
	if err := Append(ctx, f, &again); dc.ErrorCode(err) != dc.EExists {
		t.Fatalf("appending seq 3 twice: %v, want already_exists", err)
	}
	gap := &dc.Event{Seq: 6, Type: dc.EventLineCheck, Time: t0, Actor: alphaLO}
	err := Append(ctx, f, gap)
	if dc.ErrorCode(err) != dc.ENotFound || !strings.Contains(err.Error(), "before event 5 is logged") {
		t.Fatalf("appending seq 6 after 3: %v", err)
	}
	if err := Append(ctx, f, &dc.Event{}); err == nil {
		t.Fatal("appended seq 0")
	}
}

func mustKey(t testing.TB, name string) *dc.SigningKey {
	t.Helper()
	k, err := NewKey(name, t0)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCheckpoint(t *testing.T) {
	f := scenario(t)
	k := mustKey(t, "deconflict.test")
	if !strings.HasPrefix(k.Signer, "PRIVATE+KEY+deconflict.test+") || !strings.HasPrefix(k.Verifier, "deconflict.test+") || k.Name != "deconflict.test" {
		t.Fatalf("key %+v", k)
	}
	n := int64(len(f.events))
	cp, err := Checkpoint(ctx, f, "deconflict.test", n, []*dc.SigningKey{k})
	if err != nil {
		t.Fatal(err)
	}
	root, _ := TreeHash(ctx, f, n)
	wantText := fmt.Sprintf("deconflict.test\n%d\n%s\n\n— deconflict.test ", n, root)
	if !strings.HasPrefix(string(cp), wantText) {
		t.Fatalf("checkpoint:\n%s", cp)
	}
	origin, tree, err := ParseCheckpoint(cp, k.Verifier)
	if err != nil || origin != "deconflict.test" || tree != (tlog.Tree{N: n, Hash: root}) {
		t.Fatalf("ParseCheckpoint = %q, %v, %v", origin, tree, err)
	}

	// Two keys (rotation): either verifies.
	k2 := mustKey(t, "deconflict.test")
	both, err := Checkpoint(ctx, f, "deconflict.test", n, []*dc.SigningKey{k, k2})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{k.Verifier, k2.Verifier} {
		if _, _, err := ParseCheckpoint(both, v); err != nil {
			t.Fatalf("checkpoint signed by two keys, verified with one: %v", err)
		}
	}

	other := mustKey(t, "elsewhere")
	tampered := bytes.Replace(cp, []byte(fmt.Sprintf("\n%d\n", n)), []byte(fmt.Sprintf("\n%d\n", n+1)), 1)
	forged, _ := note.Sign(&note.Note{Text: fmt.Sprintf("deconflict.test\n%d\n%s\n", n, root)}, mustSigner(t, k2))
	for _, c := range []struct {
		name string
		msg  []byte
		keys []string
		is   error
		says string
	}{
		{"wrong key, same name", cp, []string{k2.Verifier}, ErrUnknownKey, "it is signed by deconflict.test+"},
		{"unknown key", cp, []string{other.Verifier}, ErrUnknownKey, "not by elsewhere+"},
		{"no key", cp, nil, ErrUnknownKey, "no verifier key given"},
		{"tampered size", tampered, []string{k.Verifier}, ErrBadSignature, "does not verify: the text was changed"},
		{"signed by another key", forged, []string{k.Verifier}, ErrUnknownKey, "is signed by"},
		{"not a note", []byte("deconflict.test\n1\nabc\n"), []string{k.Verifier}, ErrMalformed, "not a signed note"},
		{"bad verifier", cp, []string{"nonsense"}, nil, `verifier key "nonsense"`},
	} {
		_, _, err := ParseCheckpoint(c.msg, c.keys...)
		if err == nil || (c.is != nil && !errors.Is(err, c.is)) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v; want %v saying %q", c.name, err, c.is, c.says)
		}
	}
	// A well signed note that is not a checkpoint.
	bad, _ := note.Sign(&note.Note{Text: "deconflict.test\nten\nxyz\n"}, mustSigner(t, k))
	if _, _, err := ParseCheckpoint(bad, k.Verifier); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "bad tree size") {
		t.Errorf("malformed checkpoint: %v", err)
	}
	if _, err := NewKey("has space", t0); dc.ErrorCode(err) != dc.EInvalid {
		t.Errorf("NewKey with a space: %v", err)
	}
	if _, err := Checkpoint(ctx, f, "deconflict.test", n+1, []*dc.SigningKey{k}); dc.ErrorCode(err) != dc.ENotFound {
		t.Errorf("checkpoint beyond the log: %v", err)
	}
}

func mustSigner(t testing.TB, k *dc.SigningKey) note.Signer {
	s, err := note.NewSigner(k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConsistency(t *testing.T) {
	k := mustKey(t, "deconflict.test")
	keys := []*dc.SigningKey{k}
	f := scenario(t)
	n := int64(len(f.events))
	oldCP, _ := Checkpoint(ctx, f, "deconflict.test", n, keys)
	_, oldTree, _ := ParseCheckpoint(oldCP, k.Verifier)
	for i := 0; i < 10; i++ {
		f.add(t, &dc.Event{Type: dc.EventLineCheck, Time: at(time.Hour), Actor: alphaLO}, nil)
	}
	m := n + 10
	newCP, _ := Checkpoint(ctx, f, "deconflict.test", m, keys)
	_, newTree, _ := ParseCheckpoint(newCP, k.Verifier)
	proof, err := ConsistencyProof(ctx, f, n, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckConsistency(oldTree, newTree, proof); err != nil {
		t.Fatalf("extension: %v", err)
	}
	if err := CheckConsistency(tlog.Tree{}, newTree, nil); err != nil {
		t.Fatalf("first checkpoint: %v", err)
	}
	if err := CheckConsistency(newTree, newTree, nil); err != nil {
		t.Fatalf("same checkpoint: %v", err)
	}
	if _, tree, err := Witness(oldCP, newCP, proof, k.Verifier); err != nil || tree != newTree {
		t.Fatalf("Witness: %v", err)
	}
	if _, _, err := Witness(nil, newCP, nil, k.Verifier); err != nil {
		t.Fatalf("Witness without a kept checkpoint: %v", err)
	}

	// Rollback.
	back, _ := ConsistencyProof(ctx, f, n, m)
	if err := CheckConsistency(newTree, oldTree, back); !errors.Is(err, ErrRollback) || !strings.Contains(err.Error(), fmt.Sprintf("had %d entries", m)) {
		t.Fatalf("rollback: %v", err)
	}
	if _, _, err := Witness(newCP, oldCP, nil, k.Verifier); !errors.Is(err, ErrRollback) {
		t.Fatalf("Witness rollback: %v", err)
	}

	// A second log of the same events but for event 10, one second later:
	// the same size with another hash is a fork; grown further, the
	// consistency proof from the old checkpoint fails.
	g := newFakeTx()
	for i, e := range f.events {
		c := *e
		if i == 9 {
			c.Time = c.Time.Add(time.Second)
		}
		g.add(t, &c, nil)
	}
	forkTree := tlog.Tree{N: n}
	forkTree.Hash, _ = TreeHash(ctx, g, n)
	if err := CheckConsistency(oldTree, forkTree, nil); !errors.Is(err, ErrFork) || !strings.Contains(err.Error(), "two different logs") {
		t.Fatalf("fork: %v", err)
	}
	rewritten, _ := Checkpoint(ctx, g, "deconflict.test", m, keys)
	_, rwTree, _ := ParseCheckpoint(rewritten, k.Verifier)
	rwProof, err := ConsistencyProof(ctx, g, n, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckConsistency(oldTree, rwTree, rwProof); !errors.Is(err, ErrInconsistent) || !strings.Contains(err.Error(), "is not a prefix") {
		t.Fatalf("rewritten history: %v", err)
	}
	if _, _, err := Witness(oldCP, rewritten, rwProof, k.Verifier); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("Witness of rewritten history: %v", err)
	}
	// The honest proof does not rescue the rewritten tree either.
	if err := CheckConsistency(oldTree, rwTree, proof); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("rewritten history with the honest proof: %v", err)
	}
	// Bad signature on the new checkpoint.
	bad := bytes.Replace(newCP, []byte(fmt.Sprintf("\n%d\n", m)), []byte(fmt.Sprintf("\n%d\n", m+1)), 1)
	if _, _, err := Witness(oldCP, bad, proof, k.Verifier); !errors.Is(err, ErrBadSignature) || !strings.HasPrefix(err.Error(), "new checkpoint") {
		t.Fatalf("Witness with bad signature: %v", err)
	}
	otherLog, _ := Checkpoint(ctx, f, "other.log", m, keys)
	if _, _, err := Witness(oldCP, otherLog, proof, k.Verifier); err == nil || !strings.Contains(err.Error(), `of log "other.log"`) {
		t.Fatalf("Witness across logs: %v", err)
	}
}
