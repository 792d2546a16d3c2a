package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/record"
	"github.com/deconflict/deconflict/sqlite"
	"golang.org/x/mod/sumdb/tlog"
)

// scenario declares two conflicting operations, acknowledges and receipts
// them, and returns the id of alpha's operation.
func scenario(t *testing.T, s *testServer) string {
	t.Helper()
	opA, opB, liB, liA := s.token("operator", "alpha"), s.token("operator", "bravo"), s.token("liaison", "bravo"), s.token("liaison", "alpha")
	a := newID()
	s.do("PUT", "/v1/operations/"+a, opA, decl("planned", circle(33.5, 36.3, 5000, 1000, 3000, at(2), at(3)))).want(t, 201)
	r := s.do("PUT", "/v1/operations/"+newID(), opB, decl("planned", circle(33.52, 36.32, 5000, 1000, 3000, at(2), at(3)))).want(t, 201)
	cid := jsonPath(r.body, "conflicts", 0, "id").(string)
	s.do("POST", "/v1/operations/"+a+"/ack", liB, map[string]any{"version": 1}).want(t, 200)
	s.do("POST", "/v1/conflicts/"+cid+"/ack", liA, nil).want(t, 200)
	return a
}

func TestEvidenceBundleVerifiesOffline(t *testing.T) {
	s := startServer(t)
	id := scenario(t, s)
	obs := s.token("observer", "charlie")
	key := strings.TrimSpace(s.mustRun("key", "show"))
	if !strings.HasPrefix(key, "deconflict-k1+") {
		t.Fatalf("key show = %q", key)
	}
	if got := s.do("GET", "/v1/log/key", obs, nil).want(t, 200).body["key"]; got != key {
		t.Fatalf("GET /v1/log/key = %v, key show = %s", got, key)
	}
	r := s.do("GET", "/v1/evidence/operations/"+id, obs, nil).want(t, 200)
	path := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(path, r.raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code := s.run("verify", path, "--key", key)
	if code != 0 {
		t.Fatalf("verify: exit %d: %s", code, errs)
	}
	for _, want := range []string{id, "alpha", "bravo", "declared", "acknowledged"} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q:\n%s", want, out)
		}
	}
	// One second changed in one timestamp: verification fails.
	raw := string(r.raw)
	i := strings.Index(raw, `\"time\":\"`)
	if i < 0 {
		t.Fatalf("no time in bundle: %s", raw[:300])
	}
	j := i + len(`\"time\":\"`) + len("2026-11-25T12:00:0")
	digit := raw[j]
	next := byte('0' + (digit-'0'+1)%10)
	tampered := raw[:j] + string(next) + raw[j+1:]
	os.WriteFile(path, []byte(tampered), 0o600)
	if _, errs, code := s.run("verify", path, "--key", key); code == 0 || !strings.Contains(errs, "FAILED") {
		t.Fatalf("a bundle with one second changed verified: exit %d, %s", code, errs)
	}
	// Another key: fails.
	os.WriteFile(path, r.raw, 0o600)
	other, _ := record.NewKey("impostor-k1", at(0))
	if _, _, code := s.run("verify", path, "--key", other.Verifier); code == 0 {
		t.Fatal("a bundle verified with the wrong key")
	}
	s.do("GET", "/v1/evidence/operations/"+newID(), obs, nil).want(t, 404, "not_found")
}

func TestLogEndpoints(t *testing.T) {
	s := startServer(t)
	scenario(t, s)
	obs := s.token("observer", "charlie")
	cp := s.do("GET", "/v1/log/checkpoint", obs, nil)
	if cp.status != 200 {
		t.Fatalf("checkpoint: %d", cp.status)
	}
	key := s.do("GET", "/v1/log/key", obs, nil).body["key"].(string)
	_, tree, err := record.ParseCheckpoint(cp.raw, key)
	if err != nil {
		t.Fatalf("checkpoint does not verify: %v\n%s", err, cp.raw)
	}
	if tree.N < 5 {
		t.Fatalf("log size %d", tree.N)
	}
	s.do("GET", "/v1/log/proof/inclusion?index=0&size="+itoa(tree.N), obs, nil).want(t, 200)
	s.do("GET", "/v1/log/proof/consistency?from=1&to="+itoa(tree.N), obs, nil).want(t, 200)
	s.do("GET", "/v1/log/proof/inclusion?index=0&size="+itoa(tree.N+5), obs, nil).want(t, 400, "invalid_argument", "size")
	ents := s.do("GET", "/v1/log/entries?start=0&end="+itoa(tree.N), s.token("liaison", "charlie"), nil).want(t, 200).list("entries")
	if int64(len(ents)) != tree.N {
		t.Fatalf("%d entries, want %d", len(ents), tree.N)
	}
	withheld := 0
	for _, e := range ents {
		if e.(map[string]any)["data"] == nil {
			withheld++
		}
	}
	if withheld == 0 {
		t.Error("charlie sees the content of alpha and bravo's conflict entries")
	}
}

func TestWitnessDetectsRewrites(t *testing.T) {
	s := startServerOn(t, "sqlite:"+t.TempDir()+"/deconflict.db") // edits the SQLite file itself
	scenario(t, s)
	tok := s.token("observer", "charlie")
	state := t.TempDir()
	witness := func() (string, int) {
		out, errs, code := s.run("witness", "--server", s.base, "--token", tok, "--state", state)
		return out + errs, code
	}
	if out, code := witness(); code != 0 {
		t.Fatalf("first witness run: %d %s", code, out)
	}
	s.do("PUT", "/v1/operations/"+newID(), s.token("operator", "alpha"), decl("planned", circle(1, 1, 100, 0, 10, at(1), at(2)))).want(t, 201)
	if out, code := witness(); code != 0 || !strings.Contains(out, "grew") {
		t.Fatalf("second witness run: %d %s", code, out)
	}

	// Someone with the database rewrites history: an event's time moved,
	// the log rebuilt from the edited events, and re-signed with the key.
	s.stop()
	dbPath := strings.TrimPrefix(s.store, "sqlite:")
	db, err := sql.Open(sqlite.DriverName, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE events SET time = time + 1000000 WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM log_hashes`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	st, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(context.Background(), func(tx dc.Tx) error {
		evs, err := tx.Events(context.Background(), 0, 10000)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := record.Append(context.Background(), tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	s.start()
	out, code := witness()
	if code == 0 || !strings.Contains(out, "FAILED") {
		t.Fatalf("the witness accepted a rewritten history: %d %s", code, out)
	}
	t.Logf("witness: %s", strings.TrimSpace(out))

	// A replaced key is refused too.
	s.mustRun("key", "rotate")
	if out, code := witness(); code == 0 || !strings.Contains(out, "pinned") {
		t.Fatalf("the witness accepted a new key silently: %d %s", code, out)
	}
}

// TestTamperedStoreIsDetected edits the database behind the server's back:
// an edited event no longer matches the log, and a truncated log is a
// rollback to every witness.
func TestTamperedStoreIsDetected(t *testing.T) {
	s := startServerOn(t, "sqlite:"+t.TempDir()+"/deconflict.db") // edits the SQLite file itself
	id := scenario(t, s)
	tok := s.token("observer", "charlie")
	state := t.TempDir()
	if out, errs, code := s.run("witness", "--server", s.base, "--token", tok, "--state", state); code != 0 {
		t.Fatalf("witness: %d %s %s", code, out, errs)
	}
	dbPath := strings.TrimPrefix(s.store, "sqlite:")
	tamper := func(stmts ...string) {
		t.Helper()
		s.stop()
		db, err := sql.Open(sqlite.DriverName, dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, q := range stmts {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		db.Close()
		s.start()
	}

	// One second added to the declaration's time, hashes left alone.
	tamper(`UPDATE events SET time = time + 1000000 WHERE type = 'operation.declared'`)
	if r := s.do("GET", "/v1/evidence/operations/"+id, tok, nil); r.status == 200 {
		t.Fatal("evidence was served from an edited event")
	}

	// The last entries cut off: the witness sees the log shrink.
	n := readTrim(filepath.Join(state, "tree"))
	size := strings.Fields(n)[0]
	tamper(`DELETE FROM events WHERE seq > `+size+` - 3`,
		`DELETE FROM log_hashes WHERE idx >= `+itoa(tlog.StoredHashIndex(0, mustAtoi(t, size)-3)))
	out, errs, code := s.run("witness", "--server", s.base, "--token", tok, "--state", state)
	if code == 0 || !strings.Contains(out+errs, "FAILED") {
		t.Fatalf("the witness accepted a truncated log: %d %s %s", code, out, errs)
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
