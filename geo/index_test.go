package geo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// randOp returns the volumes of a random operation near center: one to
// three volumes, windows from a minute to (rarely) years.
func randOp(t testing.TB, r *rand.Rand, center vec, spreadM float64) []Volume {
	var vs []Volume
	for range 1 + r.IntN(3) {
		kind := r.IntN(2)
		if r.IntN(20) == 0 {
			kind = 2 // a big polygon
		}
		s := randShape(r, math.Exp(math.Log(500)+r.Float64()*math.Log(200)), kind)
		c := offset(center, 2*math.Pi*r.Float64(), spreadM*math.Sqrt(r.Float64())/EarthRadiusM)
		start := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(48 * time.Hour))))
		d := time.Duration(math.Exp(math.Log(float64(time.Minute)) + r.Float64()*math.Log(600)))
		switch r.IntN(20) {
		case 0:
			d = time.Duration(1+r.IntN(40)) * 24 * time.Hour
		case 1:
			d = time.Duration(1+r.IntN(5)) * 365 * 24 * time.Hour
		}
		lower := 5000 * r.Float64()
		vs = append(vs, mustParse(t, wireVolume(s.wire(c), lower, lower+50+2000*r.Float64(), start, start.Add(d)))...)
	}
	return vs
}

type indexed struct {
	group string
	vols  []Volume
}

// churn draws seeded random changes to indexes and keeps which entries
// should be live after them: of ten changes, newOf insert a new entry,
// up to 8 replace a random one (perhaps into another group), and the rest
// remove one.
type churn struct {
	t       testing.TB
	r       *rand.Rand
	centers []vec
	newOf   int
	live    map[string]indexed
	ids     []string // every ID ever inserted
}

func newChurn(t testing.TB, r *rand.Rand, newOf int, centers ...vec) *churn {
	return &churn{t: t, r: r, centers: centers, newOf: newOf, live: map[string]indexed{}}
}

// indexChanger is what a churn changes: an Index, or Changes held back
// from one.
type indexChanger interface {
	Insert(id, group string, vols []Volume)
	Remove(id string)
}

// step makes the next change to each of ixs, and records it.
func (c *churn) step(ixs ...indexChanger) {
	switch k := c.r.IntN(10); {
	case k < c.newOf || len(c.ids) == 0:
		id := fmt.Sprintf("op-%d", len(c.ids))
		c.ids = append(c.ids, id)
		c.insert(id, ixs)
	case k < 8:
		c.insert(c.ids[c.r.IntN(len(c.ids))], ixs)
	default:
		id := c.ids[c.r.IntN(len(c.ids))]
		for _, ix := range ixs {
			ix.Remove(id)
		}
		delete(c.live, id)
	}
}

func (c *churn) insert(id string, ixs []indexChanger) {
	e := indexed{group: fmt.Sprint("g", c.r.IntN(3)), vols: randOp(c.t, c.r, c.centers[c.r.IntN(len(c.centers))], 150_000)}
	for _, ix := range ixs {
		ix.Insert(id, e.group, e.vols)
	}
	c.live[id] = e
}

// bruteConflicts is what Index.Conflicts must answer: CompareOperations
// against every entry.
func bruteConflicts(live map[string]indexed, q []Volume, m Minima, exclude string) []Hit {
	var hits []Hit
	for id, e := range live {
		if e.group == exclude {
			continue
		}
		if s, ok := CompareOperations(q, e.vols, m); ok {
			hits = append(hits, Hit{ID: id, Group: e.group, Separation: s})
		}
	}
	slices.SortFunc(hits, func(a, b Hit) int { return strings.Compare(a.ID, b.ID) })
	return hits
}

func randMinima(r *rand.Rand) Minima {
	return Minima{
		HorizontalM: []float64{0, 9260, 9260, 100_000, 2_000_000}[r.IntN(5)],
		VerticalM:   []float64{0, 304.8, 304.8, 3000}[r.IntN(4)],
		TimeS:       []float64{0, 300, 300, 86400, 30 * 86400}[r.IntN(5)],
	}
}

func TestIndexMatchesBruteForce(t *testing.T) {
	r := newRand(t)
	centers := []vec{fromDegrees(33.5, 36.3), fromDegrees(0, 180), fromDegrees(90, 0)}
	ix := NewIndex()
	c := newChurn(t, r, 6, centers...)
	live := c.live
	var hits, queries int
	for round := range cases(40) {
		for range 30 {
			c.step(ix)
		}
		if ix.Len() != len(live) {
			t.Fatalf("round %d: Len = %d, want %d", round, ix.Len(), len(live))
		}
		for range 10 {
			q := randOp(t, r, centers[r.IntN(3)], 150_000)
			m := randMinima(r)
			exclude := fmt.Sprint("g", r.IntN(4))
			got := ix.Conflicts(q, m, exclude)
			want := bruteConflicts(live, q, m, exclude)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d, minima %+v, exclude %s:\n got %v\nwant %v", round, m, exclude, got, want)
			}
			hits += len(got)
			queries++
		}
	}
	t.Logf("%d queries, %d hits, %d entries at the end", queries, hits, ix.Len())
	for _, id := range c.ids {
		ix.Remove(id)
	}
	if ix.Len() != 0 || len(ix.buckets) != 0 || ix.perTime != [timeLevels]int{} {
		t.Fatalf("after removing all: Len %d, %d buckets, items by time level %v", ix.Len(), len(ix.buckets), ix.perTime)
	}
}

// TestIndexConcurrent runs queries alongside changes, for -race.
func TestIndexConcurrent(t *testing.T) {
	r := newRand(t)
	center := fromDegrees(33.5, 36.3)
	ops := make([][]Volume, 200)
	for i := range ops {
		ops[i] = randOp(t, r, center, 100_000)
	}
	ix := NewIndex()
	m := Minima{HorizontalM: 9260, VerticalM: 304.8, TimeS: 300}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 100 {
				if w == 0 {
					id := fmt.Sprint(i % 50)
					if i%3 == 2 {
						ix.Remove(id)
					} else {
						ix.Insert(id, "a", ops[i])
					}
					continue
				}
				ix.Conflicts(ops[(i*7+w)%len(ops)], m, "b")
			}
		})
	}
	wg.Wait()
}

// TestIndexSince checks that an answer brought forward by Since is the
// answer a search would give now, whatever changed in between: entries
// inserted, replaced (in place or into another group) and removed,
// including the entries the answer named.
func TestIndexSince(t *testing.T) {
	r := newRand(t)
	centers := []vec{fromDegrees(33.5, 36.3), fromDegrees(-12, 130)}
	ix := NewIndex()
	c := newChurn(t, r, 5, centers...)
	live := c.live
	change := func() { c.step(ix) }
	for range 100 {
		change()
	}
	type pending struct {
		q       []Volume
		m       Minima
		exclude string
		hits    []Hit
		gen     uint64
	}
	var brought, changedHits int
	for round := range cases(60) {
		var ps []pending
		for range 8 {
			p := pending{q: randOp(t, r, centers[r.IntN(2)], 150_000), m: randMinima(r), exclude: fmt.Sprint("g", r.IntN(4))}
			p.hits, p.gen = ix.ConflictsAt(p.q, p.m, p.exclude)
			ps = append(ps, p)
			for range r.IntN(6) {
				change()
			}
		}
		for i, p := range ps {
			got, ok := ix.Since(p.hits, p.gen, p.q, p.m, p.exclude)
			if !ok {
				t.Fatalf("round %d, query %d: Since(generation %d) of an index at %d not ok", round, i, p.gen, ix.gen)
			}
			want := bruteConflicts(live, p.q, p.m, p.exclude)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d, query %d, minima %+v, exclude %s, %d changes since:\n got %v\nwant %v\n was %v",
					round, i, p.m, p.exclude, ix.gen-p.gen, got, want, p.hits)
			}
			if !slices.Equal(got, p.hits) {
				changedHits++
			}
			brought++
		}
	}
	t.Logf("%d answers brought forward, %d of them changed", brought, changedHits)
	if changedHits == 0 {
		t.Fatal("no answer changed between ConflictsAt and Since: the test proves nothing")
	}

	// An answer from the present is the same answer.
	q, m := randOp(t, r, centers[0], 150_000), randMinima(r)
	hits, gen := ix.ConflictsAt(q, m, "")
	if got, ok := ix.Since(hits, gen, q, m, ""); !ok || !slices.Equal(got, hits) {
		t.Fatalf("Since at the same generation = %v, %v; want %v, true", got, ok, hits)
	}
	if _, ok := ix.Since(nil, ix.gen+1, q, m, ""); ok {
		t.Fatal("Since of a generation the index has not reached: ok")
	}
}

// TestIndexSinceJournalEnds checks the edges of what an index remembers:
// an answer exactly journalMax changes old is brought forward; once the
// journal drops its older half, answers from before it are refused and
// those from its new start are brought forward.
func TestIndexSinceJournalEnds(t *testing.T) {
	r := newRand(t)
	center := fromDegrees(33.5, 36.3)
	ix := NewIndex()
	live := map[string]indexed{}
	q, m := randOp(t, r, center, 50_000), Minima{HorizontalM: 9260, VerticalM: 304.8, TimeS: 300}
	insert := func(i int) {
		id := fmt.Sprintf("op-%d", i%700) // new entries, then replacements
		e := indexed{group: fmt.Sprint("g", r.IntN(3)), vols: randOp(t, r, center, 50_000)}
		if i == journalMax {
			// The last change files the query's own volumes, in a group
			// it does not exclude, so that it surely conflicts with
			// something at the end: a short query may meet no random
			// entry.
			e = indexed{group: "g1", vols: q}
		}
		ix.Insert(id, e.group, e.vols)
		live[id] = e
	}
	ix.Remove("absent") // changes nothing, counts nothing
	type answer struct {
		hits []Hit
		gen  uint64
	}
	at := map[uint64]answer{}
	for i := range journalMax + 1 {
		if i == 0 || i == journalMax/2-1 || i == journalMax/2 {
			hits, gen := ix.ConflictsAt(q, m, "g0")
			at[gen] = answer{hits, gen}
		}
		insert(i)
		if i == journalMax-1 {
			got, ok := ix.Since(at[0].hits, 0, q, m, "g0")
			if want := bruteConflicts(live, q, m, "g0"); !ok || !slices.Equal(got, want) {
				t.Fatalf("Since(0) with a full journal (%d changes) = %d hits, %v; want %d, true", ix.gen, len(got), ok, len(want))
			}
		}
	}
	if ix.gen != journalMax+1 {
		t.Fatalf("generation %d after %d changes", ix.gen, journalMax+1)
	}
	want := bruteConflicts(live, q, m, "g0")
	for gen, a := range at {
		got, ok := ix.Since(a.hits, gen, q, m, "g0")
		switch {
		case gen < journalMax/2 && ok:
			t.Errorf("Since(%d), before the journal's start %d: ok", gen, journalMax/2)
		case gen >= journalMax/2 && (!ok || !slices.Equal(got, want)):
			t.Errorf("Since(%d), within the journal = %d hits, %v; want %d, true", gen, len(got), ok, len(want))
		}
	}
	if len(want) == 0 {
		t.Fatal("the query conflicts with nothing: the test proves little")
	}
}

// TestChanges checks that changes held back from an index answer, through
// Amend, what the index answers once they are applied, and that Apply
// leaves the index as the same changes made one by one would, Since
// included.
func TestChanges(t *testing.T) {
	r := newRand(t)
	centers := []vec{fromDegrees(33.5, 36.3), fromDegrees(-12, 130)}
	ix, direct := NewIndex(), NewIndex()
	ch := newChurn(t, r, 5, centers...)
	live := ch.live
	var c Changes
	// A change is made to direct at once, and to ix at once or held in c.
	change := func(held bool) {
		if held {
			ch.step(&c, direct)
		} else {
			ch.step(ix, direct)
		}
	}
	for range 100 {
		change(false)
	}
	var amended int
	for round := range cases(40) {
		type query struct {
			q       []Volume
			m       Minima
			exclude string
			hits    []Hit
			gen     uint64
		}
		var qs []query
		for range 5 {
			q := query{q: randOp(t, r, centers[r.IntN(2)], 150_000), m: randMinima(r), exclude: fmt.Sprint("g", r.IntN(4))}
			q.hits, q.gen = ix.ConflictsAt(q.q, q.m, q.exclude)
			qs = append(qs, q)
		}
		c.Reset()
		for range 1 + r.IntN(12) {
			change(true)
		}
		for i, q := range qs {
			want := bruteConflicts(live, q.q, q.m, q.exclude)
			now := ix.Conflicts(q.q, q.m, q.exclude)
			if got := c.Amend(now, q.q, q.m, q.exclude); !slices.Equal(got, want) {
				t.Fatalf("round %d, query %d: Amend with %d changes held:\n got %v\nwant %v", round, i, c.Len(), got, want)
			}
			if !slices.Equal(now, want) {
				amended++
			}
		}
		ix.Apply(&c)
		for i, q := range qs {
			want := bruteConflicts(live, q.q, q.m, q.exclude)
			if got := ix.Conflicts(q.q, q.m, q.exclude); !slices.Equal(got, want) {
				t.Fatalf("round %d, query %d: Conflicts after Apply:\n got %v\nwant %v", round, i, got, want)
			}
			if got, ok := ix.Since(q.hits, q.gen, q.q, q.m, q.exclude); !ok || !slices.Equal(got, want) {
				t.Fatalf("round %d, query %d: Since across Apply = %v, %v; want %v", round, i, got, ok, want)
			}
			if got := direct.Conflicts(q.q, q.m, q.exclude); !slices.Equal(got, want) {
				t.Fatalf("round %d, query %d: the index changed one by one:\n got %v\nwant %v", round, i, got, want)
			}
		}
		if ix.Len() != len(live) {
			t.Fatalf("round %d: Len %d after Apply, want %d", round, ix.Len(), len(live))
		}
	}
	t.Logf("%d answers differed before Apply, all amended", amended)
	if amended == 0 {
		t.Fatal("no answer needed amending: the test proves nothing")
	}
}
