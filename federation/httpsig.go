package federation

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/deconflict/deconflict/record"
	"golang.org/x/mod/sumdb/note"
)

// Peer requests are signed with RFC 9421 HTTP message signatures
// (Ed25519), keyed by the node keys of the descriptors: they pass plain
// HTTP and TLS-terminating proxies alike, and need no certificate
// authority, only the keys the nodes exchanged. A signature covers the
// method, the path, the query and the Content-Digest (RFC 9530) of the
// body, with the time it was made and a random nonce: a request is
// accepted within SignatureWindow of its time, and its nonce only once.

// The covered components, in order, of every peer request.
var coveredComponents = []string{"@method", "@path", "@query", "content-digest"}

// SignatureWindow is how far a request's created time may be from the
// receiver's clock.
const SignatureWindow = 30 * time.Second

// sigLabel is the label of the one signature a peer request carries.
const sigLabel = "sig1"

// ErrUnauthenticated is wrapped by every reason a peer request is refused.
var ErrUnauthenticated = errors.New("peer request not authenticated")

// RequestSigner signs requests as one node.
type RequestSigner struct {
	keyID  string
	signer note.Signer
}

// NewRequestSigner returns a signer with the node's note signer key and
// its verifier key, which is the keyid peers look it up by.
func NewRequestSigner(signerKey, verifierKey string) (*RequestSigner, error) {
	s, err := record.NoteSigner(signerKey)
	if err != nil {
		return nil, fmt.Errorf("request signer: %w", err)
	}
	return &RequestSigner{keyID: verifierKey, signer: s}, nil
}

// contentDigest is the Content-Digest header value of body.
func contentDigest(body []byte) string {
	h := sha256.Sum256(body)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(h[:]) + ":"
}

// signatureBase is the RFC 9421 signature base of the covered components
// and the serialized signature parameters.
func signatureBase(r *http.Request, params string) string {
	var b strings.Builder
	for _, c := range coveredComponents {
		var v string
		switch c {
		case "@method":
			v = r.Method
		case "@path":
			v = r.URL.EscapedPath()
			if v == "" {
				v = "/"
			}
		case "@query":
			v = "?" + r.URL.RawQuery
		default:
			v = r.Header.Get(c)
		}
		fmt.Fprintf(&b, "%q: %s\n", c, v)
	}
	fmt.Fprintf(&b, "%q: %s", "@signature-params", params)
	return b.String()
}

// Sign sets Content-Digest, Signature-Input and Signature on r, whose
// body is body.
func (s *RequestSigner) Sign(r *http.Request, body []byte, now time.Time) error {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	r.Header.Set("Content-Digest", contentDigest(body))
	quoted := make([]string, len(coveredComponents))
	for i, c := range coveredComponents {
		quoted[i] = strconv.Quote(c)
	}
	params := fmt.Sprintf(`(%s);created=%d;keyid="%s";nonce="%s";alg="ed25519"`,
		strings.Join(quoted, " "), now.Unix(), s.keyID, hex.EncodeToString(nonce[:]))
	sig, err := s.signer.Sign([]byte(signatureBase(r, params)))
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	r.Header.Set("Signature-Input", sigLabel+"="+params)
	r.Header.Set("Signature", sigLabel+"=:"+base64.StdEncoding.EncodeToString(sig)+":")
	return nil
}

// sigParams are the parameters of a Signature-Input member.
type sigParams struct {
	components []string
	created    int64
	keyID      string
	nonce      string
	alg        string
}

// parseSignatureInput reads a Signature-Input header holding one member,
// labelled sig1: an inner list of quoted component names, then
// parameters (integers or quoted strings). It returns the member's value
// as sent, which is the @signature-params of the signature base.
func parseSignatureInput(h string) (string, *sigParams, error) {
	label, v, ok := strings.Cut(h, "=")
	if !ok || label != sigLabel {
		return "", nil, fmt.Errorf("Signature-Input: want one signature labelled %s", sigLabel)
	}
	if len(v) > 4096 {
		return "", nil, fmt.Errorf("Signature-Input: too long")
	}
	p := &sigParams{created: -1}
	rest := v
	if !strings.HasPrefix(rest, "(") {
		return "", nil, fmt.Errorf("Signature-Input: no component list")
	}
	end := strings.IndexByte(rest, ')')
	if end < 0 {
		return "", nil, fmt.Errorf("Signature-Input: unterminated component list")
	}
	for _, f := range strings.Fields(rest[1:end]) {
		c, err := strconv.Unquote(f)
		if err != nil || !strings.HasPrefix(f, `"`) {
			return "", nil, fmt.Errorf("Signature-Input: component %s is not a quoted string", f)
		}
		p.components = append(p.components, c)
	}
	rest = rest[end+1:]
	seen := map[string]bool{}
	for rest != "" {
		if rest[0] != ';' {
			return "", nil, fmt.Errorf("Signature-Input: want ';' before a parameter")
		}
		rest = rest[1:]
		name, after, ok := strings.Cut(rest, "=")
		if !ok || name == "" || seen[name] {
			return "", nil, fmt.Errorf("Signature-Input: bad or repeated parameter")
		}
		seen[name] = true
		var val string
		if strings.HasPrefix(after, `"`) {
			close := strings.IndexByte(after[1:], '"')
			if close < 0 {
				return "", nil, fmt.Errorf("Signature-Input: unterminated string in %s", name)
			}
			val, rest = after[1:close+1], after[close+2:]
			if strings.ContainsAny(val, "\\") {
				return "", nil, fmt.Errorf("Signature-Input: escapes are not accepted in %s", name)
			}
		} else {
			i := strings.IndexByte(after, ';')
			if i < 0 {
				i = len(after)
			}
			val, rest = after[:i], after[i:]
		}
		switch name {
		case "created":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				return "", nil, fmt.Errorf("Signature-Input: created %q is not a time", val)
			}
			p.created = n
		case "keyid":
			p.keyID = val
		case "nonce":
			p.nonce = val
		case "alg":
			p.alg = val
		}
	}
	return v, p, nil
}

// KeyLookup returns the verifier of a peer's key, if the key is a peer's.
type KeyLookup func(keyID string) (note.Verifier, bool)

// RequestVerifier checks peer requests, and remembers the nonces it saw
// within the window.
type RequestVerifier struct {
	lookup KeyLookup
	now    func() time.Time

	mu     sync.Mutex
	nonces map[string]time.Time // keyid+nonce → when it may be forgotten
	swept  time.Time
}

// NewRequestVerifier returns a verifier of requests signed by the keys
// lookup knows.
func NewRequestVerifier(lookup KeyLookup, now func() time.Time) *RequestVerifier {
	if now == nil {
		now = time.Now
	}
	return &RequestVerifier{lookup: lookup, now: now, nonces: map[string]time.Time{}}
}

// Verify checks r's signature and body digest and returns the signing
// key. Every refusal wraps ErrUnauthenticated and says why.
func (v *RequestVerifier) Verify(r *http.Request, body []byte) (string, error) {
	fail := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("%w: %s", ErrUnauthenticated, fmt.Sprintf(format, args...))
	}
	params, p, err := parseSignatureInput(r.Header.Get("Signature-Input"))
	if err != nil {
		return fail("%v", err)
	}
	if len(p.components) != len(coveredComponents) {
		return fail("the signature must cover %s", strings.Join(coveredComponents, " "))
	}
	for i, c := range coveredComponents {
		if p.components[i] != c {
			return fail("the signature must cover %s", strings.Join(coveredComponents, " "))
		}
	}
	if p.alg != "ed25519" || p.keyID == "" || len(p.nonce) < 16 || len(p.nonce) > 128 || p.created < 0 {
		return fail("the signature needs alg=\"ed25519\", a keyid, a nonce and created")
	}
	now := v.now()
	created := time.Unix(p.created, 0)
	if d := now.Sub(created); d > SignatureWindow || d < -SignatureWindow {
		return fail("created %s is more than %s from this node's clock %s", created.UTC().Format(time.RFC3339), SignatureWindow, now.UTC().Format(time.RFC3339))
	}
	verifier, ok := v.lookup(p.keyID)
	if !ok {
		return fail("key %q is not a peer's", keyName(p.keyID))
	}
	sh := r.Header.Get("Signature")
	label, rest, _ := strings.Cut(sh, "=")
	if label != sigLabel || len(rest) < 2 || rest[0] != ':' || rest[len(rest)-1] != ':' {
		return fail("Signature: want %s=:BASE64:", sigLabel)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(rest[1 : len(rest)-1])
	if err != nil {
		return fail("Signature: not base64")
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Content-Digest")), []byte(contentDigest(body))) != 1 {
		return fail("Content-Digest does not match the body")
	}
	if !verifier.Verify([]byte(signatureBase(r, params)), sig) {
		return fail("the signature by key %q does not verify", keyName(p.keyID))
	}
	if !v.remember(p.keyID+" "+p.nonce, now) {
		return fail("nonce %s was used before: a replayed request", p.nonce)
	}
	return p.keyID, nil
}

// remember records a nonce and reports whether it is new.
func (v *RequestVerifier) remember(key string, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if now.Sub(v.swept) > SignatureWindow {
		for k, until := range v.nonces {
			if now.After(until) {
				delete(v.nonces, k)
			}
		}
		v.swept = now
	}
	if _, seen := v.nonces[key]; seen {
		return false
	}
	v.nonces[key] = now.Add(3 * SignatureWindow)
	return true
}

// keyName returns the name part of a verifier key, for messages.
func keyName(key string) string {
	name, _, _ := strings.Cut(key, "+")
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}
