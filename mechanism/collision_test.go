package mechanism_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// TestRefusedListBounded: activating an operation that 30 refused peer
// operations (an ID collision each) would conflict with answers 409
// peer_unreachable naming the first 20 of them, by ID, and counting the
// rest: the answer stays short however many there are.
func TestRefusedListBounded(t *testing.T) {
	ctx := context.Background()
	m, clk := mustOpen(t)
	m.Federation().SetPeers([]*dc.Peer{{Key: "k1", Parties: []string{"charlie"}}})
	start := clk.Now().Add(3 * time.Hour)
	d := circleDecl(33, 35, start, start.Add(time.Hour))
	var refused []*dc.Operation
	for i := range 30 {
		refused = append(refused, &dc.Operation{ID: fmt.Sprintf("refused-%02d", i), Party: "charlie", Version: 1,
			State: dc.StatePlanned, Volumes: d.Volumes, Start: start, End: start.Add(time.Hour)})
	}
	m.Federation().SetRefused(mechanism.Refused{Operations: refused})
	d.State = dc.StateActive
	_, err := m.Declare(ctx, dc.Actor{Party: "alpha", Role: dc.RoleOperator}, uuid.NewString(), d, nil)
	msg := dc.ErrorMessage(err)
	if dc.ErrorCode(err) != dc.EPeerUnreachable || !strings.Contains(msg, "operation refused-00 of party charlie") ||
		!strings.Contains(msg, "operation refused-19 of party charlie and 10 more") || strings.Contains(msg, "refused-20") {
		t.Errorf("activating over 30 refused operations: %v", err)
	}
}
