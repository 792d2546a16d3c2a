// Package forward carries declarations between the replicas of one
// deployment (processes serving one PostgreSQL database): a replica that
// does not hold the writer lease hands the declarations its writer queued
// to the replica that does, which writes them in its own batches and
// sends back what became of each (see mechanism.Forwarder).
//
// The channel is HTTP on a listener of its own (serve --replica-listen),
// apart from the API: POST /forward/v1/declarations with the declarations
// and their actors, answered with their outcomes. Both directions are
// authenticated with HMAC-SHA256 under a secret the replicas share
// through the database (Store.Secret, kept in its meta table: whoever can
// read the database runs the deployment anyway), over the time of the
// request, its body, a request's random nonce and the writer's URL it is
// for, and, in an answer, the request's signature; a request more than a
// minute off the receiver's clock is refused, and one whose nonce the
// writer saw is refused too: a captured request sent again applies
// nothing, to the writer or to another replica. The
// channel is not encrypted: run it on a private network, or give it an
// https URL behind a TLS terminator.
//
// Where the writer is: the replica holding the lease writes its URL in
// the same meta table (Store.Publish); the others read it every second
// (Peer.Run). Exactness never depends on it: any replica may write at any
// time under the database's write lock. What the protocol guarantees is
// that a declaration is applied at most once and its caller told the
// truth: a batch is written here only when the writer surely applied none
// of it (it could not be reached, or it answered, signed, that it does not
// hold the lease), and a batch whose answer is lost is answered 503, to
// be tried again (a PUT of the same declaration is idempotent).
package forward
