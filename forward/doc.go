// Package forward carries declarations between the replicas of one
// deployment (processes serving one PostgreSQL database): a replica that
// does not hold the writer lease hands the declarations its writer queued
// to the replica that does, which writes them in its own batches and
// sends back what became of each (see mechanism.Forwarder).
//
// The channel is HTTPS on a listener of its own (serve --replica-listen),
// apart from the API: POST /forward/v1/declarations with the declarations
// and their actors, answered with their outcomes. It is TLS 1.3 under a
// key pair and self-signed certificate the replicas share through the
// database (Certificate, kept in its meta table: whoever can read the
// database runs the deployment anyway): each replica serves with it,
// requires the dialling replica to present it too, and, dialling, trusts
// it alone, so that a declaration's private fields never cross the
// network in the clear and reach no one but a replica of the deployment.
// Both directions are also authenticated with HMAC-SHA256 under a secret
// shared the same way (Secret), over the time of the request, its body,
// a request's random nonce and the writer's URL it is for, and, in an
// answer, the request's signature; a request more than a minute off the
// receiver's clock is refused, and one whose nonce the writer saw is
// refused too: a captured request sent again applies nothing, to the
// writer or to another replica.
//
// Where the writer is: the replica holding the lease writes its URL in
// the same meta table (Publish); the others read it every second
// (Peer.Run). Exactness never depends on it: any replica may write at any
// time under the database's write lock. What the protocol guarantees is
// that a declaration is applied at most once and its caller told the
// truth: a batch is written here only when the writer surely applied none
// of it (it could not be reached, it did not present the deployment's
// certificate, or it answered, signed, that it does not hold the lease),
// and a batch whose answer is lost, or is not the writer's signed answer
// (a redirect, which is never followed, say), is answered 503, to be
// tried again (a PUT of the same declaration is idempotent). A writer
// giving its lease up closes no connection a hand-over may be crossing
// (Server.Release).
package forward
