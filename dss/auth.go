package dss

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The scopes of F3548 access tokens.
const (
	ScopeStrategicCoordination  = "utm.strategic_coordination"
	ScopeConstraintManagement   = "utm.constraint_management"
	ScopeConstraintProcessing   = "utm.constraint_processing"
	ScopeConformanceMonitoring  = "utm.conformance_monitoring_sa"
	ScopeAvailabilityArbitation = "utm.availability_arbitration"
)

// maxTokenLife is how far ahead a token's exp may be (F3548: an hour),
// with clockSkew of slack for the issuer's clock.
const (
	maxTokenLife = time.Hour
	clockSkew    = 30 * time.Second
)

// Verifier checks F3548 access tokens: RS256 JWTs signed by one of the
// trusted keys, for one of the accepted audiences.
type Verifier struct {
	keys      []*rsa.PublicKey
	audiences []string
	now       func() time.Time

	// verified remembers tokens that passed, until they expire: a USS
	// sends the same token for up to an hour, and the RSA check was a
	// tenth of a request's time.
	mu       sync.Mutex
	verified map[[32]byte]cached
}

// cached is a verified token's caller and expiry.
type cached struct {
	caller *Caller
	exp    time.Time
}

// maxCached bounds the remembered tokens; the memory is emptied when full.
const maxCached = 10000

// NewVerifier returns a verifier trusting keys for audiences.
func NewVerifier(keys []*rsa.PublicKey, audiences []string, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{keys: keys, audiences: audiences, now: now}
}

// Caller is who a verified token speaks for: its sub (the USS, manager
// of what it creates) and its scopes.
type Caller struct {
	Subject string
	Scopes  map[string]bool
}

// Has reports whether the caller holds every scope of set.
func (c *Caller) Has(set ...string) bool {
	for _, s := range set {
		if !c.Scopes[s] {
			return false
		}
	}
	return true
}

// claims are the claims of an F3548 access token.
type claims struct {
	jwt.RegisteredClaims
	Scope json.RawMessage `json:"scope"`
}

// Verify checks the token of an Authorization header value and returns
// its caller. Every failure is an authentication failure (401).
func (v *Verifier) Verify(header string) (*Caller, error) {
	scheme, raw, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return nil, errors.New("missing access token: want the header Authorization: Bearer <JWT>")
	}
	h := sha256.Sum256([]byte(raw))
	v.mu.Lock()
	hit, ok := v.verified[h]
	v.mu.Unlock()
	if ok && v.now().Before(hit.exp.Add(clockSkew)) {
		return hit.caller, nil
	}
	c, exp, err := v.verify(raw)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	if v.verified == nil || len(v.verified) >= maxCached {
		v.verified = map[[32]byte]cached{}
	}
	v.verified[h] = cached{caller: c, exp: exp}
	v.mu.Unlock()
	return c, nil
}

// verify checks a token fully.
func (v *Verifier) verify(raw string) (*Caller, time.Time, error) {
	var zero time.Time
	var c claims
	var lastErr error
	verified := false
	for _, k := range v.keys {
		c = claims{}
		_, err := jwt.ParseWithClaims(strings.TrimSpace(raw), &c, func(t *jwt.Token) (any, error) { return k, nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(v.now), jwt.WithLeeway(clockSkew),
			jwt.WithExpirationRequired())
		if err == nil {
			verified = true
			break
		}
		lastErr = err
		if !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			break // the same answer with every key
		}
	}
	if !verified {
		if lastErr == nil {
			lastErr = errors.New("no trusted key")
		}
		return nil, zero, fmt.Errorf("invalid access token: %v", lastErr)
	}
	if c.ExpiresAt.Time.After(v.now().Add(maxTokenLife + clockSkew)) {
		return nil, zero, errors.New("invalid access token: exp is more than an hour ahead")
	}
	if c.Issuer == "" {
		return nil, zero, errors.New("invalid access token: iss is missing")
	}
	if c.Subject == "" {
		return nil, zero, errors.New("invalid access token: sub is missing")
	}
	if !v.audienceOK(c.Audience) {
		return nil, zero, fmt.Errorf("invalid access token: aud %q is not accepted here", []string(c.Audience))
	}
	scopes, err := parseScopes(c.Scope)
	if err != nil {
		return nil, zero, err
	}
	return &Caller{Subject: c.Subject, Scopes: scopes}, c.ExpiresAt.Time, nil
}

func (v *Verifier) audienceOK(aud jwt.ClaimStrings) bool {
	for _, a := range aud {
		for _, want := range v.audiences {
			if a == want {
				return true
			}
		}
	}
	return false
}

// parseScopes reads the scope claim: a space-separated string (RFC
// 8693), or a list of strings as some issuers write it.
func parseScopes(raw json.RawMessage) (map[string]bool, error) {
	out := map[string]bool{}
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		for _, f := range strings.Fields(s) {
			out[f] = true
		}
		return out, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errors.New("invalid access token: scope is neither a string nor a list of strings")
	}
	for _, f := range list {
		out[f] = true
	}
	return out, nil
}

// LoadKeys reads trusted public keys from files: each a PEM RSA public
// key (PKIX or PKCS #1, or a certificate) or a JWKS document.
func LoadKeys(files []string) ([]*rsa.PublicKey, error) {
	var keys []*rsa.PublicKey
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read dss key: %w", err)
		}
		ks, err := ParseKeys(b)
		if err != nil {
			return nil, fmt.Errorf("read dss key %s: %w", f, err)
		}
		keys = append(keys, ks...)
	}
	if len(keys) == 0 {
		return nil, errors.New("read dss keys: no key given")
	}
	return keys, nil
}

// ParseKeys reads RSA public keys from PEM blocks or a JWKS document.
func ParseKeys(b []byte) ([]*rsa.PublicKey, error) {
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "{") {
		return parseJWKS([]byte(t))
	}
	var keys []*rsa.PublicKey
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		var k any
		var err error
		switch blk.Type {
		case "PUBLIC KEY":
			k, err = x509.ParsePKIXPublicKey(blk.Bytes)
		case "RSA PUBLIC KEY":
			k, err = x509.ParsePKCS1PublicKey(blk.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(blk.Bytes); err == nil {
				k = cert.PublicKey
			}
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", strings.ToLower(blk.Type), err)
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("a %T is not an RSA key (F3548 tokens are RS256)", k)
		}
		keys = append(keys, rk)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key or certificate found")
	}
	return keys, nil
}

func parseJWKS(b []byte) ([]*rsa.PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	var keys []*rsa.PublicKey
	for i, k := range set.Keys {
		if k.Kty != "RSA" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.N, "="))
		e, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.E, "="))
		if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("parse JWKS: keys[%d] has a bad n or e", i)
		}
		keys = append(keys, &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())})
	}
	if len(keys) == 0 {
		return nil, errors.New("parse JWKS: no RSA key")
	}
	return keys, nil
}
