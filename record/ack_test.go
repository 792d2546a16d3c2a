package record

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/tlog"
)

// partyKeys are test keys of the parties, generated once.
type partyKeys struct{ signer, verifier string }

func newPartyKey(t testing.TB, party, suffix string) partyKeys {
	t.Helper()
	s, v, err := NewPartyKey(party, suffix)
	if err != nil {
		t.Fatal(err)
	}
	return partyKeys{s, v}
}

func mustSign(t testing.TB, signer, kind, id string, version int, party string) string {
	t.Helper()
	s, err := SignAck(signer, kind, id, version, party)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// forge puts the signature lines of other under the text of signed: a
// signature by the same key that does not verify.
func forge(signed, other string) string {
	i, j := strings.Index(signed, "\n\n"), strings.Index(other, "\n\n")
	return signed[:i] + other[j:]
}

func TestAckSignOpen(t *testing.T) {
	bravo := newPartyKey(t, "bravo", "k1")
	bravo2 := newPartyKey(t, "bravo", "")
	alpha := newPartyKey(t, "alpha", "k1")
	keys := []string{bravo2.verifier, bravo.verifier, alpha.verifier}

	if got, want := AckText(AckOperation, opA, 2, "bravo"), "deconflict acknowledgement\noperation "+opA+"\nversion 2\nparty bravo\n"; got != want {
		t.Fatalf("AckText(operation) = %q, want %q", got, want)
	}
	if got, want := AckText(AckConflict, c1, 0, "bravo"), "deconflict acknowledgement\nconflict "+c1+"\nparty bravo\n"; got != want {
		t.Fatalf("AckText(conflict) = %q, want %q", got, want)
	}

	op := mustSign(t, bravo.signer, AckOperation, opA, 2, "bravo")
	if !strings.HasPrefix(op, AckText(AckOperation, opA, 2, "bravo")+"\n— bravo-k1 ") {
		t.Fatalf("signed receipt:\n%s", op)
	}
	if name, err := OpenAck(op, AckOperation, opA, 2, "bravo", keys); err != nil || name != "bravo-k1" {
		t.Fatalf("OpenAck = %q, %v", name, err)
	}
	conf := mustSign(t, bravo2.signer, AckConflict, c1, 0, "bravo")
	if name, err := OpenAck(conf, AckConflict, c1, 0, "bravo", keys); err != nil || name != "bravo" {
		t.Fatalf("OpenAck(conflict) = %q, %v", name, err)
	}

	for _, c := range []struct {
		name   string
		signed string
		kind   string
		id     string
		ver    int
		party  string
		keys   []string
		says   string
	}{
		{"another version", op, AckOperation, opA, 1, "bravo", keys,
			`the signed text is "deconflict acknowledgement; operation ` + opA + `; version 2; party bravo", not "deconflict acknowledgement; operation ` + opA + `; version 1; party bravo"`},
		{"another operation", op, AckOperation, opB, 2, "bravo", keys, "the signed text is"},
		{"a conflict ack as a receipt", conf, AckOperation, c1, 1, "bravo", keys, "the signed text is"},
		{"forged signature", forge(op, mustSign(t, bravo.signer, AckOperation, opA, 1, "bravo")), AckOperation, opA, 2, "bravo", keys,
			"the signature by key bravo-k1+"},
		{"alpha's key for bravo", mustSign(t, alpha.signer, AckOperation, opA, 2, "alpha"), AckOperation, opA, 2, "bravo", keys,
			"it is signed by alpha-k1+"},
		{"no key of the party", op, AckOperation, opA, 2, "bravo", []string{alpha.verifier}, "party bravo has no key to check it with"},
		{"not a note", "hello\n", AckOperation, opA, 2, "bravo", keys, "not a signed note"},
		{"bad kind", op, "message", opA, 2, "bravo", keys, `kind "message"`},
		{"bad version", op, AckOperation, opA, 0, "bravo", keys, "version 0"},
		{"id with a newline", op, AckOperation, opA + "\nversion 2", 2, "bravo", keys, "without spaces"},
	} {
		_, err := OpenAck(c.signed, c.kind, c.id, c.ver, c.party, c.keys)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: OpenAck error %v does not say %q", c.name, err, c.says)
		}
	}
	if _, err := SignAck(alpha.signer, AckOperation, opA, 2, "bravo"); err == nil || !strings.Contains(err.Error(), "is not a key of party bravo") {
		t.Errorf("SignAck with alpha's key for bravo: %v", err)
	}
	if _, err := CheckPartyKey("bravo", alpha.verifier); err == nil {
		t.Error("CheckPartyKey accepted alpha's key for bravo")
	}
	// "bravo-k1" may name a key of bravo; "bravox" may not.
	if name, err := CheckPartyKey("bravo", bravo.verifier); err != nil || name != "bravo-k1" {
		t.Errorf("CheckPartyKey = %q, %v", name, err)
	}
	if _, err := CheckPartyKey("bravo", newPartyKey(t, "bravox", "").verifier); err == nil {
		t.Error("CheckPartyKey accepted bravox's key for bravo")
	}
}

// Helpers that append the events the mechanism writes.

func addKey(t testing.TB, f *fakeTx, party, verifier string, when time.Time) {
	f.add(t, &dc.Event{Type: dc.EventPartyKeyAdded, Time: when, Actor: adminActor, Subject: &dc.Subject{Kind: "party", ID: party}},
		map[string]string{"party": party, "key": verifier})
}

func addReceipt(t testing.TB, f *fakeTx, a dc.Actor, version int, signed string, when time.Time) {
	r := map[string]any{"operation": opA, "party": a.Party, "version": version, "at": when.Format(time.RFC3339Nano)}
	if signed != "" {
		r["signed"] = signed
	}
	f.add(t, &dc.Event{Type: dc.EventOperationReceipt, Time: when, Actor: a,
		Subject: &dc.Subject{Kind: "operation", ID: opA}, Audience: []string{"alpha", a.Party}}, map[string]any{"receipt": r})
}

func addConflictAck(t testing.TB, f *fakeTx, a dc.Actor, signed string, when time.Time) {
	conf := &dc.Conflict{ID: c1, Status: dc.ConflictWaived, Operations: [2]string{opA, opB}, Parties: [2]string{"alpha", "bravo"},
		DetectedAt: at(10 * time.Minute), Acknowledged: map[string]*time.Time{"alpha": ptr(at(35 * time.Minute)), "bravo": ptr(at(29 * time.Minute))},
		Waived: map[string]*time.Time{}}
	p := conflictEvent(dc.EventConflictAcked, a, when, conf)
	p.data.(map[string]any)["signed"] = signed
	f.put(t, p)
}

func addDelivery(t testing.TB, f *fakeTx, party, webhook string, seq int64, typ string, status int, when time.Time) {
	f.add(t, &dc.Event{Type: dc.EventWebhookDelivered, Time: when, Actor: dc.Actor{Role: "system"},
		Subject: &dc.Subject{Kind: "event", ID: strconv.FormatInt(seq, 10)}, Audience: []string{party}},
		map[string]any{"delivery": map[string]any{"party": party, "webhook": webhook, "event_seq": seq, "event_type": typ,
			"webhook_id": fmt.Sprintf("evt_%d", seq), "status": status, "at": when.Format(time.RFC3339Nano)}})
}

// signedScenario extends the scenario (25 entries) with key
// registrations, signed acknowledgements and webhook deliveries.
func signedScenario(t testing.TB, bravo, alpha partyKeys) *fakeTx {
	f := scenario(t)
	addKey(t, f, "bravo", bravo.verifier, at(56*time.Minute))                                                   // 25
	addKey(t, f, "alpha", alpha.verifier, at(57*time.Minute))                                                   // 26
	addReceipt(t, f, bravoLO, 2, mustSign(t, bravo.signer, AckOperation, opA, 2, "bravo"), at(60*time.Minute))  // 27
	addConflictAck(t, f, bravoHead, mustSign(t, bravo.signer, AckConflict, c1, 0, "bravo"), at(61*time.Minute)) // 28
	addDelivery(t, f, "bravo", "ops-centre", 4, dc.EventOperationDeclared, 204, at(62*time.Minute))             // 29: opA declared
	addDelivery(t, f, "charlie", "charlie-hq", 5, dc.EventOperationDeclared, 200, at(62*time.Minute))           // 30: opX, unrelated
	addDelivery(t, f, "alpha", "alpha-ops", 28, dc.EventOperationReceipt, 200, at(63*time.Minute))              // 31: the signed receipt
	addDelivery(t, f, "charlie", "charlie-hq", 31, dc.EventWebhookDelivered, 204, at(64*time.Minute))           // 32: of 31, unrelated
	addDelivery(t, f, "bravo", "ops-centre", 27, dc.EventPartyKeyAdded, 204, at(65*time.Minute))                // 33: of alpha's key, left out
	return f
}

func TestSignedAcksAndDeliveries(t *testing.T) {
	bravo, alpha := newPartyKey(t, "bravo", "k1"), newPartyKey(t, "alpha", "k1")
	f := signedScenario(t, bravo, alpha)
	k := mustKey(t, origin)
	all := append(append([]int64{}, aboutA...), 25, 26, 27, 28, 29, 31)
	for _, c := range []struct {
		who   dc.Actor
		shown []int64
	}{
		{admin, all},
		// alpha does not see bravo's delivery.
		{alphaLO, []int64{3, 5, 8, 10, 12, 13, 15, 16, 17, 18, 19, 20, 25, 26, 27, 28, 31}},
		// bravo does not see alpha's delivery.
		{bravoLO, []int64{3, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 25, 26, 27, 28, 29}},
		// charlie sees the key registrations only.
		{charlieLO, []int64{3, 15, 16, 17, 20, 25, 26}},
	} {
		b := bundleFor(t, f, k, c.who)
		got, shown := indexes(b)
		if fmt.Sprint(got) != fmt.Sprint(all) || fmt.Sprint(shown) != fmt.Sprint(c.shown) {
			t.Fatalf("%s: entries %v, shown %v; want %v, %v", c.who.Party, got, shown, all, c.shown)
		}
		if _, err := Verify(b, k.Verifier); err != nil {
			t.Fatalf("%s: %v", c.who.Party, err)
		}
	}

	tl, err := Verify(bundleFor(t, f, k, admin), k.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	var receipt *Item
	for i := range tl.Items {
		if tl.Items[i].Index == 27 {
			receipt = &tl.Items[i]
		}
	}
	if receipt == nil || receipt.SignedBy != "bravo-k1" || receipt.Version != 2 || receipt.Party != "bravo" {
		t.Fatalf("signed receipt item: %+v", receipt)
	}
	var out bytes.Buffer
	if err := tl.Write(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	t.Log("\n" + text)
	for _, want := range []string{
		"Entries:    21 (0 withheld)",
		"entry 5: bravo (liaison) acknowledged version 1 of the operation (receipt); first volume starts 2026-03-01T12:00:00Z; lead time 1h55m0s — recorded by the server (not signed by bravo)",
		"entry 25: key bravo-k1+",
		" registered for bravo by admin: bravo may sign its acknowledgements with it",
		"entry 27: bravo (liaison) acknowledged version 2 of the operation (receipt); first volume starts 2026-03-01T11:10:00Z; lead time 10m0s — signed by bravo's own key bravo-k1",
		"entry 13: bravo (liaison) acknowledged conflict " + c1 + " — recorded by the server (not signed by bravo)",
		"entry 28: bravo (head) acknowledged conflict " + c1 + " — signed by bravo's own key bravo-k1",
		"entry 29: event 4 (operation.declared, entry 3) delivered to bravo's webhook ops-centre at 2026-03-01T11:02:00Z (HTTP 204), lead time before the first volume 58m0s",
		"entry 31: event 28 (operation.acknowledged, entry 27) delivered to alpha's webhook alpha-ops at 2026-03-01T11:03:00Z (HTTP 200), lead time before the first volume 7m0s",
		// Summary.
		"bravo acknowledged version 1 at 2026-03-01T10:05:00Z, lead time 1h55m0s — recorded by the server (not signed by bravo)",
		"bravo acknowledged version 2 at 2026-03-01T11:00:00Z, lead time 10m0s — signed by bravo's own key bravo-k1",
		"Delivered to webhooks:",
		"event 4 (operation.declared) to bravo's webhook ops-centre at 2026-03-01T11:02:00Z (HTTP 204), lead time before the first volume 58m0s",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
	if strings.Contains(text, "charlie-hq") {
		t.Error("the timeline shows a delivery of an unrelated event")
	}

	// Key registrations alone do not make a bundle.
	if _, err := BuildBundle(ctx, f, origin, int64(len(f.events)), []*dc.SigningKey{k}, "no-such-op", viewer(admin)); dc.ErrorCode(err) != dc.ENotFound {
		t.Fatalf("bundle of an unknown operation: %v", err)
	}
}

// A server that records an acknowledgement whose signature is not the
// party's own is caught by Verify, which names the entry.
func TestSignedAckFailures(t *testing.T) {
	bravo, alpha := newPartyKey(t, "bravo", "k1"), newPartyKey(t, "alpha", "k1")
	k := mustKey(t, origin)
	v2 := mustSign(t, bravo.signer, AckOperation, opA, 2, "bravo")
	withKeys := func(t testing.TB) *fakeTx {
		f := scenario(t)
		addKey(t, f, "bravo", bravo.verifier, at(56*time.Minute)) // 25
		addKey(t, f, "alpha", alpha.verifier, at(57*time.Minute)) // 26
		return f
	}
	for _, c := range []struct {
		name string
		log  func(t testing.TB) *fakeTx
		says []string
	}{
		{"forged signature", func(t testing.TB) *fakeTx {
			f := withKeys(t)
			addReceipt(t, f, bravoLO, 2, forge(v2, mustSign(t, bravo.signer, AckOperation, opA, 1, "bravo")), at(time.Hour))
			return f
		}, []string{"(log index 27, event seq 28)", "the signature by key bravo-k1+", "does not verify", "forged"}},
		{"signed with the key of another party", func(t testing.TB) *fakeTx {
			f := withKeys(t)
			addReceipt(t, f, bravoLO, 2, mustSign(t, alpha.signer, AckOperation, opA, 2, "alpha"), at(time.Hour))
			return f
		}, []string{"(log index 27, event seq 28)", "signed with key alpha-k1, registered for party alpha (entry 26), not with a key of party bravo"}},
		{"text of another version", func(t testing.TB) *fakeTx {
			f := withKeys(t)
			addReceipt(t, f, bravoLO, 2, mustSign(t, bravo.signer, AckOperation, opA, 1, "bravo"), at(time.Hour))
			return f
		}, []string{"(log index 27, event seq 28)", `the signed text is "deconflict acknowledgement; operation ` + opA + `; version 1; party bravo", not "deconflict acknowledgement; operation ` + opA + `; version 2; party bravo"`}},
		{"text of another conflict", func(t testing.TB) *fakeTx {
			f := withKeys(t)
			addConflictAck(t, f, bravoHead, mustSign(t, bravo.signer, AckConflict, c2, 0, "bravo"), at(time.Hour))
			return f
		}, []string{"(log index 27, event seq 28)", "conflict.acknowledged event", "the signed text is", "conflict " + c2}},
		{"conflict ack signed by the other party", func(t testing.TB) *fakeTx {
			f := withKeys(t)
			addConflictAck(t, f, bravoHead, mustSign(t, alpha.signer, AckConflict, c1, 0, "alpha"), at(time.Hour))
			return f
		}, []string{"(log index 27, event seq 28)", "key alpha-k1, registered for party alpha"}},
		{"signed before the key was registered", func(t testing.TB) *fakeTx {
			f := scenario(t)
			addReceipt(t, f, bravoLO, 2, v2, at(time.Hour))           // 25
			addKey(t, f, "bravo", bravo.verifier, at(61*time.Minute)) // 26
			return f
		}, []string{"(log index 25, event seq 26)", "no key is registered for party bravo by a party.key_added entry before it"}},
		{"receipt of one party signed for another", func(t testing.TB) *fakeTx {
			f := withKeys(t)
			addReceipt(t, f, charlieLO, 2, v2, at(time.Hour))
			return f
		}, []string{"(log index 27, event seq 28)", "signed with key bravo-k1, registered for party bravo (entry 25), but no key is registered for party charlie"}},
		{"alpha's key registered for bravo", func(t testing.TB) *fakeTx {
			f := scenario(t)
			addKey(t, f, "bravo", alpha.verifier, at(56*time.Minute))
			return f
		}, []string{"(log index 25, event seq 26)", "party.key_added event", `the key's name "alpha-k1" is not "bravo"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := c.log(t)
			b := bundleFor(t, f, k, admin)
			_, err := Verify(b, k.Verifier)
			if err == nil {
				t.Fatal("bundle verified")
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

// insert adds the entry at index of f to a copy of b and re-signs the
// manifest, as a server that lies about what is related would.
func insert(t testing.TB, f *fakeTx, k *dc.SigningKey, b *Bundle, index int64) *Bundle {
	t.Helper()
	n := int64(len(f.events))
	data := EntryBytes(f.events[index])
	p, err := InclusionProof(ctx, f, index, n)
	if err != nil {
		t.Fatal(err)
	}
	en := Entry{Index: index, Data: string(data), LeafHash: tlog.RecordHash(data), Proof: p}
	c := roundTrip(t, b)
	at := 0
	for at < len(c.Entries) && c.Entries[at].Index < index {
		at++
	}
	c.Entries = append(c.Entries[:at:at], append([]Entry{en}, c.Entries[at:]...)...)
	tree := tlog.Tree{N: n}
	tree.Hash, _ = TreeHash(ctx, f, n)
	m, err := signNote(formatManifest(origin, opA, tree, c.Entries), []*dc.SigningKey{k})
	if err != nil {
		t.Fatal(err)
	}
	c.Manifest = string(m)
	return c
}

func TestDeliveryFailures(t *testing.T) {
	bravo, alpha := newPartyKey(t, "bravo", "k1"), newPartyKey(t, "alpha", "k1")
	f := signedScenario(t, bravo, alpha)
	k := mustKey(t, origin)
	good := bundleFor(t, f, k, admin)

	// A delivery of an event that is not in the bundle: of opX's
	// declaration (seq 5), of the unrelated delivery (seq 31), of a key
	// registration (seq 27).
	for index, of := range map[int64]int64{30: 5, 32: 31, 33: 27} {
		_, err := Verify(insert(t, f, k, good, index), k.Verifier)
		want := fmt.Sprintf("(log index %d, event seq %d): this webhook.delivered entry reports the delivery of event seq %d (log index %d), which is not an entry shown in this bundle before it",
			index, index+1, of, of-1)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("delivery %d of an entry not in the bundle: %v", index, err)
		}
	}

	// A delivery the server recorded inconsistently.
	for _, c := range []struct {
		name string
		add  func(f *fakeTx)
		says string
	}{
		{"wrong type", func(f *fakeTx) {
			addDelivery(t, f, "bravo", "ops-centre", 4, dc.EventOperationUpdated, 204, at(time.Hour))
		},
			`the delivery is of a "operation.updated" event, but entry 3 (event seq 4) is a operation.declared event`},
		{"subject and body disagree", func(f *fakeTx) {
			f.add(t, &dc.Event{Type: dc.EventWebhookDelivered, Time: at(time.Hour), Actor: dc.Actor{Role: "system"},
				Subject: &dc.Subject{Kind: "event", ID: "4"}, Audience: []string{"bravo"}},
				map[string]any{"delivery": map[string]any{"party": "bravo", "webhook": "ops-centre", "event_seq": 16, "event_type": dc.EventOperationUpdated, "status": 204}})
		}, "the delivery is of event seq 16, but the entry's subject is event 4"},
	} {
		f := scenario(t)
		c.add(f)
		_, err := Verify(bundleFor(t, f, k, admin), k.Verifier)
		if err == nil || !strings.Contains(err.Error(), "(log index 25, event seq 26)") || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
