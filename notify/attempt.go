package notify

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	dc "github.com/deconflict/deconflict"
)

// attempt POSTs the event and updates st: delivered (ok) or a failed
// attempt with its retry time. An event that cannot be encoded or a secret
// that cannot be used fail like an unreachable receiver, and are retried.
func (d *Deliverer) attempt(ctx context.Context, w *dc.Webhook, e *dc.Event, st *dc.Delivery) (ok bool) {
	var (
		status  int
		failure string
	)
	id := "evt_" + strconv.FormatInt(e.Seq, 10)
	ts := d.opts.Now()
	body, err := dc.EventJSON(e)
	if err != nil {
		failure = FailEncode
	}
	sig, err := Sign(w.Secret, id, ts, body)
	if err != nil && failure == "" {
		failure = FailSecret
	}
	if failure == "" {
		status, failure = d.post(ctx, w.Party, w.URL, id, ts, sig, body)
		if ctx.Err() != nil {
			return false
		}
	}
	now := d.opts.Now()
	st.LastAttempt, st.LastStatus = &now, status
	k := hookKey{w.Party, w.Name}
	if failure == "" {
		if st.Attempts > 0 {
			d.flog.recovered(now, k, host(w.URL), st.Attempts+1)
		}
		st.DeliveredSeq, st.Delivered, st.Attempts = e.Seq, st.Delivered+1, 0
		st.LastError, st.NextAttempt, st.FailingSince = "", nil, nil
		return true
	}
	st.LastStatus = 0 // what the receiver answered is not shown: see FailStatus
	st.Attempts++
	st.LastError = failure
	if st.FailingSince == nil {
		st.FailingSince = &now
	}
	wait := d.backoff(st.Attempts)
	next := now.Add(wait)
	st.NextAttempt = &next
	d.flog.failedAttempt(now, k, host(w.URL), failure, wait, st.Attempts == 1)
	return false
}

// post sends one request, in a slot of party's (see fairSlots) and
// within Options.Timeout. It returns the status (0 if none) and, unless
// the receiver answered 2xx, the class of the failure.
func (d *Deliverer) post(ctx context.Context, party, u, id string, ts time.Time, sig string, body []byte) (status int, failure string) {
	if err := d.slots.acquire(ctx, party); err != nil {
		return 0, FailTimeout // ctx ended: the caller does not record it
	}
	defer d.slots.release(party)
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, FailURL
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	// Deliveries are idempotent (webhook-id): let the transport resend one
	// that met a stale keep-alive connection. The header is not sent.
	req.Header["Idempotency-Key"] = nil
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, classify(err)
	}
	// The status decides; the body is read (a little of it) only so the
	// connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, FailStatus
	}
	return resp.StatusCode, ""
}

// backoff is the wait after the attempts-th failed attempt:
// min(MaxBackoff, 1s·2^(attempts-1)), ±20%.
func (d *Deliverer) backoff(attempts int) time.Duration {
	b := d.opts.MaxBackoff
	if attempts <= 31 {
		b = min(b, time.Second<<max(attempts-1, 0))
	}
	return time.Duration(float64(b) * (0.8 + 0.4*d.jitter()))
}

// host returns the host of a URL, the only part of it that is logged.
func host(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Host
}
