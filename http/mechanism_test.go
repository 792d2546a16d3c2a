package http

import (
	"path/filepath"
	"testing"

	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/sqlite"
)

// testMechanism returns a loaded mechanism on a fresh embedded store,
// with parties added (each named as its ID).
func testMechanism(t *testing.T, parties ...string) *mechanism.Mechanism {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := mechanism.New(st, mechanism.Options{})
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range parties {
		if _, err := m.Access().AddParty(ctx, p, ""); err != nil {
			t.Fatal(err)
		}
	}
	return m
}
