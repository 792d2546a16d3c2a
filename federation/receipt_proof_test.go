package federation_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	"github.com/deconflict/deconflict/record"
	"golang.org/x/mod/sumdb/note"
)

// keptReceipt waits until bravo keeps a peer's node receipt of the
// operation (a copy in its log) and returns it.
func keptReceipt(t *testing.T, bravo *testNode, op string) *dc.Event {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		evs, err := bravo.mech.Events(t.Context(), dc.Actor{Role: dc.RoleAdmin}, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Type == dc.EventOperationReceived && e.Subject.ID == op && strings.Contains(string(e.Data), `"replicated"`) {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("bravo never kept the peer's receipt")
		}
	}
}

// TestReceiptUnderCheckpointWithAnotherSignature: a peer whose signed
// checkpoint also carries a signature line by another key (a cosigner's,
// or one of its own making) cannot make the evidence of the operations it
// received unservable: the bundle proves its receipt with its checkpoint
// as signed by its key alone, verify accepts it, and the node raises no
// integrity alarm over its own store.
func TestReceiptUnderCheckpointWithAnotherSignature(t *testing.T) {
	bravo, hostile, key, op := hostileReceiver(t)
	r := receiptOf(t, bravo, key, op, op.Rev-1, []string{"hotel"}, []string{"hotel"})
	var log hostileLog
	log.add(t, receiptEvent(t, r, key.Signer, false, "bravo", "hotel"))
	other, err := record.NewKey("witness-k1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hostile.set(func(from int64) *federation.LogPage {
		p := log.page(t, from, 1, key.Signer)
		n, err := note.Open([]byte(p.Checkpoint), note.VerifierList(mustVerifier(t, key.Verifier)))
		if err != nil {
			panic(err)
		}
		s1, s2 := mustSigner(t, key.Signer), mustSigner(t, other.Signer)
		cp, err := note.Sign(&note.Note{Text: n.Text}, s1, s2)
		if err != nil {
			panic(err)
		}
		p.Checkpoint = string(cp)
		return p
	})
	keptReceipt(t, bravo, op.ID)
	b, err := bravo.mech.Record().Evidence(t.Context(), bravo.actor(dc.RoleLiaison), op.ID)
	if err != nil {
		t.Fatalf("the evidence of the operation the peer received: %v", err)
	}
	if n := bravo.mech.Health().IntegrityAlarms(); n != 0 {
		t.Fatalf("the peer's checkpoint raised %d integrity alarms", n)
	}
	tl, err := record.Verify(b, bravo.descriptor(t).Key)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := tl.CheckNodeKeys([]string{key.Verifier}); err != nil {
		t.Fatal(err)
	}
	if len(b.NodeReceipts) != 1 || strings.Count(b.NodeReceipts[0].Checkpoint, "\n— ") != 1 {
		t.Fatalf("the bundle's checkpoint of the peer's log: %+v", b.NodeReceipts)
	}
}

func mustVerifier(t *testing.T, vkey string) note.Verifier {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		panic(fmt.Sprint(t.Name(), ": ", err))
	}
	return v
}

func mustSigner(t *testing.T, skey string) note.Signer {
	s, err := note.NewSigner(skey)
	if err != nil {
		panic(fmt.Sprint(t.Name(), ": ", err))
	}
	return s
}

// TestReceiptNamingNotExactlyItsParties: a peer's node receipt must name
// as its receivers exactly the parties the peer hosts, each once, as the
// peer's own receipts do: one naming a party twice, or only some of
// them, is refused and alerted, not kept. Kept, it would make the
// author's evidence bundle fail verify --node-key with the peer's
// descriptor (which binds the key to the node's parties) and fail Verify
// outright once the peer cosigned the author's log (the author names the
// cosigner with all its parties).
func TestReceiptNamingNotExactlyItsParties(t *testing.T) {
	for name, c := range map[string]struct{ hosts, receivers []string }{
		"a party twice":        {[]string{"hotel"}, []string{"hotel", "hotel"}},
		"one of its parties":   {[]string{"hotel", "india"}, []string{"hotel"}},
		"its parties and more": {[]string{"hotel", "india"}, []string{"hotel", "india", "hotel"}},
	} {
		t.Run(name, func(t *testing.T) {
			bravo, hostile, key, op := hostileReceiverOf(t, c.hosts...)
			r := receiptOf(t, bravo, key, op, op.Rev-1, c.hosts, c.receivers)
			var log hostileLog
			log.add(t, receiptEvent(t, r, key.Signer, false, append([]string{"bravo"}, c.hosts...)...))
			hostile.set(func(from int64) *federation.LogPage { return log.page(t, from, 1, key.Signer) })
			waitAlert(t, bravo, "hotel", "forged")
			noReceiptKept(t, bravo)
		})
	}
}
