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

// putMessages stores the messages in one transaction, in order.
func putMessages(t *testing.T, s deconflict.Store, ms ...*deconflict.Message) {
	t.Helper()
	putAll(t, s, deconflict.Tx.PutMessage, ms...)
}

// listMessages returns every message the filter selects, a page of
// f.Limit at a time, checking the paging.
func listMessages(t *testing.T, s deconflict.Store, f deconflict.MessageFilter) []*deconflict.Message {
	t.Helper()
	return collect(t, s, "Messages", f.Limit, func(ctx context.Context, tx deconflict.Tx, after string) ([]*deconflict.Message, string, error) {
		f.After = after
		return tx.Messages(ctx, f)
	}, func(v *deconflict.Message) string { return v.ID })
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
	putMessages(t, s, ms[:1]...)
	putMessages(t, s, ms[1:]...)

	checkAll := func(what string, want []*deconflict.Message) {
		t.Helper()
		view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
			for _, m := range want {
				got, err := tx.Message(ctx, m.ID)
				if err != nil {
					t.Fatalf("%s: Message(%s): %v", what, m.ID, err)
				}
				equal(t, what+": Message("+m.ID+")", got, wantMessage(m))
			}
			_, err := tx.Message(ctx, messageID(99))
			wantCode(t, what+": Message of an unknown ID", err, deconflict.ENotFound)
			return nil
		})
		equal(t, what+": Messages", listMessages(t, s, deconflict.MessageFilter{}), wantAll(wantMessage, want))
	}
	checkAll("stored", ms)

	// Acknowledged by the second addressee, and readdressed: a replace
	// keeps the place, and the filters follow the new addressees.
	full.Acknowledged["charlie"] = ptr(at(30))
	putMessages(t, s, full)
	checkAll("acknowledged", ms)
	full.To = []string{"bravo", "delta"}
	full.Acknowledged = map[string]*time.Time{"bravo": ptr(at(31)), "delta": nil}
	full.From.Party = "echo"
	putMessages(t, s, full)
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
	putMessages(t, s, ms[:40]...)
	putMessages(t, s, ms[40:]...)
	for i := 0; i < len(ms); i += 5 { // replaced: the order stays
		random(ms[i])
		putMessages(t, s, ms[i])
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
