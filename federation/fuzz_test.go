package federation

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// FuzzDecodePage feeds arbitrary bytes, as a peer could send them, to the
// page decoder: it never panics, and what it accepts is well formed.
func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(`{"checkpoint":"x","size":1,"entries":[{"index":0,"data":"{}"}]}`))
	f.Add([]byte(`{"checkpoint":"x","size":2,"entries":[{"index":0,"leaf_hash":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},{"index":1,"data":"{\"seq\":2}"}]}`))
	f.Add([]byte(`{"checkpoint":"","size":-1,"entries":[]}`))
	f.Add([]byte(`{"checkpoint":"x","entries":[{"index":3,"data":"a","leaf_hash":"b"}]} trailing`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePage(bytes.NewReader(b))
		if err != nil {
			return
		}
		for i, e := range p.Entries {
			if (e.Data == nil) == (e.LeafHash == "") {
				t.Fatalf("entry %d has both or neither of data and leaf_hash", i)
			}
			if i > 0 && e.Index != p.Entries[i-1].Index+1 {
				t.Fatalf("entry %d out of order", i)
			}
			if _, _, err := e.leaf(); err != nil {
				t.Fatalf("entry %d accepted but its leaf does not read: %v", i, err)
			}
		}
	})
}

// FuzzVerifyRequest feeds arbitrary signature headers, as anyone could
// send them, to the peer request verifier: it never panics, and the only
// request it accepts is the one the peer's key signed.
func FuzzVerifyRequest(f *testing.F) {
	now := time.Unix(1700000000, 0)
	skey, vkey, err := note.GenerateKey(rand.Reader, "peer-k1")
	if err != nil {
		f.Fatal(err)
	}
	signer, err := NewRequestSigner(skey, vkey)
	if err != nil {
		f.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		f.Fatal(err)
	}
	const target = "http://node.test/federation/v1/log?from=0"
	good, _ := http.NewRequest("GET", target, nil)
	if err := signer.Sign(good, nil, now); err != nil {
		f.Fatal(err)
	}
	goodInput, goodSig := good.Header.Get("Signature-Input"), good.Header.Get("Signature")
	f.Add(goodInput, goodSig, good.Header.Get("Content-Digest"))
	f.Add(`sig1=();created=1`, `sig1=::`, ``)
	f.Add(`sig1=("@method";keyid="a\"b"`, `x`, `y`)
	f.Add(`other=("a")`, ``, ``)
	f.Fuzz(func(t *testing.T, input, sig, digest string) {
		v := NewRequestVerifier(func(k string) (note.Verifier, bool) { return verifier, k == vkey }, func() time.Time { return now })
		r, _ := http.NewRequest("GET", target, nil)
		r.Header.Set("Signature-Input", input)
		r.Header.Set("Signature", sig)
		r.Header.Set("Content-Digest", digest)
		if _, err := v.Verify(r, nil); err == nil && (input != goodInput || sig != goodSig) {
			t.Fatalf("accepted a request the key did not sign: %q %q", input, sig)
		}
	})
}
