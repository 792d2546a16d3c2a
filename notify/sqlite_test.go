package notify

import (
	"context"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/sqlite"
)

// TestSQLite runs a failure, a recovery and a restart (the store closed
// and opened again) against the real store.
func TestSQLite(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/d.db"
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	var up atomic.Bool
	rc := newReceiver(t, func(int, *http.Request) int {
		if up.Load() {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	appendEvent(t, db, dc.EventOperationDeclared) // before the webhook
	w := addHook(t, db, "alpha", "ops", rc.srv.URL, dc.EventOperationDeclared, dc.EventConflictOpened)
	appendEvent(t, db, dc.EventOperationDeclared)          // 2
	appendEvent(t, db, dc.EventConflictOpened, "bravo")    // 3: not alpha's
	appendEvent(t, db, dc.EventOperationUpdated)           // 4: not subscribed
	appendEvent(t, db, dc.EventConflictOpened, "alpha")    // 5
	appendEvent(t, db, dc.EventOperationDeclared, "alpha") // 6

	if n, err := New(db, Options{Allow: loopback, Now: clk.Now, Logger: quiet()}).DeliverOnce(ctx); n != 0 || err != nil {
		t.Fatalf("DeliverOnce = %d, %v", n, err)
	}
	st := getHook(t, db, "alpha", "ops").Delivery
	if st.Attempts != 1 || st.LastStatus != 0 || st.LastError != FailStatus || st.NextAttempt == nil || st.FailingSince == nil || st.DeliveredSeq != 1 {
		t.Fatalf("delivery state %+v", st)
	}

	// Restart: close the store and open it again.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = sqlite.Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	up.Store(true)
	d := New(db, Options{Allow: loopback, Now: clk.Now, Logger: quiet()})
	if n, err := d.DeliverOnce(ctx); n != 0 || err != nil || len(rc.got()) != 1 {
		t.Fatalf("retried before NextAttempt: %d, %v", n, err)
	}
	clk.Set(*st.NextAttempt)
	if n, err := d.DeliverOnce(ctx); n != 3 || err != nil {
		t.Fatalf("DeliverOnce = %d, %v; want 3 (state %+v, received %v)", n, err,
			getHook(t, db, "alpha", "ops").Delivery, ids(rc.got()))
	}
	got := rc.got()
	if !slices.Equal(ids(got), []string{"evt_2", "evt_2", "evt_5", "evt_6"}) {
		t.Fatalf("received %v", ids(got))
	}
	for _, r := range got {
		if err := Verify(w.Secret, r.header, r.body, clk.Now(), 0); err != nil {
			t.Fatal(err)
		}
	}
	if want := eventBody(t, db, 5); string(got[2].body) != string(want) {
		t.Fatalf("body %s, want %s", got[2].body, want)
	}
	st = getHook(t, db, "alpha", "ops").Delivery
	if st.DeliveredSeq != 6 || st.Delivered != 3 || st.Attempts != 0 || st.FailingSince != nil || st.NextAttempt != nil {
		t.Fatalf("delivery state %+v", st)
	}
}
