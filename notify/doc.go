// Package notify delivers events to webhooks (contract section 8).
//
// A [Deliverer] POSTs every event a webhook's party may see (as a head of
// that party would) and whose type the webhook subscribes to, one event per
// request, in sequence order, following the Standard Webhooks convention
// (https://www.standardwebhooks.com):
//
//   - Content-Type: application/json; the body is [deconflict.EventJSON] of
//     the event.
//   - webhook-id: "evt_<seq>", the event's sequence number. It is the same
//     for every attempt at the same event, also across restarts, so a
//     receiver can discard duplicates by it. (Two webhooks receiving the
//     same event see the same id.)
//   - webhook-timestamp: the time of the attempt, in Unix seconds.
//   - webhook-signature: "v1," and the base64 HMAC-SHA256 of
//     "{webhook-id}.{webhook-timestamp}.{body}", keyed with the
//     base64-decoded part of the webhook's secret after "whsec_". See
//     [Sign] and [Verify].
//
// Any 2xx answer delivers the event. Anything else — another status (also
// a redirect, which is not followed), a timeout or a refused connection —
// is a failed attempt: the webhook then waits, with exponential backoff
// (1s, 2s, 4s, … up to Options.MaxBackoff, ±20% jitter), and retries the
// same event. It never gives up and never skips an event it should
// deliver: a receiver that is down for a day gets every event after it
// comes back, in order, at most MaxBackoff (plus jitter) after it does.
// The delivery state (deconflict.Delivery) is stored once per batch of up
// to 100 events (and at every failed attempt), in one transaction with
// Options.Delivered for each event delivered, so a restart loses no
// delivery; the events of a batch whose state was not stored yet are sent
// again, with the same webhook-ids: delivery is at least once. Before each
// event the webhook is read again, so a webhook deleted or changed during
// a batch stops or changes at the next event.
//
// Webhooks are delivered concurrently with each other (at most 8 at a
// time), each one sequentially, so a slow receiver holds up only itself.
// The worker writes only delivery state (Tx.PutDelivery), so a webhook
// changed or deleted while it is being delivered keeps its change or stays
// deleted. Secrets and bodies are never logged, and of a webhook's URL
// only the host is.
package notify
