package deconflict

import (
	"slices"
	"testing"
)

// TestGroupDuty: a group duty's Party names the parties it stands for and
// reads back as them; a party's own duty is not a group; a group stored
// with no parties listed stands for none.
func TestGroupDuty(t *testing.T) {
	g := &Duty{Party: GroupDutyParty([]string{"bravo", "charlie"})}
	if g.Party != "*bravo,charlie" {
		t.Errorf("group party %q, want the stored form *bravo,charlie", g.Party)
	}
	if !g.IsGroup() || !slices.Equal(g.GroupParties(), []string{"bravo", "charlie"}) {
		t.Errorf("group %q: IsGroup %v, parties %q", g.Party, g.IsGroup(), g.GroupParties())
	}
	own := &Duty{Party: "bravo"}
	if own.IsGroup() || own.GroupParties() != nil {
		t.Errorf("a party's own duty reads as a group: %v, %q", own.IsGroup(), own.GroupParties())
	}
	empty := &Duty{Party: GroupDuty}
	if !empty.IsGroup() || len(empty.GroupParties()) != 0 {
		t.Errorf("group with no parties: IsGroup %v, parties %q", empty.IsGroup(), empty.GroupParties())
	}
}
