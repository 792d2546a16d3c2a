package mechanism_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/pgtest"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/postgres"
)

// TestSettingsConcurrentPatches: two admins patch different settings at
// the same moment, a hundred times over. Both changes must stand after
// every round, and each settings.changed event must name only the field
// its admin set, and that admin's token.
func TestSettingsConcurrentPatches(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testConcurrentPatches(t, freshStore(t)) })
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(context.Background(), pgtest.Database(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		testConcurrentPatches(t, st)
	})
}

func testConcurrentPatches(t *testing.T, st dc.Store) {
	ctx := context.Background()
	m, _ := openOn(t, st)
	ann := dc.Actor{Role: dc.RoleAdmin, TokenID: "token-ann"}
	bob := dc.Actor{Role: dc.RoleAdmin, TokenID: "token-bob"}
	type body struct {
		Previous dc.Settings                 `json:"previous"`
		Settings dc.Settings                 `json:"settings"`
		Changed  map[string]dc.SettingChange `json:"changed"`
		TokenID  string                      `json:"token_id"`
	}
	after := lastSeq(t, m)
	const rounds = 100
	for i := range rounds {
		h, v := 1000+float64(i), 100+float64(i)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			_, errs[0] = m.Settings().Patch(ctx, ann, dc.SettingsPatch{HorizontalM: &h})
		}()
		go func() {
			defer wg.Done()
			<-start
			_, errs[1] = m.Settings().Patch(ctx, bob, dc.SettingsPatch{VerticalM: &v})
		}()
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
		}
		got, err := m.Settings().Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.HorizontalM != h || got.VerticalM != v {
			t.Fatalf("round %d: settings %+v, want horizontal_m %g and vertical_m %g: a change was lost", i, got, h, v)
		}
	}
	evs, err := m.Events(ctx, dc.Actor{Role: dc.RoleAdmin}, after, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2*rounds {
		t.Fatalf("%d events, want %d", len(evs), 2*rounds)
	}
	for _, e := range evs {
		if e.Type != dc.EventSettingsChanged {
			t.Fatalf("event %d is %s", e.Seq, e.Type)
		}
		var b body
		if err := json.Unmarshal(e.Data, &b); err != nil {
			t.Fatal(err)
		}
		field := map[string]string{"token-ann": "horizontal_m", "token-bob": "vertical_m"}[b.TokenID]
		if field == "" || len(b.Changed) != 1 || b.Changed[field] == (dc.SettingChange{}) {
			t.Fatalf("event %d by %q changed %v: want only %q", e.Seq, b.TokenID, b.Changed, field)
		}
		// The full settings before and after differ only in that field.
		want, _ := dc.SettingsPatch{}.Apply(b.Previous)
		c := b.Changed[field]
		if field == "horizontal_m" {
			want.HorizontalM = c.To
		} else {
			want.VerticalM = c.To
		}
		if b.Settings != want {
			t.Fatalf("event %d: previous %+v, settings %+v, changed %v: they differ in more than %s", e.Seq, b.Previous, b.Settings, b.Changed, field)
		}
	}
}

// TestPatchSettingsRefusals: only admins patch; a bad field is named and
// changes nothing; a patch that changes nothing records nothing.
func TestPatchSettingsRefusals(t *testing.T) {
	ctx := context.Background()
	m, _ := mustOpen(t)
	admin := dc.Actor{Role: dc.RoleAdmin, TokenID: "t"}
	h := 5000.0
	if _, err := m.Settings().Patch(ctx, dc.Actor{Party: "alpha", Role: dc.RoleHead}, dc.SettingsPatch{HorizontalM: &h}); dc.ErrorCode(err) != dc.EPermission {
		t.Fatalf("a head patched the settings: %v", err)
	}
	bad := -1.0
	_, err := m.Settings().Patch(ctx, admin, dc.SettingsPatch{HorizontalM: &h, TimeS: &bad})
	var e *dc.Error
	if dc.ErrorCode(err) != dc.EInvalid || !errors.As(err, &e) || e.Field != "time_s" {
		t.Fatalf("a negative time_s: %v, want invalid_argument on time_s", err)
	}
	before := lastSeq(t, m)
	if got, err := m.Settings().Get(ctx); err != nil || got != dc.DefaultSettings() {
		t.Fatalf("settings after refusals: %+v, %v", got, err)
	}
	same := dc.DefaultSettings().HorizontalM
	if _, err := m.Settings().Patch(ctx, admin, dc.SettingsPatch{HorizontalM: &same}); err != nil {
		t.Fatal(err)
	}
	if n := lastSeq(t, m); n != before {
		t.Fatalf("a patch that changed nothing logged %d events", n-before)
	}
}

func lastSeq(t *testing.T, m *mechanism.Mechanism) int64 {
	t.Helper()
	var n int64
	err := m.Store().View(context.Background(), func(tx dc.Tx) (err error) {
		n, err = tx.LastSeq(context.Background())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
