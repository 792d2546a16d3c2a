package record

import (
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
)

// TestCosignature: a cosigned checkpoint still opens with the log's key,
// its cosignature verifies with the witness's key, and a changed byte of
// the text or another witness's key fails.
func TestCosignature(t *testing.T) {
	logKey, _ := NewKey("alpha-k1", time.Now())
	witness, _ := NewKey("bravo-k1", time.Now())
	other, _ := NewKey("bravo-k1", time.Now())
	cp, err := signNote([]byte("alpha\n3\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"), []*dc.SigningKey{logKey})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1800000000, 0)
	co, err := Cosign(cp, witness.Signer, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ParseCheckpoint(co, logKey.Verifier); err != nil {
		t.Errorf("the cosigned checkpoint no longer opens with the log's key: %v", err)
	}
	if got, err := VerifyCosignature(co, witness.Verifier); err != nil || !got.Equal(at) {
		t.Errorf("VerifyCosignature = %v, %v; want %v", got, err, at)
	}
	if _, err := VerifyCosignature(co, other.Verifier); err == nil {
		t.Errorf("another witness's key verified the cosignature")
	}
	if _, err := VerifyCosignature([]byte(strings.Replace(string(co), "\n3\n", "\n4\n", 1)), witness.Verifier); err == nil {
		t.Errorf("a cosignature verified over a changed checkpoint")
	}
}
