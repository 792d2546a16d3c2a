// Package pgtest gives tests a fresh PostgreSQL database of their own.
//
// Tests find the server in DECONFLICT_TEST_POSTGRES, the URL of a database
// whose role may create databases; scripts/test starts one
// (scripts/postgres start) and sets it. Without it, tests skip — except
// under CI, where skipping would hide that nothing was tested.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env names the variable holding the server's URL.
const Env = "DECONFLICT_TEST_POSTGRES"

// Database creates an empty database for the test, drops it when the test
// ends, and returns its URL.
func Database(t testing.TB) string {
	t.Helper()
	base := Server(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "dcf_test_" + hex.EncodeToString(b)
	exec(t, base, "CREATE DATABASE "+name)
	t.Cleanup(func() { exec(t, base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u.Path = "/" + name
	return u.String()
}

func exec(t testing.TB, dsn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// Server returns the URL in Env, or skips the test without one (fails it
// under CI).
func Server(t testing.TB) string {
	t.Helper()
	base := os.Getenv(Env)
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: scripts/test starts PostgreSQL and sets it; run the tests with scripts/test", Env)
		}
		t.Skipf("no PostgreSQL: run `scripts/postgres start` and export %s=$(scripts/postgres url), or run scripts/test", Env)
	}
	return base
}

// FromTemplate returns the URL of a fresh database copied from the
// database called template, which fill makes (given the URL of an empty
// database, every connection to which it must close) if it does not exist
// yet. The copy is dropped when the test ends; the template is kept, so
// that later runs skip fill.
func FromTemplate(t testing.TB, template string, fill func(url string)) string {
	t.Helper()
	base := Server(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	if !exists(t, base, template) {
		building := template + "_building"
		exec(t, base, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)")
		exec(t, base, "CREATE DATABASE "+building)
		b := *u
		b.Path = "/" + building
		fill(b.String())
		exec(t, base, "ALTER DATABASE "+building+" RENAME TO "+template)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "dcf_test_" + hex.EncodeToString(b)
	exec(t, base, "CREATE DATABASE "+name+" TEMPLATE "+template+" STRATEGY FILE_COPY")
	t.Cleanup(func() { exec(t, base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u.Path = "/" + name
	return u.String()
}

// exists reports whether the server at dsn has a database called name.
func exists(t testing.TB, dsn, name string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatalf("look for database %s: %v", name, err)
	}
	return n > 0
}
