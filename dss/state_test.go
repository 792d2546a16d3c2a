package dss

import (
	"context"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
)

// recTx is a transaction that keeps DSS records in a map.
type recTx struct {
	dc.Tx
	recs map[string][]byte
}

func (t *recTx) PutDSSRecord(_ context.Context, kind, id string, _ int64, doc []byte) error {
	t.recs[kind+"/"+id] = doc
	return nil
}

func (t *recTx) DSSRecordsSince(context.Context, int64, func(string, string, int64, []byte) error) error {
	return nil
}

func (t *recTx) DSSLastSeq(context.Context) (int64, error) { return 0, nil }

func testOIR(t *testing.T, id string) *oir {
	t.Helper()
	start := time.Now().Add(time.Hour)
	v := dc.Volume4D{
		Volume: dc.Volume3D{
			OutlineCircle: &dc.Circle{Center: &dc.LatLng{Lat: dc.Float(1), Lng: dc.Float(1)}, Radius: &dc.Measure{Value: dc.Float(100), Units: "M"}},
			AltitudeLower: &dc.Altitude{Value: dc.Float(0), Reference: "W84", Units: "M"},
			AltitudeUpper: &dc.Altitude{Value: dc.Float(10), Reference: "W84", Units: "M"},
		},
		TimeStart: &dc.Time{Value: start.Format(time.RFC3339), Format: "RFC3339"},
		TimeEnd:   &dc.Time{Value: start.Add(time.Hour).Format(time.RFC3339), Format: "RFC3339"},
	}
	vols, err := geo.ParseVolumes([]dc.Volume4D{v}, "extents")
	if err != nil {
		t.Fatal(err)
	}
	return &oir{ID: id, Manager: "uss1", Extents: []dc.Volume4D{v}, vols: vols, SubscriptionID: "s1"}
}

// A failed attempt or batch leaves memory as it was; a committed one
// keeps its changes; readers wait while a batch is under way.
func TestStateRollback(t *testing.T) {
	ctx := context.Background()
	st := newState()
	tx := &recTx{recs: map[string][]byte{}}
	o := testOIR(t, "a")

	st.BeginAttempt()
	if err := st.setOIR(ctx, tx, "a", o); err != nil {
		t.Fatal(err)
	}
	st.BeginAttempt() // the store retries the transaction
	if st.oirs["a"] != nil || st.oirIx.Len() != 0 || len(st.dependents) != 0 || st.seq != 0 {
		t.Fatal("a retried attempt kept the failed attempt's change")
	}
	if err := st.setOIR(ctx, tx, "a", o); err != nil {
		t.Fatal(err)
	}
	st.EndBatch(false)
	if st.oirs["a"] != nil || st.oirIx.Len() != 0 {
		t.Fatal("a failed batch kept its change")
	}

	st.BeginAttempt()
	if err := st.setOIR(ctx, tx, "a", o); err != nil {
		t.Fatal(err)
	}
	read := make(chan bool)
	go func() {
		st.mu.RLock()
		defer st.mu.RUnlock()
		read <- st.oirs["a"] != nil
	}()
	select {
	case <-read:
		t.Fatal("a reader saw the state during a batch")
	case <-time.After(20 * time.Millisecond):
	}
	st.EndBatch(true)
	if !<-read {
		t.Fatal("the committed change is not seen")
	}
	if !st.dependents["s1"]["a"] || st.oirIx.Len() != 1 || st.seq != 1 {
		t.Fatal("the committed change is not indexed")
	}
	st.EndBatch(true) // a batch that never began: no-op
}
