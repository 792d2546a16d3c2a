package main

import (
	"context"
	"database/sql"
	"encoding/binary"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/deconflict/deconflict/sqlite"
	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"
)

// flipLogHash flips one bit of the stored log hash at a storage index,
// behind the running server's back (SQLite's own driver, or pgx).
func (s *testServer) flipLogHash(idx int64) {
	t := s.t
	t.Helper()
	if path, ok := strings.CutPrefix(s.store, "sqlite:"); ok {
		db, err := sql.Open(sqlite.DriverName, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var h []byte
		if err := db.QueryRow("SELECT hash FROM log_hashes WHERE idx = ?", idx).Scan(&h); err != nil {
			t.Fatal(err)
		}
		h[0] ^= 1
		if _, err := db.Exec("UPDATE log_hashes SET hash = ? WHERE idx = ?", h, idx); err != nil {
			t.Fatal(err)
		}
		return
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.store)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "UPDATE log_hashes SET hash = set_bit(hash, 0, 1 - get_bit(hash, 0)) WHERE idx = $1", idx); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrityAlarmServed: with one bit flipped in a stored Merkle hash,
// the inclusion proof that rests on it answers 500 integrity alarm (not a
// wrong proof with 200), /readyz answers 503 saying why, and the alarm is
// counted in /metrics.
func TestIntegrityAlarmServed(t *testing.T) {
	s := startServer(t)
	obs := s.token("observer", "alpha")
	s.do("GET", "/v1/log/proof/inclusion?index=0&size=2", obs, nil).want(t, 200)
	s.do("GET", "/readyz", "", nil).want(t, 200)
	if n := s.metric("deconflict_integrity_alarms_total"); n != 0 {
		t.Fatalf("%g integrity alarms before any damage", n)
	}

	s.flipLogHash(tlog.StoredHashIndex(0, 1)) // the proof of entry 0 in the log of 2
	r := s.do("GET", "/v1/log/proof/inclusion?index=0&size=2", obs, nil).want(t, 500, "internal")
	if msg := jsonPath(r.body, "error", "message").(string); !strings.Contains(msg, "integrity alarm") {
		t.Fatalf("message %q does not say integrity alarm", msg)
	}
	if strings.Contains(string(r.raw), "proof\"") {
		t.Fatalf("the answer carries a proof: %s", r.raw)
	}
	ready := s.do("GET", "/readyz", "", nil).want(t, 503)
	if e, _ := ready.body["error"].(string); !strings.Contains(e, "integrity alarm") {
		t.Fatalf("/readyz: %s, want the integrity alarm as the reason", ready.raw)
	}
	if n := s.metric("deconflict_integrity_alarms_total"); n != 1 {
		t.Fatalf("%g integrity alarms counted, want 1", n)
	}
}

// TestReadyzWhenWritesFail: a damaged page that writes need (the header
// of the duties table's page, which every declaration writes and the
// escalation timer reads in its write transaction every second) leaves
// the store reachable and the server starting; /readyz must answer 503
// all the same, and a declaration fails rather than answering 2xx.
func TestReadyzWhenWritesFail(t *testing.T) {
	if os.Getenv("DECONFLICT_E2E_STORE") == "postgres" {
		t.Skip("damages a SQLite file")
	}
	s := startServer(t)
	path := strings.TrimPrefix(s.store, "sqlite:")
	s.stop()
	db, err := sql.Open(sqlite.DriverName, path)
	if err != nil {
		t.Fatal(err)
	}
	var root, pageSize int64
	if err := db.QueryRow("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = 'duties'").Scan(&root); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("PRAGMA page_size").Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A b-tree page's first byte is its type (2, 5, 10 or 13); 0x6b is none.
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], 0x6b6b6b6b6b6b6b6b)
	if _, err := f.WriteAt(hdr[:], (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	s.start()
	op := s.token("operator", "alpha")
	r := s.do("PUT", "/v1/operations/"+newID(), op, decl("planned", circle(33.5, 35.5, 2000, 0, 1000, at(2), at(3))))
	if r.status < 500 {
		t.Fatalf("a declaration on a damaged store answered %d: %s", r.status, r.raw)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ready := s.do("GET", "/readyz", "", nil)
		if ready.status == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still answers %d on a store whose writes fail: %s", ready.status, ready.raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := s.metric("deconflict_integrity_alarms_total"); n < 1 {
		t.Fatalf("%g integrity alarms after SQLite reported the file damaged", n)
	}
}
