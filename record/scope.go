package record

import (
	"strconv"

	dc "github.com/deconflict/deconflict"
)

// scope decides which events are about an operation, learning as it goes
// (in log order) which conflicts, hotline messages and events are.
type scope struct {
	op        string
	conflicts map[string]bool
	messages  map[string]bool
	events    map[int64]bool // seqs of the events related so far
}

func newScope(op string) *scope {
	return &scope{op: op, conflicts: map[string]bool{}, messages: map[string]bool{}, events: map[int64]bool{}}
}

// relate reports whether e is about the operation, given the events
// related before it. An error means e's body cannot be read.
func (s *scope) relate(e *dc.Event) (bool, error) {
	ok, err := s.relate1(e)
	if ok && err == nil && e.Type != dc.EventPartyKeyAdded {
		s.events[e.Seq] = true // deliveries of key registrations are left out
	}
	return ok, err
}

// deliveredSeq returns the seq of the event a webhook.delivered event
// reports the delivery of, from its subject ({kind:"event", id:seq}), or
// 0.
func deliveredSeq(e *dc.Event) int64 {
	if e.Subject == nil || e.Subject.Kind != dc.SubjectEvent {
		return 0
	}
	seq, err := strconv.ParseInt(e.Subject.ID, 10, 64)
	if err != nil || seq < 1 || strconv.FormatInt(seq, 10) != e.Subject.ID {
		return 0
	}
	return seq
}

func (s *scope) relate1(e *dc.Event) (bool, error) {
	switch e.Type {
	case dc.EventPartyKeyAdded:
		// Every key registration goes into every bundle: the keys that
		// the parties' signed acknowledgements are checked with.
		return true, nil
	case dc.EventWebhookDelivered:
		// The delivery of an event related before it. The body is checked
		// (against the subject and the delivered entry) by Verify.
		seq := deliveredSeq(e)
		return seq > 0 && seq < e.Seq && s.events[seq], nil
	case dc.EventOperationDeclared, dc.EventOperationUpdated, dc.EventOperationActivated,
		dc.EventOperationEnded, dc.EventOperationCancelled, dc.EventOperationReceipt, dc.EventNoticeShort,
		dc.EventOperationReceived, dc.EventOperationOverride:
		return e.Subject != nil && e.Subject.Kind == dc.SubjectOperation && e.Subject.ID == s.op, nil
	case dc.EventOperationsReceived:
		// A node's receipt of versions of several operations: about each.
		rs, _, err := readNodeReceipts(e)
		if err != nil {
			return false, err
		}
		return len(rs.Names(s.op)) > 0, nil
	case dc.EventConflictOpened, dc.EventConflictAcked, dc.EventConflictResolved, dc.EventConflictWaived:
		var b conflictBody
		if err := decodeBody(e, &b, func() bool { return b.Conflict != nil }); err != nil {
			return false, err
		}
		if b.Conflict.Operations[0] == s.op || b.Conflict.Operations[1] == s.op {
			s.conflicts[b.Conflict.ID] = true
			return true, nil
		}
	case dc.EventEscalationRaised, dc.EventEscalationCleared:
		var b escalationBody
		if err := decodeBody(e, &b, func() bool { return b.Escalation != nil }); err != nil {
			return false, err
		}
		switch sub := b.Escalation.Subject; sub.Kind {
		case dc.SubjectOperation:
			return sub.ID == s.op, nil
		case dc.SubjectConflict:
			return s.conflicts[sub.ID], nil
		case dc.SubjectMessage:
			return s.messages[sub.ID], nil
		}
	case dc.EventHotlineMessage, dc.EventLineCheck, dc.EventHotlineAcked:
		var b messageBody
		if err := decodeBody(e, &b, func() bool { return b.Message != nil }); err != nil {
			return false, err
		}
		m := b.Message
		if sub := m.Subject; sub != nil && (sub.Kind == dc.SubjectOperation && sub.ID == s.op || sub.Kind == dc.SubjectConflict && s.conflicts[sub.ID]) {
			s.messages[m.ID] = true
			return true, nil
		}
	}
	return false, nil
}
