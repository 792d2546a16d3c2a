package forward

import (
	"context"
	"strings"
	"testing"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/sqlite"
)

// TestPublishLeavesOlderReplicasNoWriter: during a rolling upgrade, the
// row where replicas of the plain-HTTP version read the writer's URL
// names the last of them that held the writer lease, often an address
// an upgraded replica serves TLS at now. A TLS replica that takes the
// lease empties it, which those replicas read as "no writer": they
// write their own declarations instead of sending them, in the clear, to
// a TLS listener that answers 400 (a 503 to their callers).
func TestPublishLeavesOlderReplicasNoWriter(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/d.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Update(ctx, func(tx dc.Tx) error {
		return tx.PutMeta(ctx, "forward/writer", []byte("http://10.0.1.11:8081"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := Publish(ctx, st, "https://10.0.1.11:8081"); err != nil {
		t.Fatal(err)
	}
	var plain []byte
	if err := st.View(ctx, func(tx dc.Tx) error {
		plain, err = tx.Meta(ctx, "forward/writer")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(plain) != 0 {
		t.Errorf("replicas of the plain-HTTP version still read the writer at %q", plain)
	}
	if w, err := Writer(ctx, st); err != nil || w != "https://10.0.1.11:8081" {
		t.Errorf("Writer: %q, %v; want the URL published", w, err)
	}
}

// TestSecretTooShort: a secret row shorter than the secret Secret makes
// (emptied or cut by hand) would sign with a key anyone can guess: it is
// an error naming the row, not quoting it, and the row is left for the
// operator to delete.
func TestSecretTooShort(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/d.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, v := range []string{"", "k3y"} {
		if err := st.Update(ctx, func(tx dc.Tx) error { return tx.PutMeta(ctx, secretMeta, []byte(v)) }); err != nil {
			t.Fatal(err)
		}
		got, err := Secret(ctx, st)
		if err == nil || !strings.Contains(err.Error(), secretMeta) {
			t.Fatalf("a %d-byte secret: %q, %v; want an error naming %s", len(v), got, err, secretMeta)
		}
		if v != "" && strings.Contains(err.Error(), v) {
			t.Errorf("the error quotes the secret: %v", err)
		}
	}
}
