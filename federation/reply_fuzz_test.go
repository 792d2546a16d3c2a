package federation

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// FuzzVerifyReply feeds arbitrary signature headers and bodies, as a
// network could deliver them, to the check of a peer's reply: it never
// panics, and accepts only the genuine signature of the peer's key over
// that very body, made for that very request.
func FuzzVerifyReply(f *testing.F) {
	skey, vkey, err := note.GenerateKey(nil, "peer")
	if err != nil {
		f.Fatal(err)
	}
	signer, err := NewRequestSigner(skey, vkey)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	req := httptest.NewRequest("GET", LogPath+"?from=0", nil)
	if err := signer.Sign(req, nil, now); err != nil {
		f.Fatal(err)
	}
	good := http.Header{}
	body := []byte(`{"checkpoint":"x","size":0,"entries":[]}`)
	if err := signer.SignReply(good, req, 200, body, now); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Get("Signature-Input"), good.Get("Signature"), good.Get("Content-Digest"), body)
	f.Add(`sig1=("@status" "content-digest");created=1;keyid="x";nonce="";alg="ed25519"`, "sig1=::", "", []byte("{}"))
	f.Add(`sig1=("@status")`, "sig1=:AAAA:", "sha-256=:x:", []byte{})
	f.Add(`sig1=("@status" "content-digest");created=99999999999999999999`, "", "", []byte{})
	f.Fuzz(func(t *testing.T, input, sig, digest string, b []byte) {
		resp := &http.Response{StatusCode: 200, Header: http.Header{}}
		resp.Header.Set("Signature-Input", input)
		resp.Header.Set("Signature", sig)
		resp.Header.Set("Content-Digest", digest)
		err := verifyReply(resp, b, req, vkey, now)
		genuine := input == good.Get("Signature-Input") && sig == good.Get("Signature") &&
			digest == good.Get("Content-Digest") && string(b) == string(body)
		if err == nil && !genuine {
			t.Fatalf("accepted a reply that is not the peer's: %q %q %q %q", input, sig, digest, b)
		}
		if genuine && err != nil {
			t.Fatalf("refused the genuine reply: %v", err)
		}
	})
}
