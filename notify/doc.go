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
// is a failed attempt (each attempt has Options.Timeout, 10s by default):
// the webhook then waits, with exponential backoff
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
// # Where deliveries may go
//
// Deliveries follow the egress rule of contract section 8
// (deconflict.Egress): never to a loopback, link-local, private,
// multicast or unspecified address unless Options.Allow (serve
// --webhook-allow) lists it. The rule is checked in the dialler's Control
// hook, on the address of every socket about to connect — after DNS, so
// neither a name that resolves to such an address nor one rebound to it
// between checks can reach it. No proxy from the environment is used and
// no redirect followed, either of which would move the connection past
// the check. (mechanism refuses such URLs given as IP literals earlier, at
// PUT.)
//
// A failed attempt is recorded in Delivery.LastError as one of a few
// classes (FailNotAllowed, FailConnect, FailTLS, FailTimeout, FailStatus),
// never as the error's text or the receiver's status: a head chooses the
// URL, and the exact answer (refused or reset, which status, which TLS
// alert) would let it probe what listens on a host and port. A port that
// answers with something other than HTTP, or for https other than TLS,
// is FailConnect like a closed one; the classes still tell an HTTP or TLS
// server, and a silent one (FailTimeout), from no server. They tell a
// receiver's owner where to look; the rest is in its own logs.
// Delivery.LastStatus is kept only for a 2xx.
//
// # Fairness: a slow receiver delays only its own webhook
//
// Each webhook that has events due is delivered by a goroutine of its own,
// sequentially (order per webhook), so its receiver's pace is its own. The
// requests in flight are bounded — Options.MaxConcurrent (256) in all and
// Options.PerParty (16) per party — by fairSlots, which a goroutine takes
// for one attempt at a time, not for a whole catch-up. When every slot is
// taken, freed slots go to the waiting parties round-robin, so a party
// with many slow or dead receivers holds at most PerParty slots and
// another party's request waits at most for one slot to free (an attempt
// ends within Timeout) and its turn, never for the slow party's queue.
// Since PerParty equals the cap of webhooks per party
// (mechanism.MaxWebhooks), a party's own webhooks do not wait for each
// other either until MaxConcurrent requests are in flight.
//
// # Logs
//
// Failing receivers cannot flood the log: a line when a webhook starts
// failing and one when it recovers, at most 10 of these per
// Options.LogInterval (a minute), and at the end of each interval in which
// attempts failed one summary line with the counts by class and how many
// lines were left out (failLog). The state of every webhook is in GET
// /v1/webhooks.
//
// The worker writes only delivery state (Tx.PutDelivery), so a webhook
// changed or deleted while it is being delivered keeps its change or stays
// deleted. Secrets and bodies are never logged, and of a webhook's URL
// only the host is (never its credentials, path or query).
package notify
