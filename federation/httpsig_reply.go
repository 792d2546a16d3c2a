package federation

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/note"
)

// Replies to peer requests are signed too (RFC 9421 response
// signatures), by the answering node's key: the signature covers the
// status and the Content-Digest of the body, and its nonce parameter is
// the nonce of the request it answers. That request's own signature
// binds its nonce to its method, path and query, and each request has a
// fresh nonce: a reply can therefore be neither altered on the way nor
// replayed as the answer to another request. The puller refuses any
// reply that does not carry such a signature by the peer it asked. The
// base depends on the reply alone, so that a genuine reply replayed to
// another request is told apart (its signature verifies, its nonce is
// another's) from noise or a forgery.

// replyComponents is the covered-components list of every reply, as sent.
const replyComponents = `("@status" "content-digest")`

// replyBase is the signature base of a reply with the given status and
// Content-Digest, under params (the Signature-Input value as sent).
func replyBase(status int, digest, params string) string {
	return fmt.Sprintf("%q: %d\n%q: %s\n%q: %s", "@status", status, "content-digest", digest, "@signature-params", params)
}

// SignReply sets Content-Digest, Signature-Input and Signature on the
// header h of the reply (status, body) to req.
func (s *RequestSigner) SignReply(h http.Header, req *http.Request, status int, body []byte, now time.Time) error {
	nonce := ""
	if _, p, err := parseSignatureInput(req.Header.Get("Signature-Input")); err == nil {
		nonce = p.nonce
	}
	digest := contentDigest(body)
	params := fmt.Sprintf(`%s;created=%d;keyid="%s";nonce="%s";alg="ed25519"`, replyComponents, now.Unix(), s.keyID, nonce)
	sig, err := s.signer.Sign([]byte(replyBase(status, digest, params)))
	if err != nil {
		return fmt.Errorf("sign reply: %w", err)
	}
	h.Set("Content-Digest", digest)
	h.Set("Signature-Input", sigLabel+"="+params)
	h.Set("Signature", sigLabel+"=:"+base64.StdEncoding.EncodeToString(sig)+":")
	return nil
}

// replyError is why a reply was refused. Replayed is set when the reply
// carries a valid signature of the peer made for another request: a
// genuine answer of the peer, replayed on the link by someone.
type replyError struct {
	msg      string
	replayed bool
}

func (e *replyError) Error() string { return "reply refused: " + e.msg }

// verifyReply checks the signature of resp (whose body is body), the
// answer to req, by the peer whose verifier key is peerKey.
func verifyReply(resp *http.Response, body []byte, req *http.Request, peerKey string, now time.Time) error {
	fail := func(format string, args ...any) error { return &replyError{msg: fmt.Sprintf(format, args...)} }
	in := resp.Header.Get("Signature-Input")
	if in == "" || resp.Header.Get("Signature") == "" {
		return fail("the reply is not signed")
	}
	label, v, _ := strings.Cut(in, "=")
	rest, ok := strings.CutPrefix(v, replyComponents)
	if label != sigLabel || !ok {
		return fail("Signature-Input: want %s=%s;…", sigLabel, replyComponents)
	}
	_, p, err := parseSignatureInput(sigLabel + "=()" + rest)
	if err != nil {
		return fail("%v", err)
	}
	if p.alg != "ed25519" || p.created < 0 {
		return fail("the signature needs alg=\"ed25519\" and created")
	}
	if p.keyID != peerKey {
		return fail("signed by key %q, not by the peer asked (%q)", keyName(p.keyID), keyName(peerKey))
	}
	verifier, err := note.NewVerifier(peerKey)
	if err != nil {
		return fail("%v", err)
	}
	label, sigv, _ := strings.Cut(resp.Header.Get("Signature"), "=")
	if label != sigLabel || len(sigv) < 2 || sigv[0] != ':' || sigv[len(sigv)-1] != ':' {
		return fail("Signature: want %s=:BASE64:", sigLabel)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(sigv[1 : len(sigv)-1])
	if err != nil {
		return fail("Signature: not base64")
	}
	digest := resp.Header.Get("Content-Digest")
	if !verifier.Verify([]byte(replyBase(resp.StatusCode, digest, v)), sig) {
		return fail("the signature by key %q does not verify", keyName(peerKey))
	}
	_, rp, _ := parseSignatureInput(req.Header.Get("Signature-Input"))
	if rp == nil || p.nonce != rp.nonce {
		return &replyError{replayed: true, msg: fmt.Sprintf("the peer signed this reply for another request (nonce %s, this request's %s): a replayed reply", strconv.Quote(p.nonce), strconv.Quote(nonceOf(rp)))}
	}
	if d := now.Sub(time.Unix(p.created, 0)); d > SignatureWindow || d < -SignatureWindow {
		return fail("created %s is more than %s from this node's clock", time.Unix(p.created, 0).UTC().Format(time.RFC3339), SignatureWindow)
	}
	if subtle.ConstantTimeCompare([]byte(digest), []byte(contentDigest(body))) != 1 {
		return fail("Content-Digest does not match the body (altered or cut on the way)")
	}
	return nil
}

func nonceOf(p *sigParams) string {
	if p == nil {
		return ""
	}
	return p.nonce
}

// signedReply buffers a reply so that it can be signed once complete.
type signedReply struct {
	header http.Header
	status int
	body   bytes.Buffer
	// key signs the reply: the key that signed the page's checkpoint.
	key *dc.SigningKey
}

func newSignedReply() *signedReply { return &signedReply{header: http.Header{}} }

func (s *signedReply) Header() http.Header { return s.header }
func (s *signedReply) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.body.Write(b)
}
func (s *signedReply) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
}

// serveLog answers a peer request (serveLogTo); a page is signed by this
// node.
func (n *Node) serveLog(w http.ResponseWriter, r *http.Request) {
	sr := newSignedReply()
	n.serveLogTo(sr, r)
	if r.Context().Err() != nil {
		return
	}
	if sr.status == 0 {
		sr.status = http.StatusOK
	}
	if sr.status != http.StatusOK {
		// A refusal carries nothing the puller keeps: it goes unsigned,
		// so that refusing strangers costs no read of the store.
		for k, v := range sr.header {
			w.Header()[k] = v
		}
		w.WriteHeader(sr.status)
		_, _ = w.Write(sr.body.Bytes())
		return
	}
	var err error
	var signer *RequestSigner
	if sr.key == nil {
		err = fmt.Errorf("no key signed the page")
	} else {
		signer, err = NewRequestSigner(sr.key.Signer, sr.key.Verifier)
	}
	if err == nil {
		err = signer.SignReply(sr.header, r, sr.status, sr.body.Bytes(), n.now())
	}
	if err != nil {
		n.log.Error("federation: sign a reply", slog.Any("error", err))
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
		return
	}
	for k, v := range sr.header {
		w.Header()[k] = v
	}
	// Declared, so that the puller reads the page into one buffer of its
	// length (readBody): net/http sizes only a short body by itself.
	w.Header().Set("Content-Length", strconv.Itoa(sr.body.Len()))
	w.WriteHeader(sr.status)
	_, _ = w.Write(sr.body.Bytes())
}
