package mechanism

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
)

// slowCounter counts revocations as a store would, taking a while to
// answer: it answers what was committed when the read began.
type slowCounter struct {
	revoked atomic.Int64
	reads   atomic.Int64
}

func (c *slowCounter) RevokedTokens(context.Context) (int64, error) {
	n := c.revoked.Load()
	c.reads.Add(1)
	time.Sleep(200 * time.Microsecond)
	return n, nil
}

// TestRevocationReadsSeeEarlierRevocations checks that a shared read of
// the revocation count never answers a caller with a count older than
// the revocations committed before it called, while calls at the same
// time share reads.
func TestRevocationReadsSeeEarlierRevocations(t *testing.T) {
	var (
		rc    slowCounter
		reads revocationReads
		wg    sync.WaitGroup
		calls atomic.Int64
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if i%10 == 0 {
					rc.revoked.Add(1) // a revocation commits
				}
				before := rc.revoked.Load()
				f, err := reads.count(context.Background(), &rc, nil)
				if err != nil {
					t.Error(err)
					return
				}
				calls.Add(1)
				if f.n < before {
					t.Errorf("count %d, but %d revocations were committed before the call", f.n, before)
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d calls, %d reads", calls.Load(), rc.reads.Load())
	if rc.reads.Load() >= calls.Load() {
		t.Errorf("%d reads for %d calls: none shared", rc.reads.Load(), calls.Load())
	}
}

// markedStore is a store that counts its revocations and marks its
// commits, as the SQLite store does; only the token cache uses it.
type markedStore struct {
	dc.Store
	commits, revoked, reads atomic.Int64
}

func (s *markedStore) RevokedTokens(context.Context) (int64, error) {
	s.reads.Add(1)
	return s.revoked.Load(), nil
}

func (s *markedStore) CommitMark() (m dc.CommitMark, ok bool) {
	binary.LittleEndian.PutUint64(m[:], uint64(s.commits.Load()))
	return m, true
}

// TestTokenCacheReadsCountOnlyAfterCommits checks that the token cache
// reads the revocation count only when the store's commit mark moved,
// and that a revocation committed by another process (the mark and the
// count move) is seen by the next lookup.
func TestTokenCacheReadsCountOnlyAfterCommits(t *testing.T) {
	var (
		s     markedStore
		c     tokenCache
		hash  = [32]byte{1}
		valid = true
		finds int
	)
	find := func() (dc.Actor, error) {
		finds++
		if !valid {
			return dc.Actor{}, dc.Errorf(dc.EUnauthenticated, "unknown or revoked token")
		}
		return dc.Actor{Party: "alpha", Role: dc.RoleOperator}, nil
	}
	lookup := func() error {
		_, err := c.lookup(t.Context(), &s, hash, find)
		return err
	}
	for range 10 {
		if err := lookup(); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.reads.Load(); got != 1 {
		t.Errorf("%d reads of the count for 10 lookups with nothing committed, want 1", got)
	}
	if finds != 1 {
		t.Errorf("%d reads of the token for 10 lookups, want 1", finds)
	}

	// A commit that revokes nothing: the count is read again, the
	// cached token stays.
	s.commits.Add(1)
	if err := lookup(); err != nil {
		t.Fatal(err)
	}
	if got := s.reads.Load(); got != 2 || finds != 1 {
		t.Errorf("after a commit: %d reads of the count, %d of the token; want 2, 1", got, finds)
	}

	// Another process revokes the token.
	valid = false
	s.revoked.Add(1)
	s.commits.Add(1)
	if err := lookup(); dc.ErrorCode(err) != dc.EUnauthenticated {
		t.Fatalf("lookup after the revocation: %v, want unauthenticated", err)
	}
}

// racedStore is a markedStore where another process commits a
// revocation just after each read of the count took its snapshot, once
// armed: the count read misses it, the mark after it shows it.
type racedStore struct {
	markedStore
	armed bool
}

func (s *racedStore) RevokedTokens(ctx context.Context) (int64, error) {
	n, err := s.markedStore.RevokedTokens(ctx)
	if s.armed {
		s.armed = false
		s.revoked.Add(1)
		s.commits.Add(1)
	}
	return n, err
}

// TestTokenCacheSeesRevocationDuringCountRead checks that a revocation
// committed while the count is being read (after the read's snapshot) is
// seen by the next lookup: the mark the cache keeps must be taken before
// the count, or it would already show the commit the count missed.
func TestTokenCacheSeesRevocationDuringCountRead(t *testing.T) {
	var (
		s     racedStore
		c     tokenCache
		hash  = [32]byte{2}
		valid = true
	)
	find := func() (dc.Actor, error) {
		if !valid {
			return dc.Actor{}, dc.Errorf(dc.EUnauthenticated, "unknown or revoked token")
		}
		return dc.Actor{Party: "alpha", Role: dc.RoleOperator}, nil
	}
	if _, err := c.lookup(t.Context(), &s, hash, find); err != nil {
		t.Fatal(err)
	}
	// A commit makes the next lookup read the count; while it does,
	// another process revokes the token.
	s.commits.Add(1)
	s.armed = true
	if _, err := c.lookup(t.Context(), &s, hash, find); err != nil {
		t.Fatal(err)
	}
	valid = false
	if _, err := c.lookup(t.Context(), &s, hash, find); dc.ErrorCode(err) != dc.EUnauthenticated {
		t.Fatalf("lookup after a revocation committed during the count's read: %v, want unauthenticated", err)
	}
}
