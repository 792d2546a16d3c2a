package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestSignKnownVector(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	ts := time.Unix(1767225600, 0)
	body := []byte(`{"seq":7,"type":"operation.declared"}`)

	// By hand: HMAC-SHA256 keyed with the decoded secret over id.ts.body.
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(`evt_7.1767225600.{"seq":7,"type":"operation.declared"}`))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))

	got, err := Sign(secret, "evt_7", ts, body)
	if err != nil || got != want {
		t.Fatalf("Sign = %q, %v; want %q", got, err, want)
	}

	// The vector of the Standard Webhooks specification's libraries.
	got, err = Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; err != nil || got != want {
		t.Fatalf("Sign(spec vector) = %q, %v; want %q", got, err, want)
	}

	if _, err := Sign("whsec_not base64!", "evt_1", ts, body); !errors.Is(err, ErrSecret) {
		t.Fatalf("Sign with a bad secret: %v", err)
	}
}

func TestVerify(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("another key of thirty-two bytes!"))
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a different key of 32 bytes....."))
	now := time.Unix(1767225600, 0)
	body := []byte(`{"seq":1}`)
	sig, err := Sign(secret, "evt_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(HeaderID, "evt_1")
	h.Set(HeaderTimestamp, "1767225600")
	h.Set(HeaderSignature, sig)
	if err := Verify(secret, h, body, now.Add(time.Minute), 0); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// Several signatures, one of them right (key rotation).
	h2 := h.Clone()
	h2.Set(HeaderSignature, "v1,AAAA v2,whatever "+sig)
	if err := Verify(secret, h2, body, now, time.Minute); err != nil {
		t.Fatalf("Verify with several signatures: %v", err)
	}
	for name, c := range map[string]struct {
		secret string
		h      func(http.Header)
		body   string
		now    time.Time
		want   error
	}{
		"body":      {secret, nil, `{"seq":2}`, now, ErrSignature},
		"secret":    {other, nil, string(body), now, ErrSignature},
		"id":        {secret, func(h http.Header) { h.Set(HeaderID, "evt_2") }, string(body), now, ErrSignature},
		"timestamp": {secret, func(h http.Header) { h.Set(HeaderTimestamp, "1767225601") }, string(body), now, ErrSignature},
		"old":       {secret, nil, string(body), now.Add(6 * time.Minute), ErrTimestamp},
		"future":    {secret, nil, string(body), now.Add(-6 * time.Minute), ErrTimestamp},
		"garbled":   {secret, func(h http.Header) { h.Set(HeaderTimestamp, "soon") }, string(body), now, ErrTimestamp},
		"missing":   {secret, func(h http.Header) { h.Del(HeaderSignature) }, string(body), now, ErrMissingHeaders},
	} {
		hh := h.Clone()
		if c.h != nil {
			c.h(hh)
		}
		if err := Verify(c.secret, hh, []byte(c.body), c.now, 0); !errors.Is(err, c.want) {
			t.Errorf("%s: Verify = %v, want %v", name, err, c.want)
		}
	}
}
