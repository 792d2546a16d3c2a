package dss

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/sqlite"
)

// TestStoredOIRRecords: the record stored for an OIR is its encoding as
// the DSS holds it, whether it was created without a subscription (its
// record encoded before the write), with one, or updated; and another
// process loading the records holds the same OIRs.
func TestStoredOIRRecords(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "dss.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := newHarness(t)
	d := h.start(db)
	body := func(lat float64, key []string, more ...any) map[string]any {
		vol := map[string]any{"volume": map[string]any{
			"outline_circle": map[string]any{"center": map[string]any{"lat": lat, "lng": 2}, "radius": map[string]any{"value": 100, "units": "M"}},
			"altitude_lower": map[string]any{"value": 0, "reference": "W84", "units": "M"},
			"altitude_upper": map[string]any{"value": 10, "reference": "W84", "units": "M"}},
			"time_start": map[string]any{"value": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "format": "RFC3339"},
			"time_end":   map[string]any{"value": time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339), "format": "RFC3339"}}
		b := map[string]any{"extents": []any{vol}, "state": "Accepted", "uss_base_url": "https://x.example", "key": key}
		for i := 0; i+1 < len(more); i += 2 {
			b[more[i].(string)] = more[i+1]
		}
		return b
	}
	const plain, subscribed = "0b7f5e9c-3a1d-4f6e-8b2a-9c0d1e2f3a4b", "1b7f5e9c-3a1d-4f6e-8b2a-9c0d1e2f3a4b"
	code, out := h.do(d, "PUT", oirPathOf(plain), body(1, []string{}))
	if code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	ovn := jsonPath(out, "operational_intent_reference", "ovn").(string)
	if code, out := h.do(d, "PUT", oirPathOf(subscribed), body(3, []string{}, "new_subscription", map[string]any{"uss_base_url": "https://x.example"})); code != 201 {
		t.Fatalf("create with a subscription: %d %v", code, out)
	}
	stored := func() map[string]string {
		docs := map[string]string{}
		if err := db.View(t.Context(), func(tx dc.Tx) error {
			return tx.(dc.DSSTx).DSSRecordsSince(t.Context(), 0, func(kind, id string, _ int64, doc []byte) error {
				if kind == kindOIR {
					docs[id] = string(doc)
				}
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		return docs
	}
	check := func(step string) {
		t.Helper()
		docs := stored()
		for _, id := range []string{plain, subscribed} {
			want, _ := json.Marshal(d.st.oirs[id])
			if docs[id] != string(want) {
				t.Errorf("%s: OIR %s stored as %s, held as %s", step, id, docs[id], want)
			}
		}
	}
	check("created")
	if code, out := h.do(d, "PUT", oirPathOf(plain)+"/"+ovn, body(1, []string{})); code != 200 {
		t.Fatalf("update: %d %v", code, out)
	}
	check("updated")
	other := h.start(db)
	for _, id := range []string{plain, subscribed} {
		a, _ := json.Marshal(d.st.oirs[id])
		b, _ := json.Marshal(other.st.oirs[id])
		if string(a) != string(b) {
			t.Errorf("OIR %s held as %s, loaded by another process as %s", id, a, b)
		}
	}
	if v := d.st.oirs[plain].Version; v != 2 {
		t.Errorf("version after the update: %d, want 2", v)
	}
}

func oirPathOf(id string) string { return "/dss/v1/operational_intent_references/" + id }

func jsonPath(v any, path ...string) any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}
