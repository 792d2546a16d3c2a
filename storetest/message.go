package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// listMessages returns every message the filter selects, a page of
// f.Limit at a time, checking the paging.
func listMessages(t *testing.T, s deconflict.Store, f deconflict.MessageFilter) []*deconflict.Message {
	t.Helper()
	list := func(ctx context.Context, tx deconflict.Tx) ([]*deconflict.Message, string, error) {
		return tx.Messages(ctx, f)
	}
	return collect(t, s, "Messages", f.Limit, &f.After, list, func(v *deconflict.Message) string { return v.ID })
}

func testMessageRoundTrip(t *testing.T, f Factory) {
	s := f.Open(t)
	full := newMessage(1, "alpha", "bravo", "charlie")
	check := newMessage(2, "bravo", "alpha")
	check.Kind, check.Urgency, check.Subject, check.Text = deconflict.KindLineCheck, deconflict.UrgencyRoutine, nil, ""
	check.From.TokenID = ""
	sparse := &deconflict.Message{ID: messageID(3)} // nil To, Subject and Acknowledged; zero time
	empty := &deconflict.Message{ID: messageID(4), From: deconflict.Actor{Party: "charlie", Role: deconflict.RoleLiaison},
		To: []string{}, Subject: &deconflict.Subject{}, Acknowledged: map[string]*time.Time{}, SentAt: at(4)}
	ms := []*deconflict.Message{full, check, sparse, empty}
	putAll(t, s, deconflict.Tx.PutMessage, ms[:1]...)
	putAll(t, s, deconflict.Tx.PutMessage, ms[1:]...)

	checkAll := func(what string, want []*deconflict.Message) {
		t.Helper()
		checkByID(t, s, what, deconflict.Tx.Message, func(v *deconflict.Message) string { return v.ID }, wantMessage, want, messageID(99))
		equal(t, what+": Messages", listMessages(t, s, deconflict.MessageFilter{}), wantAll(wantMessage, want))
	}
	checkAll("stored", ms)

	// Acknowledged by the second addressee, and readdressed: a replace
	// keeps the place, and the filters follow the new addressees.
	full.Acknowledged["charlie"] = ptr(at(30))
	putAll(t, s, deconflict.Tx.PutMessage, full)
	checkAll("acknowledged", ms)
	full.To = []string{"bravo", "delta"}
	full.Acknowledged = map[string]*time.Time{"bravo": ptr(at(31)), "delta": nil}
	full.From.Party = "echo"
	putAll(t, s, deconflict.Tx.PutMessage, full)
	checkAll("readdressed", ms)
	for _, tc := range []struct {
		party string
		want  []*deconflict.Message
	}{
		{"alpha", []*deconflict.Message{check}},
		{"bravo", []*deconflict.Message{full, check}},
		{"charlie", []*deconflict.Message{empty}},
		{"delta", []*deconflict.Message{full}},
		{"echo", []*deconflict.Message{full}},
	} {
		equal(t, "readdressed: Messages to or from "+tc.party,
			listMessages(t, s, deconflict.MessageFilter{Party: tc.party}), wantAll(wantMessage, tc.want))
	}
}

func testMessagesFilter(t *testing.T, f Factory) {
	s := f.Open(t)
	r := rand.New(rand.NewPCG(seed(t), 4))
	// Party IDs that are prefixes of each other, or LIKE patterns.
	parties := []string{"alpha", "al", "bravo", "a%", "a_pha", "charlie"}
	random := func(m *deconflict.Message) {
		m.From.Party = parties[r.IntN(len(parties))]
		m.To = nil
		for _, p := range parties {
			if r.IntN(3) == 0 {
				m.To = append(m.To, p)
			}
		}
		if r.IntN(10) == 0 && len(m.To) > 0 {
			m.To = append(m.To, m.To[0]) // named twice: listed once
		}
	}
	var ms []*deconflict.Message
	for i := range 70 {
		m := newMessage(i, "")
		random(m)
		ms = append(ms, m)
	}
	putAll(t, s, deconflict.Tx.PutMessage, ms[:40]...)
	putAll(t, s, deconflict.Tx.PutMessage, ms[40:]...)
	for i := 0; i < len(ms); i += 5 { // replaced: the order stays
		random(ms[i])
		putAll(t, s, deconflict.Tx.PutMessage, ms[i])
	}
	for i, party := range append([]string{"", "echo", "a", "%", "alpha%"}, parties...) {
		var want []*deconflict.Message
		for _, m := range ms {
			if party == "" || m.From.Party == party || slices.Contains(m.To, party) {
				want = append(want, wantMessage(m))
			}
		}
		for _, limit := range []int{1, 4, len(want), 0} {
			got := listMessages(t, s, deconflict.MessageFilter{Party: party, Limit: limit})
			equal(t, fmt.Sprintf("filter %d (party %q), limit %d", i, party, limit), got, want)
		}
	}
}
