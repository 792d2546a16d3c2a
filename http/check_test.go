package http

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// TestAppendJSONFloat checks that floats are written as encoding/json
// writes them, over the whole range and at the format's edges.
func TestAppendJSONFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-6, 9.999999e-7, 1e-7, 1e20, 1e21, 123456789e13, -2000, 304.8, 9260,
		math.MaxFloat64, math.SmallestNonzeroFloat64, -3600.000001}
	for range 100000 {
		values = append(values, math.Float64frombits(r.Uint64()), (r.Float64()-0.5)*math.Pow(10, float64(r.IntN(60)-30)))
	}
	for _, f := range values {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONFloat(nil, f); !bytes.Equal(got, want) {
			t.Fatalf("%v: got %s, want %s", f, got, want)
		}
	}
}

// TestCheckAnswerAsEncodingJSON checks that the answer assembled from
// encoded operations is byte for byte what encoding/json writes for the
// same hits (contract §6), and the IDs-only answer its lighter shape.
func TestCheckAnswerAsEncodingJSON(t *testing.T) {
	callsign, notes := "CS <1> & \"2\"", "ü \u2028 <b>"
	ops := []*dc.Operation{
		{ID: "0f7ae6a2-6a5c-4d2f-9d38-6a1a1f3a9f01", Party: "alpha", Version: 3, State: dc.StateActive, Priority: -2,
			Callsign: &callsign, ShareCallsign: true, Volumes: []dc.Volume4D{{TimeStart: &dc.Time{Value: "2026-11-25T12:00:00Z", Format: "RFC3339"}}},
			CreatedAt: time.Date(2026, 11, 25, 8, 0, 0, 123000, time.UTC), UpdatedAt: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)},
		{ID: "1f7ae6a2-6a5c-4d2f-9d38-6a1a1f3a9f02", Party: "bravo", Version: 1, State: dc.StatePlanned, Notes: &notes},
	}
	hits := []mechanism.Hit{
		{Operation: ops[0], Separation: dc.Separation{HorizontalM: 0, VerticalM: -2000, TimeS: -3600}},
		{Operation: ops[1], Separation: dc.Separation{HorizontalM: 1234.5678901234, VerticalM: 1e-7, TimeS: 299.999}},
	}
	for _, n := range []int{0, 1, 2} {
		var encoded []mechanism.EncodedHit
		for _, h := range hits[:n] {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(h.Operation); err != nil {
				t.Fatal(err)
			}
			encoded = append(encoded, mechanism.EncodedHit{ID: h.Operation.ID, Operation: bytes.TrimSuffix(buf.Bytes(), []byte("\n")), Separation: h.Separation})
		}
		rec := httptest.NewRecorder()
		writeJSON(rec, 200, map[string]any{"conflicts": append([]mechanism.Hit{}, hits[:n]...)})
		got := answer(encoded, false)
		if want := rec.Body.Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("%d hits:\n got %s\nwant %s", n, got, want)
		}

		type idHit struct {
			ID         string        `json:"id"`
			Separation dc.Separation `json:"separation"`
		}
		ids := []idHit{}
		for _, h := range hits[:n] {
			ids = append(ids, idHit{h.Operation.ID, h.Separation})
		}
		rec = httptest.NewRecorder()
		writeJSON(rec, 200, map[string]any{"conflicts": ids})
		got = answer(encoded, true)
		if want := rec.Body.Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("%d hits, IDs only:\n got %s\nwant %s", n, got, want)
		}
	}
}

// answer frames the conflicts of a what-if check as the list writer does
// (list.go): {"conflicts":[ITEM,ITEM]} and a newline.
func answer(hits []mechanism.EncodedHit, idsOnly bool) []byte {
	b := []byte(`{"conflicts":[`)
	for i, h := range hits {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCheckHit(b, h, idsOnly)
	}
	return append(b, "]}\n"...)
}

// TestCheckAnswerOverHTTP checks that POST /v1/check answers byte for byte
// what encoding/json writes for the hits of mechanism.Check, which reads
// every operation from the store — before and after the operations are
// replaced and cancelled, and the second time from memory.
func TestCheckAnswerOverHTTP(t *testing.T) {
	ctx := t.Context()
	m := testMechanism(t, "alpha", "bravo")
	tok, _, err := m.Access().IssueToken(ctx, dc.RoleObserver, "bravo", "")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(NewServer(m, Options{}))
	defer ts.Close()

	start := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	vol := func(lat, lng float64) dc.Volume4D {
		v := dc.Volume4D{
			TimeStart: &dc.Time{Value: start.Format(time.RFC3339), Format: "RFC3339"},
			TimeEnd:   &dc.Time{Value: start.Add(time.Hour).Format(time.RFC3339), Format: "RFC3339"},
		}
		v.Volume.OutlineCircle = &dc.Circle{Center: &dc.LatLng{Lat: dc.Float(lat), Lng: dc.Float(lng)}, Radius: &dc.Measure{Value: dc.Float(3000), Units: "M"}}
		v.Volume.AltitudeLower = &dc.Altitude{Value: dc.Float(100), Reference: "W84", Units: "M"}
		v.Volume.AltitudeUpper = &dc.Altitude{Value: dc.Float(900), Reference: "W84", Units: "FT"}
		return v
	}
	alpha := dc.Actor{Party: "alpha", Role: dc.RoleOperator}
	versions := map[string]int{}
	// Enough of them that the first answers pass maxBufferedAnswer and go
	// out item by item; after the cancels they are assembled whole.
	for i := range 120 {
		callsign, notes := fmt.Sprintf("A<%d>&\"x\"", i), "private & <secret>"
		d := mechanism.Declaration{Volumes: []dc.Volume4D{vol(33.55+0.0005*float64(i%20), 36.3+0.0005*float64(i/20))}, Callsign: &callsign, ShareCallsign: i%2 == 0, Notes: &notes, Priority: i - 3}
		res, err := m.Declare(ctx, alpha, uuid.NewString(), d, nil)
		if err != nil {
			t.Fatal(err)
		}
		versions[res.Operation.ID] = res.Operation.Version
	}
	query := []dc.Volume4D{vol(33.55, 36.32)}
	body, _ := json.Marshal(map[string]any{"volumes": query})
	compare := func(when string) int {
		t.Helper()
		hits, err := m.Check(ctx, dc.Actor{Party: "bravo", Role: dc.RoleObserver}, query)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		writeJSON(rec, 200, map[string]any{"conflicts": hits})
		type idHit struct {
			ID         string        `json:"id"`
			Separation dc.Separation `json:"separation"`
		}
		ids := []idHit{}
		for _, h := range hits {
			ids = append(ids, idHit{h.Operation.ID, h.Separation})
		}
		idRec := httptest.NewRecorder()
		writeJSON(idRec, 200, map[string]any{"conflicts": ids})
		for range 2 {
			for _, c := range []struct {
				path string
				want []byte
			}{{"/v1/check", rec.Body.Bytes()}, {"/v1/check?fields=id", idRec.Body.Bytes()}} {
				req, _ := http.NewRequest("POST", ts.URL+c.path, bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				_, _ = got.ReadFrom(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !bytes.Equal(got.Bytes(), c.want) {
					t.Fatalf("%s, %s: %d\n got %s\nwant %s", when, c.path, resp.StatusCode, got.Bytes(), c.want)
				}
				// An answer assembled whole goes with its length.
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" ||
					len(c.want) <= maxBufferedAnswer && resp.ContentLength != int64(len(c.want)) {
					t.Fatalf("%s, %s: Content-Type %q, Content-Length %d for %d bytes", when, c.path, ct, resp.ContentLength, len(c.want))
				}
			}
		}
		if len(hits) == 0 {
			t.Fatalf("%s: the check finds nothing: the test tests nothing", when)
		}
		return rec.Body.Len()
	}
	if n := compare("declared"); n <= maxBufferedAnswer {
		t.Fatalf("the answer is %d bytes; the test needs one over %d", n, maxBufferedAnswer)
	}
	n := 0
	for id, v := range versions {
		n++
		switch n % 3 {
		case 0, 2:
			if _, err := m.Cancel(ctx, alpha, id, &v); err != nil {
				t.Fatal(err)
			}
		case 1:
			callsign := "SHARED"
			d := mechanism.Declaration{Volumes: []dc.Volume4D{vol(33.56, 36.31)}, Callsign: &callsign, ShareCallsign: true}
			if _, err := m.Declare(ctx, alpha, id, d, &v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := compare("after replaces and cancels"); n > maxBufferedAnswer {
		t.Fatalf("the answer is %d bytes; the test needs one under %d", n, maxBufferedAnswer)
	}
}
