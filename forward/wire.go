package forward

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
)

// Path is where a writer takes declarations.
const Path = "/forward/v1/declarations"

// SignatureHeader carries a request's or an answer's signature:
// "t=<unix seconds>,s=<hex HMAC-SHA256>".
const SignatureHeader = "Deconflict-Forward-Signature"

// maxSkew is how far off the receiver's clock a request's time may be.
const maxSkew = time.Minute

// maxBody bounds a request's body, and maxBatch how many declarations it
// carries: the sender splits larger batches.
const (
	maxBody  = 32 << 20
	maxBatch = 128
)

// notWriter is the code of the answer of a replica that does not hold the
// writer lease: it applied nothing.
const notWriter = "not_writer"

// replayed is the code of the answer to a request the writer took, or
// refused, before: it applied nothing more.
const replayed = "replayed"

// request is the body of a hand-over.
type request struct {
	Declarations []declaration `json:"declarations"`
}

// declaration is one forwarded declaration: the actor as the sending
// replica authenticated it, and Declare's arguments.
type declaration struct {
	Party       string                `json:"party"`
	Role        dc.Role               `json:"role"`
	TokenID     string                `json:"token_id"`
	ID          string                `json:"id"`
	Declaration mechanism.Declaration `json:"declaration"`
	IfMatch     *int                  `json:"if_match"`
}

// answer is the body of the writer's answer: the outcomes in the order of
// the declarations, or why it took none (Refused: notWriter).
type answer struct {
	Outcomes []outcome `json:"outcomes,omitempty"`
	Refused  string    `json:"refused,omitempty"`
}

// outcome is what became of one declaration: a result or an error.
type outcome struct {
	Operation *dc.Operation  `json:"operation,omitempty"`
	Conflicts []*dc.Conflict `json:"conflicts,omitempty"`
	Created   bool           `json:"created,omitempty"`
	Error     *wireError     `json:"error,omitempty"`
}

// wireError is a *deconflict.Error as carried.
type wireError struct {
	Code      string         `json:"code"`
	Message   string         `json:"message"`
	Field     string         `json:"field,omitempty"`
	Conflicts []*dc.Conflict `json:"conflicts,omitempty"`
}

// toWire returns the declarations as carried.
func toWire(ds []mechanism.Forwarded) request {
	r := request{Declarations: make([]declaration, len(ds))}
	for i, d := range ds {
		r.Declarations[i] = declaration{Party: d.Actor.Party, Role: d.Actor.Role, TokenID: d.Actor.TokenID,
			ID: d.ID, Declaration: d.Declaration, IfMatch: d.IfMatch}
	}
	return r
}

// fromWire returns the declarations carried.
func fromWire(r request) []mechanism.Forwarded {
	ds := make([]mechanism.Forwarded, len(r.Declarations))
	for i, d := range r.Declarations {
		ds[i] = mechanism.Forwarded{Actor: dc.Actor{Party: d.Party, Role: d.Role, TokenID: d.TokenID},
			ID: d.ID, Declaration: d.Declaration, IfMatch: d.IfMatch}
	}
	return ds
}

// outcomeOf returns an outcome as carried. An error that is not a
// *deconflict.Error is carried as internal, as the API would answer it.
func outcomeOf(o mechanism.ForwardedOutcome) outcome {
	if o.Err != nil {
		var e *dc.Error
		if !errors.As(o.Err, &e) {
			e = &dc.Error{Code: dc.EInternal, Message: "internal error"}
		}
		return outcome{Error: &wireError{Code: e.Code, Message: e.Message, Field: e.Field, Conflicts: e.Conflicts}}
	}
	return outcome{Operation: o.Result.Operation, Conflicts: o.Result.Conflicts, Created: o.Result.Created}
}

// forwardedOf returns the outcome carried; an outcome with neither a
// result nor an error is an error.
func forwardedOf(o outcome) (mechanism.ForwardedOutcome, error) {
	switch {
	case o.Error != nil:
		return mechanism.ForwardedOutcome{Err: &dc.Error{Code: o.Error.Code, Message: o.Error.Message, Field: o.Error.Field, Conflicts: o.Error.Conflicts}}, nil
	case o.Operation == nil:
		return mechanism.ForwardedOutcome{}, errors.New("an outcome with neither an operation nor an error")
	}
	return mechanism.ForwardedOutcome{Result: &mechanism.Result{Operation: o.Operation, Conflicts: o.Conflicts, Created: o.Created}}, nil
}

// sign returns the signature header of a message at time t: over the
// kind of message, the time, the nonce (a request's random name, "" for an
// answer), the URL the message is for (the writer's, "" for an answer),
// what it answers (the request's signature, or "" for a request) and the
// body. The nonce and the URL are what make a captured request useless
// again: the writer takes one nonce once, and only requests for its own
// URL.
func sign(secret []byte, kind string, t time.Time, nonce, to, answers string, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	n := ""
	if nonce != "" {
		n = ",n=" + nonce
	}
	return "t=" + ts + n + ",s=" + hex.EncodeToString(mac(secret, kind, ts, nonce, to, answers, body))
}

// newNonce returns a random nonce for a request.
func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func mac(secret []byte, kind, ts, nonce, to, answers string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	fmt.Fprintf(h, "deconflict-forward-v2\n%s\n%s\n%d:%s\n%d:%s\n%d:%s\n", kind, ts, len(nonce), nonce, len(to), to, len(answers), answers)
	h.Write(body)
	return h.Sum(nil)
}

// verify checks a signature header over a message: its MAC, and that its
// time is within maxSkew of now. It returns the message's time and nonce.
func verify(secret []byte, kind, header string, now time.Time, to, answers string, body []byte) (int64, string, error) {
	ts, nonce, sig, err := parseSignature(header)
	if err != nil {
		return 0, "", err
	}
	if err := fresh(ts, now); err != nil {
		return 0, "", err
	}
	if !hmac.Equal(sig, mac(secret, kind, strconv.FormatInt(ts, 10), nonce, to, answers, body)) {
		return 0, "", fmt.Errorf("%s: the signature does not match (another deployment's secret, or meant for another replica?)", SignatureHeader)
	}
	return ts, nonce, nil
}

// fresh checks that a message's time ts is within maxSkew of now.
func fresh(ts int64, now time.Time) error {
	if d := now.Sub(time.Unix(ts, 0)); d > maxSkew || d < -maxSkew {
		return fmt.Errorf("%s: signed at %s, %s off this replica's clock", SignatureHeader, time.Unix(ts, 0).UTC().Format(time.RFC3339), d.Round(time.Second))
	}
	return nil
}

// parseSignature reads "t=<unix seconds>[,n=<32 hex digits>],s=<64 hex
// digits>".
func parseSignature(header string) (int64, string, []byte, error) {
	parts := strings.Split(header, ",")
	bad := fmt.Errorf("%s: want t=<unix seconds>,n=<hex>,s=<hex>", SignatureHeader)
	if len(parts) != 2 && len(parts) != 3 {
		return 0, "", nil, bad
	}
	tv, tok := strings.CutPrefix(parts[0], "t=")
	sv, sok := strings.CutPrefix(parts[len(parts)-1], "s=")
	if !tok || !sok {
		return 0, "", nil, bad
	}
	nonce := ""
	if len(parts) == 3 {
		n, ok := strings.CutPrefix(parts[1], "n=")
		if b, err := hex.DecodeString(n); !ok || err != nil || len(b) != 16 {
			return 0, "", nil, fmt.Errorf("%s: n is not 32 hex digits", SignatureHeader)
		}
		nonce = n
	}
	ts, err := strconv.ParseInt(tv, 10, 64)
	if err != nil || ts < 0 {
		return 0, "", nil, fmt.Errorf("%s: t is not a time in unix seconds", SignatureHeader)
	}
	sig, err := hex.DecodeString(sv)
	if err != nil || len(sig) != sha256.Size {
		return 0, "", nil, fmt.Errorf("%s: s is not %d hex digits", SignatureHeader, 2*sha256.Size)
	}
	return ts, nonce, sig, nil
}
