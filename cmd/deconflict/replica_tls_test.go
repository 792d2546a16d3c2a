package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/pgtest"
	"github.com/deconflict/deconflict/postgres"
)

// TestReplicaChannelTLS runs two replicas on one PostgreSQL database,
// logging at debug level. The writer publishes an https URL; declarations
// with notes made on the other replica are handed to it over TLS and
// answered 201; and neither replica logged the secret the replicas sign
// with or the channel's private key, in any form a log would carry them.
func TestReplicaChannelTLS(t *testing.T) {
	store := pgtest.Database(t)
	admin := &testServer{t: t, store: store}
	admin.mustRun("party", "add", "alpha")
	var (
		rs   []*testServer
		logs []*syncBuffer
	)
	for range 2 {
		r, log := startLogged(t, store, "--log-level", "debug")
		rs, logs = append(rs, r), append(logs, log)
	}
	waitForwarding(t, rs)
	hands := rs[0]
	if hands.metric("deconflict_forwarding") == 0 {
		hands = rs[1]
	}
	tok := admin.token("operator", "alpha")
	for i := range 20 {
		d := decl("planned", circle(10+float64(i), 20, 500, 0, 100, at(1), at(2)))
		d["notes"] = "only alpha may read this"
		hands.do("PUT", "/v1/operations/"+newID(), tok, d).want(t, 201)
	}
	if answered := hands.metric(`deconflict_forwarded_declarations_total{outcome="answered"}`); answered == 0 {
		t.Fatal("no declaration was handed over: the channel was not used")
	}

	meta := map[string][]byte{}
	st, err := postgres.Open(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.View(context.Background(), func(tx dc.Tx) error {
		for _, name := range []string{"forward/secret", "forward/tls", "forward/writer-tls"} {
			v, err := tx.Meta(context.Background(), name)
			if err != nil {
				return err
			}
			meta[name] = v
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if w := string(meta["forward/writer-tls"]); !strings.HasPrefix(w, "https://") {
		t.Errorf("the writer published %q, want an https URL", w)
	}
	secret := meta["forward/secret"]
	forms := []string{hex.EncodeToString(secret), base64.StdEncoding.EncodeToString(secret), base64.StdEncoding.EncodeToString(meta["forward/tls"])}
	for rest := meta["forward/tls"]; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			der := base64.StdEncoding.EncodeToString(b.Bytes)
			forms = append(forms, hex.EncodeToString(b.Bytes), der[:64], "PRIVATE KEY") // der[:64]: its first PEM line
		}
	}
	if len(forms) != 6 {
		t.Fatalf("no private key in meta forward/tls")
	}
	for i, log := range logs {
		if !strings.Contains(log.String(), `"msg":"replica channel","url":"https://`) {
			t.Errorf("replica %d did not log an https channel:\n%s", i+1, log.String())
		}
		for _, f := range forms {
			if strings.Contains(log.String(), f) {
				t.Errorf("replica %d logged a secret (%.12s…)", i+1, f)
			}
		}
	}
}

// TestReplicaURLFlag: --replica-url takes an https URL of a host and
// port; plain http, or anything else, is refused naming the flag before
// anything starts: the store is not even created.
func TestReplicaURLFlag(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "",
		"https://10.0.1.11:8081":    "https://10.0.1.11:8081",
		"https://10.0.1.11:8081/":   "https://10.0.1.11:8081",
		"HTTPS://replica-2.example": "https://replica-2.example",
		"https://[fd00::2]:8081":    "https://[fd00::2]:8081",
	} {
		if got, err := parseReplicaURL(in); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"http://10.0.1.11:8081", "10.0.1.11:8081", "https://", "https://h:1/forward", "https://u:p@h:1", "https://h:1?x=1", "https://h:1#f", "ftp://h:1", "https:h"} {
		if got, err := parseReplicaURL(in); err == nil || !strings.Contains(err.Error(), "--replica-url") {
			t.Errorf("%q: %q, %v; want an error naming --replica-url", in, got, err)
		}
	}

	dir := t.TempDir()
	var stderr strings.Builder
	m := &Main{Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" }}
	code := m.Run(t.Context(), []string{"serve", "--listen", "127.0.0.1:0", "--store", "sqlite:" + filepath.Join(dir, "d.db"),
		"--replica-listen", "127.0.0.1:0", "--replica-url", "http://127.0.0.1:8081"})
	if code == 0 || !strings.Contains(stderr.String(), "--replica-url") || !strings.Contains(stderr.String(), "https://") {
		t.Errorf("serve --replica-url http://…: exit %d, %q; want an error naming the flag and https", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "d.db")); !os.IsNotExist(err) {
		t.Errorf("the refused serve created its store (%v)", err)
	}
}

// FuzzParseReplicaURL: any --replica-url is refused, or read as an https
// URL of a host alone, which reads again as itself.
func FuzzParseReplicaURL(f *testing.F) {
	for _, s := range []string{"https://10.0.1.11:8081", "http://h:1", "https://[::1]:1/", "https://u@h", "https:h", "%zz", "https://h:1/%2e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseReplicaURL(in)
		if err != nil || in == "" {
			return
		}
		if !strings.HasPrefix(got, "https://") || len(got) == len("https://") || strings.ContainsAny(got[len("https://"):], "/?#@") {
			t.Errorf("%q read as %q", in, got)
		}
		if again, err := parseReplicaURL(got); err != nil || again != got {
			t.Errorf("%q read as %q, which reads as %q, %v", in, got, again, err)
		}
	})
}
