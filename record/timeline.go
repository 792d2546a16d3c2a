package record

import (
	"fmt"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Timeline is what a verified bundle shows: the entries about one
// operation, in log order, as a person reads them.
type Timeline struct {
	Operation string
	Origin    string
	// TreeSize is the size of the checkpoint the entries are proven in.
	TreeSize int64
	// Key is the verifier key the signatures were checked with.
	Key string
	// KeyFromBundle says Key was taken from the bundle itself rather than
	// given by the verifier: then the bundle is consistent, but nothing
	// shows that the log's owner signed it.
	KeyFromBundle bool
	// NodeKeysChecked says the keys of the node receipts shown, and of
	// the cosignatures, were checked against keys the verifier gave
	// (CheckNodeKeys).
	NodeKeysChecked bool
	Items           []Item
	// Cosignatures are the peer nodes' cosignatures of checkpoints of the
	// log that the bundle carries (Bundle.Witnessed), verified.
	Cosignatures []Cosignature

	starts map[int]time.Time // first volume start of each version
	last   *time.Time        // first volume start of the latest version seen
	pos    map[int64]int     // position in Items of each entry shown, by seq
	keys   []partyKey        // the keys registered so far, in log order
	// leaves are the leaf hashes of the bundle's entries so far, shown
	// or withheld, by index; copies the peer's entries the copies shown
	// so far were made from, by index.
	leaves map[int64]tlog.Hash
	copies map[int64]replicatedFrom
	// receipts are the bundle's proofs of the node receipts it shows
	// without a signature of their own.
	receipts *receiptProofs
}

// partyKey is a key registered by a party.key_added entry.
type partyKey struct {
	party, key string
	index      int64
}

// Item is one entry of a timeline.
type Item struct {
	Index int64 // leaf index in the log
	Seq   int64 // event sequence number (Index+1)
	// Withheld says the requester may not see the entry: only its place
	// in the log is proven, and the fields below are empty.
	Withheld bool
	Type     string
	Time     time.Time
	Actor    dc.Actor
	// Party is the party the entry is about: the operation's party for
	// operation.* and notice.short, the acknowledging party for receipts,
	// the party owing the answer for escalations.
	Party string
	// Version is the operation's version (operation.* events, receipts).
	Version int
	// FirstStart is when the operation's first volume starts, as of
	// Version (nil if unknown).
	FirstStart *time.Time
	// LeadTime is FirstStart minus Time for declarations, updates and
	// receipts (nil if unknown); negative once the operation had started.
	LeadTime *time.Duration
	// SignedBy is, for an acknowledgement (receipt, conflict.acknowledged)
	// the party signed itself, the name of its key the signature was
	// verified with; empty if the acknowledgement is only recorded by the
	// server.
	SignedBy string
	// Key is the verifier key a party.key_added entry registers for Party,
	// or that signed a node receipt (operation.received).
	Key string
	// Receiver is, for a node receipt, the parties the receiving node
	// hosts, as it signed them.
	Receiver []string
	// DeliveredSeq is, for a webhook.delivered entry, the seq of the
	// entry delivered (shown before it); DeliveredType its type; Webhook
	// the name of Party's webhook; Status the receiver's HTTP status;
	// DeliveredAt when it answered. FirstStart and LeadTime are then as
	// of the delivery.
	DeliveredSeq  int64
	DeliveredType string
	Webhook       string
	Status        int
	DeliveredAt   time.Time
	// Received is, for a node's receipt of several versions in one entry
	// (operations.received), each version of the operation it names, in
	// its order; the fields above are then those of the first.
	Received []VersionReceived
	// Text says what happened, in one line; for a node's receipt of
	// several versions in one entry, one line for each of Received.
	Text string
}

func newTimeline(op, origin string, size int64, key string, fromBundle bool) *Timeline {
	return &Timeline{Operation: op, Origin: origin, TreeSize: size, Key: key, KeyFromBundle: fromBundle,
		Items: []Item{}, starts: map[int]time.Time{}, pos: map[int64]int{},
		leaves: map[int64]tlog.Hash{}, copies: map[int64]replicatedFrom{}, receipts: newReceiptProofs(nil)}
}

// add appends the item of entry index, whose event is e (nil if withheld).
// The event's body was read by scope.relate or is read here.
func (t *Timeline) add(index int64, e *dc.Event) error {
	it := Item{Index: index, Seq: index + 1}
	if e == nil {
		it.Withheld = true
		it.Text = "content withheld (not visible to the requester)"
		t.Items = append(t.Items, it)
		return nil
	}
	it.Type, it.Time, it.Actor = e.Type, e.Time, e.Actor
	text, err := t.describe(&it, e)
	if err != nil {
		return err
	}
	it.Text = text
	t.pos[it.Seq] = len(t.Items)
	t.Items = append(t.Items, it)
	return nil
}

// openAck checks a party's signed acknowledgement against the keys
// registered for it so far (OpenAck) and returns the key's name. When the
// signature is by a key registered for another party, it says so.
func (t *Timeline) openAck(signed, kind, id string, version int, party string) (string, error) {
	var own []string
	for _, k := range t.keys {
		if k.party == party {
			own = append(own, k.key)
		}
	}
	if len(own) == 0 {
		if other := t.signerElsewhere(signed, party); other != "" {
			return "", fmt.Errorf("the acknowledgement is signed with %s, but no key is registered for party %s in an earlier entry", other, party)
		}
		return "", fmt.Errorf("the acknowledgement is signed, but no key is registered for party %s by a party.key_added entry before it", party)
	}
	name, err := OpenAck(signed, kind, id, version, party, own)
	if err != nil {
		if other := t.signerElsewhere(signed, party); other != "" {
			return "", fmt.Errorf("the acknowledgement is signed with %s, not with a key of party %s", other, party)
		}
		return "", err
	}
	return name, nil
}

// signerElsewhere names the key, registered for a party other than
// party, whose signature signed carries and which verifies, or "".
func (t *Timeline) signerElsewhere(signed, party string) string {
	for _, k := range t.keys {
		if k.party == party {
			continue
		}
		v, err := note.NewVerifier(k.key)
		if err != nil {
			continue
		}
		if _, err := note.Open([]byte(signed), note.VerifierList(v)); err == nil {
			return fmt.Sprintf("key %s, registered for party %s (entry %d)", v.Name(), k.party, k.index)
		}
	}
	return ""
}

// signedBy is how a timeline says who vouches for an acknowledgement.
func signedBy(party, key string) string {
	if key == "" {
		return " — recorded by the server (not signed by " + party + ")"
	}
	return fmt.Sprintf(" — signed by %s's own key %s", party, key)
}

// describe fills the fields of it that e's body gives and returns its
// text, or an error if the body cannot be read.
func (t *Timeline) describe(it *Item, e *dc.Event) (string, error) {
	who := actorName(e.Actor)
	switch e.Type {
	case dc.EventOperationDeclared, dc.EventOperationUpdated, dc.EventOperationActivated,
		dc.EventOperationEnded, dc.EventOperationCancelled:
		var b operationBody
		if err := decodeBody(e, &b, func() bool { return b.Operation != nil }); err != nil {
			return "", err
		}
		op := b.Operation
		it.Party, it.Version = op.Party, op.Version
		if b.Replicated != nil {
			t.copies[it.Index] = *b.Replicated
		}
		if s := firstStart(op); s != nil {
			t.starts[op.Version] = *s
			t.last = s
			it.FirstStart = s
			it.LeadTime = lead(*s, e.Time)
		}
		verb := strings.TrimPrefix(e.Type, "operation.")
		txt := fmt.Sprintf("%s %s the operation of %s: version %d, %s, %d volume(s)", who, verb, op.Party, op.Version, op.State, len(op.Volumes))
		if op.Callsign != nil {
			txt += fmt.Sprintf(", callsign %s", *op.Callsign)
		}
		if it.FirstStart != nil {
			txt += fmt.Sprintf(", first volume starts %s; lead time %s", fmtTime(*it.FirstStart), fmtLead(*it.LeadTime))
		}
		return txt, nil
	case dc.EventOperationReceipt:
		var b receiptBody
		if err := decodeBody(e, &b, func() bool { return b.Receipt != nil }); err != nil {
			return "", err
		}
		r := b.Receipt
		it.Party, it.Version = r.Party, r.Version
		if r.Signed != "" {
			switch {
			case r.Party != e.Actor.Party:
				return "", fmt.Errorf("the signed receipt is of party %q, but the entry's actor is of party %q", r.Party, e.Actor.Party)
			case r.Operation != e.Subject.ID:
				return "", fmt.Errorf("the signed receipt is of operation %q, but the entry is about operation %s", r.Operation, e.Subject.ID)
			}
			name, err := t.openAck(r.Signed, AckOperation, r.Operation, r.Version, r.Party)
			if err != nil {
				return "", err
			}
			it.SignedBy = name
		}
		if s, ok := t.starts[r.Version]; ok {
			it.FirstStart = &s
		} else {
			it.FirstStart = t.last
		}
		txt := fmt.Sprintf("%s acknowledged version %d of the operation (receipt)", who, r.Version)
		if it.FirstStart != nil {
			it.LeadTime = lead(*it.FirstStart, e.Time)
			txt += fmt.Sprintf("; first volume starts %s; lead time %s", fmtTime(*it.FirstStart), fmtLead(*it.LeadTime))
		}
		return txt + signedBy(r.Party, it.SignedBy), nil
	case dc.EventOperationReceived:
		return t.describeNodeReceipt(it, e)
	case dc.EventOperationsReceived:
		return t.describeNodeReceipts(it, e)
	case dc.EventOperationOverride:
		var b struct {
			Override *dc.Override `json:"override"`
		}
		if err := decodeBody(e, &b, func() bool { return b.Override != nil }); err != nil {
			return "", err
		}
		it.Party = b.Override.Party
		return fmt.Sprintf("OVERRIDE by %s: activation allowed while a peer node was unreachable; reason: %q", who, b.Override.Reason), nil
	case dc.EventNoticeShort:
		var b noticeBody
		if err := decodeBody(e, &b, func() bool { return b.Operation != "" }); err != nil {
			return "", err
		}
		it.Party = b.Party
		d, n := seconds(b.LeadTimeS), seconds(b.NoticeS)
		it.LeadTime = &d
		return fmt.Sprintf("SHORT NOTICE: the operation of %s starts %s after it was declared or moved earlier, less than the agreed notice of %s; it goes straight to the heads",
			b.Party, fmtLead(d), n), nil
	case dc.EventConflictOpened, dc.EventConflictAcked, dc.EventConflictResolved, dc.EventConflictWaived:
		var b conflictBody
		if err := decodeBody(e, &b, func() bool { return b.Conflict != nil }); err != nil {
			return "", err
		}
		c := b.Conflict
		switch e.Type {
		case dc.EventConflictOpened:
			other, otherParty := c.Operations[1], c.Parties[1]
			if c.Operations[1] == t.Operation {
				other, otherParty = c.Operations[0], c.Parties[0]
			}
			return fmt.Sprintf("conflict %s opened with operation %s of %s (separation: horizontal %g m, vertical %g m, time %g s)",
				c.ID, other, otherParty, c.Separation.HorizontalM, c.Separation.VerticalM, c.Separation.TimeS), nil
		case dc.EventConflictAcked:
			it.Party = e.Actor.Party
			if b.Signed != "" {
				name, err := t.openAck(b.Signed, AckConflict, c.ID, 0, e.Actor.Party)
				if err != nil {
					return "", err
				}
				it.SignedBy = name
			}
			return fmt.Sprintf("%s acknowledged conflict %s", who, c.ID) + signedBy(e.Actor.Party, it.SignedBy), nil
		case dc.EventConflictWaived:
			it.Party = e.Actor.Party
			txt := fmt.Sprintf("%s waived conflict %s; waived so far by the heads of: %s", who, c.ID, fmtParties(c.Waived))
			if c.Status == dc.ConflictWaived {
				txt += "; the conflict is waived by the heads of both parties"
			}
			return txt, nil
		default:
			return fmt.Sprintf("conflict %s %s (by %s)", c.ID, c.Status, who), nil
		}
	case dc.EventEscalationRaised, dc.EventEscalationCleared:
		var b escalationBody
		if err := decodeBody(e, &b, func() bool { return b.Escalation != nil }); err != nil {
			return "", err
		}
		d := b.Escalation
		it.Party = d.Party
		about := d.Subject.Kind + " " + d.Subject.ID
		if d.Subject.Kind == dc.SubjectOperation && d.Subject.ID == t.Operation {
			about = "the operation"
		}
		if e.Type == dc.EventEscalationCleared {
			return fmt.Sprintf("escalation cleared: %s answered about %s", d.Party, about), nil
		}
		to := "the heads of " + d.Party
		if d.Level >= dc.LevelAll {
			to = "the heads of every party and the admins"
		}
		txt := fmt.Sprintf("ESCALATION level %d to %s: %s has not acknowledged %s", d.Level, to, d.Party, about)
		if b.Reason != "" {
			txt += " (" + b.Reason + ")"
		}
		return txt, nil
	case dc.EventHotlineMessage, dc.EventLineCheck, dc.EventHotlineAcked:
		var b messageBody
		if err := decodeBody(e, &b, func() bool { return b.Message != nil }); err != nil {
			return "", err
		}
		m := b.Message
		if e.Type == dc.EventHotlineAcked {
			it.Party = e.Actor.Party
			return fmt.Sprintf("%s acknowledged hotline message %s", who, m.ID), nil
		}
		kind := "hotline message"
		if e.Type == dc.EventLineCheck {
			kind = "line check"
		}
		txt := fmt.Sprintf("%s %s from %s to %s", m.Urgency, kind, who, strings.Join(m.To, ", "))
		if m.Subject != nil && m.Subject.Kind == dc.SubjectConflict {
			txt += " about conflict " + m.Subject.ID
		}
		return txt + fmt.Sprintf(": %q (message %s)", m.Text, m.ID), nil
	case dc.EventPartyKeyAdded:
		var b keyBody
		if err := decodeBody(e, &b, func() bool { return b.Party != "" && b.Key != "" }); err != nil {
			return "", err
		}
		if e.Subject != nil && (e.Subject.Kind != dc.SubjectParty || e.Subject.ID != b.Party) {
			return "", fmt.Errorf("the key is registered for party %q, but the entry's subject is %s %q", b.Party, e.Subject.Kind, e.Subject.ID)
		}
		if _, err := CheckPartyKey(b.Party, b.Key); err != nil {
			return "", fmt.Errorf("the key registered for party %s: %v", b.Party, err)
		}
		it.Party, it.Key = b.Party, b.Key
		t.keys = append(t.keys, partyKey{party: b.Party, key: b.Key, index: it.Index})
		return fmt.Sprintf("key %s registered for %s by %s: %s may sign its acknowledgements with it", keyName(b.Key), b.Party, who, b.Party), nil
	case dc.EventWebhookDelivered:
		var b deliveryBody
		if err := decodeBody(e, &b, func() bool { return b.Delivery != nil }); err != nil {
			return "", err
		}
		d := b.Delivery
		seq := deliveredSeq(e)
		p, ok := t.pos[seq]
		switch {
		case d.EventSeq != seq:
			return "", fmt.Errorf("the delivery is of event seq %d, but the entry's subject is event %s", d.EventSeq, e.Subject.ID)
		case !ok:
			return "", fmt.Errorf("the delivered event seq %d is not an entry shown in this bundle before it", seq)
		case d.EventType != t.Items[p].Type:
			return "", fmt.Errorf("the delivery is of a %q event, but entry %d (event seq %d) is a %s event", d.EventType, seq-1, seq, t.Items[p].Type)
		case d.Party == "" || d.Webhook == "":
			return "", fmt.Errorf("the delivery does not name the party and its webhook")
		}
		it.Party, it.Webhook, it.Status = d.Party, d.Webhook, d.Status
		it.DeliveredSeq, it.DeliveredType = seq, d.EventType
		it.DeliveredAt = e.Time
		if d.At != "" {
			at, err := time.Parse(time.RFC3339Nano, d.At)
			if err != nil {
				return "", fmt.Errorf("delivery time %q: %v", d.At, err)
			}
			it.DeliveredAt = at.UTC()
		}
		delivered := &t.Items[p]
		it.FirstStart = delivered.FirstStart
		if it.FirstStart == nil {
			it.FirstStart = t.last
		}
		txt := fmt.Sprintf("event %d (%s, entry %d) delivered to %s's webhook %s at %s (HTTP %d)",
			seq, d.EventType, seq-1, d.Party, d.Webhook, fmtTime(it.DeliveredAt), d.Status)
		if it.FirstStart != nil {
			it.LeadTime = lead(*it.FirstStart, it.DeliveredAt)
			txt += ", lead time before the first volume " + fmtLead(*it.LeadTime)
		}
		return txt, nil
	}
	return fmt.Sprintf("%s by %s", e.Type, who), nil
}
