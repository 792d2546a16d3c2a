package postgres

import (
	"context"
	"net"
	"testing"
	"time"
)

// A server that accepts the connection and never answers fails Open
// within the connect timeout instead of hanging it.
func TestOpenGivesUpOnASilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	old := connectTimeout
	connectTimeout = 500 * time.Millisecond
	defer func() { connectTimeout = old }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	db, err := Open(ctx, "postgres://u@"+l.Addr().String()+"/db?sslmode=disable")
	if err == nil {
		db.Close()
		t.Fatal("opened a store on a server that never answered")
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Fatalf("gave up after %s", took)
	}
	t.Logf("%s: %v", time.Since(began).Round(time.Millisecond), err)
}
