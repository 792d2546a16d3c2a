package mechanism_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/sqlite"
	"github.com/google/uuid"
)

// clock is a test clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// mustOpen returns a mechanism on a fresh store with parties alpha, bravo
// and charlie, and its clock.
func mustOpen(tb testing.TB) (*mechanism.Mechanism, *clock) {
	tb.Helper()
	return openOn(tb, freshStore(tb), "alpha", "bravo", "charlie")
}

// freshStore returns an empty SQLite store, closed when the test ends.
func freshStore(tb testing.TB) *sqlite.DB {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), tb.TempDir()+"/d.db")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// openOn returns a loaded mechanism on st, on a test clock it also
// returns, after adding the parties.
func openOn(tb testing.TB, st dc.Store, parties ...string) (*mechanism.Mechanism, *clock) {
	tb.Helper()
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	m := mechanism.New(st, mechanism.Options{Now: clk.Now})
	if err := m.Load(ctx); err != nil {
		tb.Fatal(err)
	}
	for _, p := range parties {
		if _, err := m.Access().AddParty(ctx, p, ""); err != nil {
			tb.Fatal(err)
		}
	}
	return m, clk
}

func circleDecl(lat, lng float64, start, end time.Time) mechanism.Declaration {
	v := dc.Volume4D{
		TimeStart: &dc.Time{Value: start.Format(time.RFC3339), Format: "RFC3339"},
		TimeEnd:   &dc.Time{Value: end.Format(time.RFC3339), Format: "RFC3339"},
	}
	v.Volume.OutlineCircle = &dc.Circle{Center: &dc.LatLng{Lat: dc.Float(lat), Lng: dc.Float(lng)}, Radius: &dc.Measure{Value: dc.Float(2000), Units: "M"}}
	v.Volume.AltitudeLower = &dc.Altitude{Value: dc.Float(0), Reference: "W84", Units: "M"}
	v.Volume.AltitudeUpper = &dc.Altitude{Value: dc.Float(1000), Reference: "W84", Units: "M"}
	return mechanism.Declaration{Volumes: []dc.Volume4D{v}}
}

func levels(t *testing.T, m *mechanism.Mechanism) map[string]int {
	t.Helper()
	es, err := m.Duty().Escalations(context.Background(), dc.Actor{Role: dc.RoleAdmin}, true)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range es {
		out[e.Subject.Kind+"/"+e.Party] = e.Level
	}
	return out
}

// alphaOp is an operation of alpha in a test of duties, declared, changed
// and acknowledged on the test clock; each step fails the test on error.
type alphaOp struct {
	t       *testing.T
	m       *mechanism.Mechanism
	id      string
	d       mechanism.Declaration
	version int
}

// declareAlpha declares an operation of alpha an hour long, starting three
// hours from the clock's time.
func declareAlpha(t *testing.T, m *mechanism.Mechanism, clk *clock) *alphaOp {
	t.Helper()
	start := clk.Now().Add(3 * time.Hour)
	o := &alphaOp{t: t, m: m, id: uuid.NewString(), d: circleDecl(10, 10, start, start.Add(time.Hour))}
	res, err := m.Declare(context.Background(), dc.Actor{Party: "alpha", Role: dc.RoleOperator}, o.id, o.d, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.version = res.Operation.Version
	return o
}

// change replaces the operation with its declaration as edit leaves it.
func (o *alphaOp) change(edit func(*mechanism.Declaration)) {
	o.t.Helper()
	edit(&o.d)
	v := o.version
	res, err := o.m.Declare(context.Background(), dc.Actor{Party: "alpha", Role: dc.RoleOperator}, o.id, o.d, &v)
	if err != nil {
		o.t.Fatal(err)
	}
	o.version = res.Operation.Version
}

// ack acknowledges version of the operation as a liaison of party.
func (o *alphaOp) ack(party string, version int) {
	o.t.Helper()
	if _, err := o.m.AckOperation(context.Background(), dc.Actor{Party: party, Role: dc.RoleLiaison}, o.id, version, ""); err != nil {
		o.t.Fatal(err)
	}
}

// longer makes an operation's volume an hour longer: a change other
// parties see.
func longer(d *mechanism.Declaration) {
	end, _ := time.Parse(time.RFC3339, d.Volumes[0].TimeEnd.Value)
	d.Volumes[0].TimeEnd = &dc.Time{Value: end.Add(time.Hour).Format(time.RFC3339), Format: "RFC3339"}
}

func TestEscalationClimbsOnceAndClears(t *testing.T) {
	ctx := context.Background()
	m, clk := mustOpen(t)
	alpha := dc.Actor{Party: "alpha", Role: dc.RoleOperator}
	start := clk.Now().Add(3 * time.Hour)
	id := uuid.NewString()
	if _, err := m.Declare(ctx, alpha, id, circleDecl(10, 10, start, start.Add(time.Hour)), nil); err != nil {
		t.Fatal(err)
	}
	// Bravo and charlie's clash with alpha: bravo declares on top of it.
	bravo := dc.Actor{Party: "bravo", Role: dc.RoleOperator}
	res, err := m.Declare(ctx, bravo, uuid.NewString(), circleDecl(10, 10, start, start.Add(time.Hour)), nil)
	if err != nil || len(res.Conflicts) != 1 {
		t.Fatalf("declare bravo: %v, %d conflicts", err, len(res.Conflicts))
	}
	cid := res.Conflicts[0].ID

	if n, err := m.Duty().Escalate(ctx); err != nil || n != 0 {
		t.Fatalf("escalate before the timeout: %d, %v", n, err)
	}
	if _, err := m.AckOperation(ctx, dc.Actor{Party: "charlie", Role: dc.RoleLiaison}, id, 1, ""); err != nil {
		t.Fatal(err)
	}
	clk.Advance(299 * time.Second)
	if n, _ := m.Duty().Escalate(ctx); n != 0 {
		t.Fatalf("%d escalated one second early", n)
	}
	clk.Advance(time.Second)
	n, err := m.Duty().Escalate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Unanswered: alpha's declaration by bravo; bravo's by alpha and
	// charlie; the conflict by alpha and bravo.
	if n != 5 {
		t.Fatalf("escalated %d duties, want 5: %v", n, levels(t, m))
	}
	if again, _ := m.Duty().Escalate(ctx); again != 0 {
		t.Fatalf("a second run at the same time raised %d more", again)
	}
	got := levels(t, m)
	if got["conflict/alpha"] != 1 || got["conflict/bravo"] != 1 {
		t.Fatalf("levels %v", got)
	}
	if _, err := m.AckConflict(ctx, dc.Actor{Party: "alpha", Role: dc.RoleLiaison}, cid, ""); err != nil {
		t.Fatal(err)
	}
	if _, ok := levels(t, m)["conflict/alpha"]; ok {
		t.Fatal("alpha's acknowledgement did not clear its escalation")
	}
	clk.Advance(300 * time.Second)
	if n, _ := m.Duty().Escalate(ctx); n != 4 {
		t.Fatalf("second level: %d raised, want 4", n)
	}
	if got := levels(t, m); got["conflict/bravo"] != 2 {
		t.Fatalf("levels %v", got)
	}
	clk.Advance(24 * time.Hour)
	if n, _ := m.Duty().Escalate(ctx); n != 0 {
		t.Fatalf("level 2 escalated further: %d", n)
	}
	// Events say the same.
	evs, err := m.Events(ctx, dc.Actor{Role: dc.RoleAdmin}, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range evs {
		count[e.Type]++
	}
	if count[dc.EventEscalationRaised] != 9 || count[dc.EventEscalationCleared] != 1 {
		t.Fatalf("events %v", count)
	}
}

// A new declaration is owed by every other party through one group duty;
// the parties' timers must still be what they were with a duty each: a
// party that had not answered carries its timer across a new version, one
// that had acknowledged the old version starts again, and one added after
// the declaration owes nothing for it (but owes the next version).
func TestEscalationTimersAcrossVersions(t *testing.T) {
	ctx := context.Background()
	m, clk := mustOpen(t)
	op := declareAlpha(t, m, clk)
	clk.Advance(time.Second)
	if _, err := m.Access().AddParty(ctx, "delta", ""); err != nil {
		t.Fatal(err)
	}
	clk.Advance(9 * time.Second)
	op.ack("charlie", 1)
	clk.Advance(90 * time.Second) // t0+100s: version 2
	op.change(longer)
	clk.Advance(200 * time.Second) // t0+300s: bravo's timer, from version 1
	if n, err := m.Duty().Escalate(ctx); err != nil || n != 1 {
		t.Fatalf("at t0+300s raised %d (%v), want bravo's only: %v", n, err, levels(t, m))
	}
	if got := levels(t, m); got["operation/bravo"] != 1 || len(got) != 1 {
		t.Fatalf("levels %v", got)
	}
	// A level-1 escalation is bravo's: another party's observer does not
	// see it, bravo's does.
	for who, want := range map[string]int{"charlie": 0, "bravo": 1} {
		es, err := m.Duty().Escalations(ctx, dc.Actor{Party: who, Role: dc.RoleObserver}, true)
		if err != nil || len(es) != want {
			t.Fatalf("%s's observer sees %d escalations (%v), want %d", who, len(es), err, want)
		}
	}
	clk.Advance(99 * time.Second)
	if n, _ := m.Duty().Escalate(ctx); n != 0 {
		t.Fatalf("charlie escalated before ack_timeout_s after version 2: %v", levels(t, m))
	}
	clk.Advance(time.Second) // t0+400s: charlie's and delta's, from version 2
	if n, _ := m.Duty().Escalate(ctx); n != 2 {
		t.Fatalf("at t0+400s raised %d, want charlie's and delta's: %v", n, levels(t, m))
	}
	if got := levels(t, m); got["operation/charlie"] != 1 || got["operation/delta"] != 1 {
		t.Fatalf("levels %v", got)
	}
	// Acknowledging version 2 clears bravo's escalation.
	op.ack("bravo", 2)
	if _, ok := levels(t, m)["operation/bravo"]; ok {
		t.Fatalf("bravo's acknowledgement did not clear its escalation: %v", levels(t, m))
	}
}

// An operation cancelled or acknowledged by everyone before the timeout
// escalates nothing; an old version's receipt does not answer a new one.
func TestEscalationAfterCancelAndReceipts(t *testing.T) {
	ctx := context.Background()
	m, clk := mustOpen(t)
	cancelled, answered := declareAlpha(t, m, clk), declareAlpha(t, m, clk)
	if _, err := m.Cancel(ctx, dc.Actor{Party: "alpha", Role: dc.RoleOperator}, cancelled.id, nil); err != nil {
		t.Fatal(err)
	}
	answered.ack("bravo", 1)
	answered.ack("charlie", 1)
	clk.Advance(time.Hour)
	if n, err := m.Duty().Escalate(ctx); err != nil || n != 0 {
		t.Fatalf("raised %d (%v): %v", n, err, levels(t, m))
	}
	// Version 2 of the answered operation is owed again, by both.
	answered.change(longer)
	answered.ack("bravo", 1)
	clk.Advance(300 * time.Second)
	if n, _ := m.Duty().Escalate(ctx); n != 2 {
		t.Fatalf("raised %d, want bravo's and charlie's: %v", n, levels(t, m))
	}
}

// Many duties due at once are raised in several transactions, each one
// once.
func TestEscalationInChunks(t *testing.T) {
	ctx := context.Background()
	m, clk := mustOpen(t)
	alpha := dc.Actor{Party: "alpha", Role: dc.RoleOperator}
	start := clk.Now().Add(3 * time.Hour)
	const n = 300 // each owed by bravo and charlie
	for i := 0; i < n; i++ {
		if _, err := m.Declare(ctx, alpha, uuid.NewString(), circleDecl(10, float64(i)/10, start, start.Add(time.Hour)), nil); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(300 * time.Second)
	if got, err := m.Duty().Escalate(ctx); err != nil || got != 2*n {
		t.Fatalf("raised %d (%v), want %d", got, err, 2*n)
	}
	if again, _ := m.Duty().Escalate(ctx); again != 0 {
		t.Fatalf("a second run raised %d more", again)
	}
	es, err := m.Duty().Escalations(ctx, dc.Actor{Role: dc.RoleAdmin}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2*n {
		t.Fatalf("%d escalations listed, want %d", len(es), 2*n)
	}
	for _, e := range es {
		if e.Level != dc.LevelHeads || (e.Party != "bravo" && e.Party != "charlie") {
			t.Fatalf("escalation %+v", e)
		}
	}
	// Paged: every one once, bravo's only for bravo, no next after the
	// last page.
	for _, who := range []dc.Actor{{Role: dc.RoleAdmin}, {Party: "bravo", Role: dc.RoleHead}} {
		seen := map[string]bool{}
		after, pages := "", 0
		for {
			page, next, err := m.Duty().EscalationsPage(ctx, who, true, 250, after)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(page) > 250 {
				t.Fatalf("page of %d", len(page))
			}
			for _, e := range page {
				if seen[e.ID] || (who.Party != "" && e.Party != who.Party) {
					t.Fatalf("%s: escalation %s listed twice or not its own", who.Role, e.ID)
				}
				seen[e.ID] = true
			}
			if next == "" {
				break
			}
			after = next
		}
		want := 2 * n
		if who.Party != "" {
			want = n
		}
		if len(seen) != want || pages != (want+249)/250 {
			t.Fatalf("%s: %d escalations in %d pages, want %d", who.Role, len(seen), pages, want)
		}
	}
	// A page that holds the last one says so, though the store holds
	// more that bravo may not see.
	page, next, err := m.Duty().EscalationsPage(ctx, dc.Actor{Party: "bravo", Role: dc.RoleHead}, true, n, "")
	if err != nil || len(page) != n || next != "" {
		t.Fatalf("bravo's %d in one page: %d, next %q, %v", n, len(page), next, err)
	}
}

// Who owes a new declaration is who was a party when it was declared, by
// the order of the writes, not by their clocks: a party added before it
// with a clock ahead owes it; one added after it at the same instant does
// not.
func TestEscalationOwedByThePartiesOfTheDeclaration(t *testing.T) {
	ctx := context.Background()
	m, clk := mustOpen(t)
	clk.Advance(5 * time.Second) // the clock of the process adding delta runs ahead
	if _, err := m.Access().AddParty(ctx, "delta", ""); err != nil {
		t.Fatal(err)
	}
	clk.Advance(-5 * time.Second)
	declareAlpha(t, m, clk)
	if _, err := m.Access().AddParty(ctx, "echo", ""); err != nil { // after it, same instant
		t.Fatal(err)
	}
	clk.Advance(300 * time.Second)
	if n, err := m.Duty().Escalate(ctx); err != nil || n != 3 {
		t.Fatalf("raised %d (%v), want bravo, charlie and delta: %v", n, err, levels(t, m))
	}
	if got := levels(t, m); got["operation/delta"] != 1 || got["operation/echo"] != 0 {
		t.Fatalf("levels %v", got)
	}
}

// A change of an operation's notes alone asks nothing new of the other
// parties: one that acknowledged the version before is not escalated, one
// that did not keeps its timer.
func TestEscalationIgnoresPrivateChanges(t *testing.T) {
	ctx := context.Background()
	m, clk := mustOpen(t)
	op := declareAlpha(t, m, clk)
	op.ack("charlie", 1)
	clk.Advance(100 * time.Second)
	op.change(func(d *mechanism.Declaration) {
		notes := "private: tanker late"
		d.Notes = &notes
	})
	if op.version != 2 {
		t.Fatalf("a notes change made version %d, want 2", op.version)
	}
	clk.Advance(200 * time.Second) // t0+300s: bravo's timer from version 1
	if n, _ := m.Duty().Escalate(ctx); n != 1 {
		t.Fatalf("raised %d at t0+300s, want bravo's: %v", n, levels(t, m))
	}
	clk.Advance(time.Hour)
	if n, _ := m.Duty().Escalate(ctx); n != 1 { // bravo to level 2; charlie never
		t.Fatalf("raised %d later, want bravo's second level only: %v", n, levels(t, m))
	}
	if got := levels(t, m); got["operation/charlie"] != 0 || got["operation/bravo"] != 2 {
		t.Fatalf("levels %v", got)
	}
	// bravo's receipt for version 2 answers it.
	op.ack("bravo", 2)
	if got := levels(t, m); len(got) != 0 {
		t.Fatalf("levels after bravo's receipt %v", got)
	}
}

// legacyGroups is a store that keeps group duties as versions before
// time-ordered group IDs did: under the ID "operation:<operation ID>:*".
type legacyGroups struct{ dc.Store }

func (l legacyGroups) Update(ctx context.Context, fn func(dc.Tx) error) error {
	return l.Store.Update(ctx, func(tx dc.Tx) error { return fn(legacyTx{tx}) })
}

type legacyTx struct{ dc.Tx }

func (t legacyTx) PutDuty(ctx context.Context, d *dc.Duty) error {
	if strings.HasPrefix(d.Party, "*") {
		c := *d
		c.ID = d.Subject.Kind + ":" + d.Subject.ID + ":*"
		d = &c
	}
	return t.Tx.PutDuty(ctx, d)
}

// A group duty stored by an earlier version, under its old ID, still
// stands for the parties that owe it: an acknowledgement answers the
// party's part, and the group raises only the others.
func TestGroupDutyOfAnEarlierVersion(t *testing.T) {
	ctx := context.Background()
	st := freshStore(t)
	before, clk := openOn(t, legacyGroups{st}, "alpha", "bravo", "charlie")
	op := declareAlpha(t, before, clk)
	var legacy *dc.Duty
	var err error
	if err := st.View(ctx, func(tx dc.Tx) error {
		legacy, err = tx.Duty(ctx, "operation:"+op.id+":*")
		return err
	}); err != nil {
		t.Fatalf("the earlier version's group duty: %v", err)
	}

	m := mechanism.New(st, mechanism.Options{Now: clk.Now}) // this version, on the same store
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	op.m = m
	clk.Advance(10 * time.Second)
	op.ack("bravo", 1)
	clk.Advance(290 * time.Second)
	if n, err := m.Duty().Escalate(ctx); err != nil || n != 1 {
		t.Fatalf("at the group's due time raised %d (%v), want charlie's only: %v", n, err, levels(t, m))
	}
	if got := levels(t, m); got["operation/charlie"] != 1 || len(got) != 1 {
		t.Fatalf("levels %v, want charlie at level 1 only", got)
	}
	if err := st.View(ctx, func(tx dc.Tx) error {
		legacy, err = tx.Duty(ctx, legacy.ID)
		return err
	}); err != nil || legacy.AckedAt == nil {
		t.Fatalf("the earlier version's group duty is not closed once raised: %+v, %v", legacy, err)
	}
}
