package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/tlog"
)

const origin = "deconflict.test"

// bundleFor builds the bundle of opA for the requester and sends it
// through JSON, as it travels.
func bundleFor(t testing.TB, f *fakeTx, k *dc.SigningKey, a dc.Actor) *Bundle {
	t.Helper()
	b, err := BuildBundle(ctx, f, origin, int64(len(f.events)), []*dc.SigningKey{k}, opA, viewer(a))
	if err != nil {
		t.Fatal(err)
	}
	return roundTrip(t, b)
}

func roundTrip(t testing.TB, b *Bundle) *Bundle {
	t.Helper()
	js, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var out Bundle
	if err := json.Unmarshal(js, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func indexes(b *Bundle) (all, shown []int64) {
	for _, e := range b.Entries {
		all = append(all, e.Index)
		if !e.Withheld() {
			shown = append(shown, e.Index)
		}
	}
	return all, shown
}

func TestBundleVerifies(t *testing.T) {
	f := scenario(t)
	k := mustKey(t, origin)
	for _, c := range []struct {
		who   dc.Actor
		shown []int64
	}{
		{admin, aboutA},
		// alpha: not bravo's level-1 escalation, not bravo's message to
		// charlie.
		{alphaLO, []int64{3, 5, 8, 10, 12, 13, 15, 16, 17, 18, 19, 20}},
		// bravo: not charlie's receipt.
		{bravoLO, []int64{3, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}},
		// charlie: bravo's message about c1 is visible to charlie, but
		// nothing charlie sees ties c1 to opA, so it is withheld too.
		{charlieLO, []int64{3, 15, 16, 17, 20}},
		// charlie's observer: also every conflict's entries (so c1, and
		// bravo's message to charlie about it, tie to opA), not the
		// traffic between alpha and bravo (bravo's receipt, alpha's
		// message, bravo's level-1 escalation and its clearing).
		{dc.Actor{Party: "charlie", Role: dc.RoleObserver}, []int64{3, 8, 11, 13, 15, 16, 17, 18, 19, 20}},
	} {
		t.Run(c.who.Party+string(c.who.Role), func(t *testing.T) {
			b := bundleFor(t, f, k, c.who)
			all, shown := indexes(b)
			if fmt.Sprint(all) != fmt.Sprint(aboutA) || fmt.Sprint(shown) != fmt.Sprint(c.shown) {
				t.Fatalf("entries %v, shown %v; want %v, %v", all, shown, aboutA, c.shown)
			}
			tl, err := Verify(b, k.Verifier)
			if err != nil {
				t.Fatal(err)
			}
			if tl.KeyFromBundle || tl.TreeSize != int64(len(f.events)) || tl.Origin != origin || tl.Operation != opA || len(tl.Items) != len(aboutA) {
				t.Fatalf("timeline %+v", tl)
			}
			tl, err = Verify(b, "")
			if err != nil || !tl.KeyFromBundle {
				t.Fatalf("Verify with the bundle's key: %v, %v", tl, err)
			}
		})
	}
	if _, err := BuildBundle(ctx, f, origin, int64(len(f.events)), []*dc.SigningKey{k}, "no-such-op", viewer(admin)); dc.ErrorCode(err) != dc.ENotFound {
		t.Fatalf("bundle of an unknown operation: %v", err)
	}
	// A bundle of an earlier checkpoint holds only the entries up to it.
	b, err := BuildBundle(ctx, f, origin, 10, []*dc.SigningKey{k}, opA, viewer(admin))
	if err != nil {
		t.Fatal(err)
	}
	if all, _ := indexes(b); fmt.Sprint(all) != "[3 5 8 9]" {
		t.Fatalf("bundle at size 10: %v", all)
	}
	if _, err := Verify(roundTrip(t, b), k.Verifier); err != nil {
		t.Fatal(err)
	}
}

func TestBundleStoredEventMismatch(t *testing.T) {
	f := scenario(t)
	k := mustKey(t, origin)
	f.events[5].Time = f.events[5].Time.Add(1) // the store lost a nanosecond
	_, err := BuildBundle(ctx, f, origin, int64(len(f.events)), []*dc.SigningKey{k}, opA, viewer(admin))
	if err == nil || !strings.Contains(err.Error(), "event 6 as stored does not match the entry logged for it") {
		t.Fatalf("BuildBundle over a changed event: %v", err)
	}
}

// position returns the position in b of the entry at log index.
func position(t testing.TB, b *Bundle, index int64) int {
	for i, e := range b.Entries {
		if e.Index == index {
			return i
		}
	}
	t.Fatalf("no entry %d", index)
	return -1
}

func TestBundleTampering(t *testing.T) {
	f := scenario(t)
	k := mustKey(t, origin)
	other := mustKey(t, origin)
	good := bundleFor(t, f, k, admin)
	charlie := bundleFor(t, f, k, charlieLO)
	receipt := position(t, good, 5) // bravo's receipt, 10:05:00

	for _, c := range []struct {
		name   string
		from   *Bundle
		tamper func(b *Bundle)
		key    string
		says   []string
		is     error
	}{
		{name: "timestamp one second later", tamper: func(b *Bundle) {
			b.Entries[receipt].Data = strings.Replace(b.Entries[receipt].Data, `"time":"2026-03-01T10:05:00Z"`, `"time":"2026-03-01T10:05:01Z"`, 1)
		}, says: []string{"bundle entry #2 (log index 5, event seq 6)", "does not hash to its leaf hash: the entry was altered"}},
		{name: "timestamp changed, leaf hash recomputed", tamper: func(b *Bundle) {
			en := &b.Entries[receipt]
			en.Data = strings.Replace(en.Data, `"time":"2026-03-01T10:05:00Z"`, `"time":"2026-03-01T10:05:01Z"`, 1)
			en.LeafHash = tlog.RecordHash([]byte(en.Data))
		}, says: []string{"bundle entry #2 (log index 5, event seq 6)", "inclusion proof does not lead"}},
		{name: "receipt moved to another version", tamper: func(b *Bundle) {
			en := &b.Entries[receipt]
			en.Data = strings.Replace(en.Data, `"version":1`, `"version":2`, 1)
		}, says: []string{"log index 5", "does not hash"}},
		{name: "one byte of a proof", tamper: func(b *Bundle) {
			b.Entries[4].Proof[1][7] ^= 1
		}, says: []string{"bundle entry #5 (log index 10, event seq 11)", "inclusion proof does not lead"}},
		{name: "proof cut short", tamper: func(b *Bundle) {
			b.Entries[0].Proof = b.Entries[0].Proof[:2]
		}, says: []string{"bundle entry #1 (log index 3", "inclusion proof"}},
		{name: "drop an entry", tamper: func(b *Bundle) {
			b.Entries = append(b.Entries[:receipt:receipt], b.Entries[receipt+1:]...)
		}, says: []string{"the entry at log index 5 (event seq 6), which the signed manifest lists, is missing: an entry was dropped"}},
		{name: "drop the last entry", tamper: func(b *Bundle) {
			b.Entries = b.Entries[:len(b.Entries)-1]
		}, says: []string{"log index 20", "is missing"}},
		{name: "reorder entries", tamper: func(b *Bundle) {
			b.Entries[2], b.Entries[3] = b.Entries[3], b.Entries[2]
		}, says: []string{"bundle entry #4 (log index 8, event seq 9): out of order: it comes after log index 9"}},
		{name: "duplicate an entry", tamper: func(b *Bundle) {
			b.Entries = append(b.Entries[:3:3], b.Entries[2:]...)
		}, says: []string{"bundle entry #4 (log index 8, event seq 9): duplicates the entry before it"}},
		{name: "add an unrelated entry", tamper: func(b *Bundle) {
			data := EntryBytes(f.events[4])
			p, _ := InclusionProof(ctx, f, 4, int64(len(f.events)))
			en := Entry{Index: 4, Data: string(data), LeafHash: tlog.RecordHash(data), Proof: p}
			b.Entries = append(b.Entries[:1:1], append([]Entry{en}, b.Entries[1:]...)...)
		}, says: []string{"bundle entry #2 (log index 4, event seq 5): not listed in the signed manifest"}},
		{name: "entry index beyond the tree", tamper: func(b *Bundle) {
			b.Entries[len(b.Entries)-1].Index = 99
		}, says: []string{"log index 99", "outside the checkpoint's log of 25 entries"}},
		{name: "checkpoint size changed", tamper: func(b *Bundle) {
			b.Checkpoint = strings.Replace(b.Checkpoint, "\n25\n", "\n24\n", 1)
		}, says: []string{"checkpoint", "does not verify: the text was changed after signing"}, is: ErrBadSignature},
		{name: "checkpoint hash changed", tamper: func(b *Bundle) {
			lines := strings.SplitN(b.Checkpoint, "\n", 4)
			h, _ := tlog.TreeHash(24, HashReader(ctx, f))
			lines[2] = h.String()
			b.Checkpoint = strings.Join(lines, "\n")
		}, says: []string{"checkpoint", "does not verify"}, is: ErrBadSignature},
		{name: "manifest altered", tamper: func(b *Bundle) {
			b.Manifest = strings.Replace(b.Manifest, "\n5\n", "\n", 1)
		}, says: []string{"manifest", "does not verify"}, is: ErrBadSignature},
		{name: "a different key given", tamper: func(b *Bundle) {}, key: other.Verifier,
			says: []string{"checkpoint", "is signed by " + origin + "+", ", not by " + origin + "+"}, is: ErrUnknownKey},
		{name: "a different key in the bundle", tamper: func(b *Bundle) { b.Key = other.Verifier }, key: "-",
			says: []string{"checkpoint", "not signed by a known key"}, is: ErrUnknownKey},
		{name: "bundle re-signed by another key, verified with the log's key", tamper: func(b *Bundle) {
			resign(t, b, other)
		}, says: []string{"checkpoint", "not signed by a known key"}, is: ErrUnknownKey},
		{name: "withheld entry with forged leaf hash", from: charlie, tamper: func(b *Bundle) {
			i := position(t, b, 9)
			b.Entries[i].LeafHash = tlog.RecordHash([]byte("a different escalation"))
		}, says: []string{"bundle entry #4 (log index 9, event seq 10, content withheld)", "inclusion proof does not lead"}},
		{name: "withheld entry's proof altered", from: charlie, tamper: func(b *Bundle) {
			b.Entries[1].Proof[0][0] ^= 0x80
		}, says: []string{"content withheld", "inclusion proof"}},
		{name: "format", tamper: func(b *Bundle) { b.Format = "deconflict-evidence/0" }, says: []string{`bundle format is "deconflict-evidence/0"`}},
		{name: "operation", tamper: func(b *Bundle) { b.Operation = opB }, says: []string{"manifest is of operation " + opA + ", the bundle says " + opB}},
		{name: "origin", tamper: func(b *Bundle) { b.Origin = "elsewhere" }, says: []string{`checkpoint is of log "deconflict.test", the bundle says "elsewhere"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			from := good
			if c.from != nil {
				from = c.from
			}
			b := roundTrip(t, from) // a deep copy
			c.tamper(b)
			b = roundTrip(t, b)
			key := k.Verifier
			switch c.key {
			case "-":
				key = ""
			case "":
			default:
				key = c.key
			}
			_, err := Verify(b, key)
			if err == nil {
				t.Fatal("tampered bundle verified")
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %q is not %v", err, c.is)
			}
		})
	}
	// The original still verifies: the tampering worked on copies.
	if _, err := Verify(good, k.Verifier); err != nil {
		t.Fatal(err)
	}
	// A bundle re-signed by another key verifies only with that key, and
	// says that the key came from the bundle.
	forged := roundTrip(t, good)
	resign(t, forged, other)
	tl, err := Verify(forged, "")
	if err != nil || !tl.KeyFromBundle {
		t.Fatalf("self-consistent forged bundle: %v", err)
	}
	var out bytes.Buffer
	if err := tl.Write(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "WARNING:    verified with the key carried in the bundle itself") {
		t.Fatalf("no warning about the bundle's own key:\n%s", out.String())
	}
}

// resign replaces the signatures of a bundle by key's.
func resign(t testing.TB, b *Bundle, key *dc.SigningKey) {
	t.Helper()
	for _, s := range []*string{&b.Checkpoint, &b.Manifest} {
		text := (*s)[:strings.LastIndex(*s, "\n\n")+1]
		msg, err := signNote([]byte(text), []*dc.SigningKey{key})
		if err != nil {
			t.Fatal(err)
		}
		*s = string(msg)
	}
	b.Key = key.Verifier
}

// A server that signs a manifest listing an entry not about the operation
// is caught by the content check.
func TestVerifyAboutness(t *testing.T) {
	f := scenario(t)
	k := mustKey(t, origin)
	b := bundleFor(t, f, k, admin)
	for _, index := range []int64{4, 22} { // opX's declaration; conflict c2 (opB, opX)
		_, err := Verify(insert(t, f, k, b, index), k.Verifier)
		want := fmt.Sprintf("(log index %d, event seq %d): this %s event is not about operation %s", index, index+1, f.events[index].Type, opA)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("unrelated entry %d: %v", index, err)
		}
	}
}

func TestTimelineWrite(t *testing.T) {
	f := scenario(t)
	k := mustKey(t, origin)
	tl, err := Verify(bundleFor(t, f, k, admin), k.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tl.Write(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	t.Log("\n" + text)
	for _, want := range []string{
		"Evidence for operation " + opA,
		"Log:        deconflict.test, checkpoint of 25 entries",
		"Key:        deconflict.test+",
		"Entries:    15 (0 withheld)",
		// The declaration: who, when, first start, lead time.
		"2026-03-01T10:00:00Z  entry 3: alpha (operator) declared the operation of alpha: version 1, planned, 2 volume(s), first volume starts 2026-03-01T12:00:00Z; lead time 2h0m0s",
		// Receipts with lead time.
		"2026-03-01T10:05:00Z  entry 5: bravo (liaison) acknowledged version 1 of the operation (receipt); first volume starts 2026-03-01T12:00:00Z; lead time 1h55m0s",
		"entry 20: charlie (liaison) acknowledged version 2 of the operation (receipt); first volume starts 2026-03-01T11:10:00Z; lead time 30m0s",
		// Conflict opened, acknowledged, waived by both heads.
		"entry 8: conflict " + c1 + " opened with operation " + opB + " of bravo (separation: horizontal 0 m, vertical -3000 m, time -600 s)",
		"entry 13: bravo (liaison) acknowledged conflict " + c1,
		"entry 18: alpha (head) waived conflict " + c1 + "; waived so far by the heads of: alpha at 2026-03-01T10:35:00Z",
		"entry 19: bravo (head) waived conflict " + c1 + "; waived so far by the heads of: alpha at 2026-03-01T10:35:00Z, bravo at 2026-03-01T10:36:00Z; the conflict is waived by the heads of both parties",
		// Escalations.
		"entry 9: ESCALATION level 1 to the heads of bravo: bravo has not acknowledged conflict " + c1 + " (not acknowledged within ack_timeout_s)",
		"entry 14: escalation cleared: bravo answered about conflict " + c1,
		"entry 17: ESCALATION level 2 to the heads of every party and the admins: bravo has not acknowledged the operation (short notice)",
		// Update at short notice.
		"2026-03-01T10:30:00Z  entry 15: alpha (operator) updated the operation of alpha: version 2, planned, 2 volume(s), first volume starts 2026-03-01T11:10:00Z; lead time 40m0s",
		"entry 16: SHORT NOTICE: the operation of alpha starts 40m0s after it was declared or moved earlier, less than the agreed notice of 1h0m0s",
		// Hotline.
		"entry 10: urgent hotline message from alpha (liaison) to bravo about conflict " + c1 + `: "Your opB overlaps our opA, please move it."`,
		"entry 12: bravo (liaison) acknowledged hotline message " + m1,
		// Summary.
		"Declared by alpha (operator) at 2026-03-01T10:00:00Z (version 1), first volume starts 2026-03-01T12:00:00Z, lead time 2h0m0s.",
		"bravo acknowledged version 1 at 2026-03-01T10:05:00Z, lead time 1h55m0s",
		"charlie acknowledged version 2 at 2026-03-01T10:40:00Z, lead time 30m0s",
		"Short-notice warning at 2026-03-01T10:30:00Z: lead time 40m0s.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
	if strings.Contains(text, "WARNING") {
		t.Error("warning about the key although it was given")
	}

	// charlie's view: withheld entries are marked, nothing of them shown.
	tl, err = Verify(bundleFor(t, f, k, charlieLO), k.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := tl.Write(&out); err != nil {
		t.Fatal(err)
	}
	text = out.String()
	for _, want := range []string{
		"Entries:    15 (10 withheld)",
		"entry 5: content withheld (not visible to the requester)",
		"entry 11: content withheld (not visible to the requester)",
		"charlie acknowledged version 2",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("charlie's timeline lacks %q:\n%s", want, text)
		}
	}
	for _, not := range []string{"bravo acknowledged version 1", c1, "FYI"} {
		if strings.Contains(text, not) {
			t.Errorf("charlie's timeline shows %q", not)
		}
	}
}
