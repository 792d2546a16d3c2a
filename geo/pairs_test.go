package geo

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// randPairMinima returns minima for groups g0 to g2, each either the
// search's own or another drawn at random: the shape of a federation
// node's table, where each other node's parties have minima of their own.
func randPairMinima(r *rand.Rand) PairMinima {
	p := PairMinima{Minima: randMinima(r)}
	for g := range 3 {
		if r.IntN(2) == 0 {
			if p.Groups == nil {
				p.Groups = map[string]Minima{}
			}
			p.Groups[fmt.Sprint("g", g)] = randMinima(r)
		}
	}
	return p
}

// brutePairs is what a search under p must answer: CompareOperations
// against every entry, under the minima of its group.
func brutePairs(live map[string]indexed, q []Volume, p PairMinima, exclude string) []Hit {
	var hits []Hit
	for id, e := range live {
		if e.group == exclude {
			continue
		}
		if s, ok := CompareOperations(q, e.vols, p.Of(e.group)); ok {
			hits = append(hits, Hit{ID: id, Group: e.group, Separation: s})
		}
	}
	slices.SortFunc(hits, func(a, b Hit) int { return strings.Compare(a.ID, b.ID) })
	return hits
}

// TestPairMinimaMatchBruteForce: a search whose groups have minima of
// their own answers, from the index, from an answer brought forward
// (SincePairs) and with changes held back (AmendPairs), what brute force
// under each group's minima answers.
func TestPairMinimaMatchBruteForce(t *testing.T) {
	r := newRand(t)
	centers := []vec{fromDegrees(33.5, 36.3), fromDegrees(0, 180)}
	ix := NewIndex()
	c := newChurn(t, r, 6, centers...)
	var queries, differ int
	for round := range cases(30) {
		for range 30 {
			c.step(ix)
		}
		for range 8 {
			q := randOp(t, r, centers[r.IntN(2)], 150_000)
			p := randPairMinima(r)
			exclude := fmt.Sprint("g", r.IntN(4))
			hits, gen := ix.ConflictsAtPairs(q, p, exclude)
			want := brutePairs(c.live, q, p, exclude)
			if !slices.Equal(hits, want) {
				t.Fatalf("round %d, minima %+v, exclude %s:\n got %v\nwant %v", round, p, exclude, hits, want)
			}
			if !slices.Equal(want, bruteConflicts(c.live, q, p.Minima, exclude)) {
				differ++
			}
			var held Changes
			for range r.IntN(4) {
				c.step(ix)
			}
			for range r.IntN(4) {
				c.step(&held)
			}
			since, ok := ix.SincePairs(hits, gen, q, p, exclude)
			if !ok {
				t.Fatalf("round %d: SincePairs not ok", round)
			}
			got := held.AmendPairs(since, q, p, exclude)
			if want := brutePairs(c.live, q, p, exclude); !slices.Equal(got, want) {
				t.Fatalf("round %d, minima %+v, exclude %s, brought forward and amended:\n got %v\nwant %v", round, p, exclude, got, want)
			}
			ix.Apply(&held)
			queries++
		}
	}
	t.Logf("%d queries, %d of them answered otherwise than under the default minima alone", queries, differ)
	if differ == 0 {
		t.Fatal("no group's minima changed an answer: the test proves nothing")
	}
}
