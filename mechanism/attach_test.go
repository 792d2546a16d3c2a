package mechanism_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// nopCompanion is a companion that keeps nothing.
type nopCompanion struct{}

func (nopCompanion) BeginAttempt() {}
func (nopCompanion) EndBatch(bool) {}

// TestDeclareAttachedParsedVolumes: an attached declaration whose volumes
// the other interface parsed already (Attachment.Volumes) is stored
// exactly as one the mechanism parses itself (times in UTC, as every
// stored volume), and conflicts alike.
func TestDeclareAttachedParsedVolumes(t *testing.T) {
	ctx := context.Background()
	m, clk := openOn(t, freshStore(t), "alpha", "bravo")
	m.Attachments().SetCompanion(nopCompanion{})
	a := dc.Actor{Party: "alpha", Role: dc.RoleOperator}
	// Times with an offset: the stored form is UTC.
	plus2 := time.FixedZone("", 2*3600)
	start := clk.Now().Add(time.Hour).In(plus2)
	decl := func() mechanism.Declaration {
		return circleDecl(10, 20, start, start.Add(time.Hour))
	}
	declare := func(att *mechanism.Attachment) *dc.Operation {
		t.Helper()
		id := uuid.NewString()
		res, err := m.Attachments().DeclareAttached(ctx, a, id, decl(), att)
		if err != nil {
			t.Fatal(err)
		}
		return res.Operation
	}
	vols, err := geo.ParseVolumes(decl().Volumes, "extents")
	if err != nil {
		t.Fatal(err)
	}
	parsed := declare(&mechanism.Attachment{Volumes: vols})
	own := declare(&mechanism.Attachment{})
	pj, _ := json.Marshal(parsed.Volumes)
	oj, _ := json.Marshal(own.Volumes)
	if string(pj) != string(oj) {
		t.Errorf("volumes parsed by the caller stored as %s, parsed by the mechanism as %s", pj, oj)
	}
	if !parsed.Start.Equal(own.Start) || !parsed.End.Equal(own.End) {
		t.Errorf("span %s–%s, want %s–%s", parsed.Start, parsed.End, own.Start, own.End)
	}
	if got := *parsed.Volumes[0].TimeStart; got.Value != start.UTC().Format(time.RFC3339Nano) {
		t.Errorf("time_start stored as %q, want it in UTC", got.Value)
	}
	// Another party's operation over the same place and time conflicts
	// with both.
	res, err := m.Declare(ctx, dc.Actor{Party: "bravo", Role: dc.RoleOperator}, uuid.NewString(), decl(), nil)
	if err != nil {
		t.Fatal(err)
	}
	with := map[string]bool{}
	for _, c := range res.Conflicts {
		with[c.Other(res.Operation.ID)] = true
	}
	if !with[parsed.ID] || !with[own.ID] {
		t.Errorf("bravo's operation conflicts with %v, want both %s and %s", with, parsed.ID, own.ID)
	}
}
