package dss

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	dc "github.com/deconflict/deconflict"
)

// Every sub gets a valid party ID, and no two subs the same one: a sub
// spelled like the hashed ID of another keeps a party of its own.
func TestPartyOf(t *testing.T) {
	hashOf := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:6]) }
	subs := []string{"uss1", "USS1", "uss1--" + hashOf("USS1"), "uss1-" + hashOf("USS1")[:8], "-a", "--a", "a--b",
		"client@example.com", "https://auth.example/uss/42", "a-very-long-subject-name-of-more-than-28", "x"}
	seen := map[string]string{}
	for _, s := range subs {
		id := PartyOf(s)
		if err := (&dc.Party{ID: id, Name: "n"}).Validate(); err != nil {
			t.Errorf("PartyOf(%q) = %q: %v", s, id, err)
		}
		if other, ok := seen[id]; ok {
			t.Errorf("PartyOf(%q) = PartyOf(%q) = %q", s, other, id)
		}
		seen[id] = s
	}
	if PartyOf("uss1") != "uss-uss1" {
		t.Errorf("a plain sub is not kept as it stands: %q", PartyOf("uss1"))
	}
}
