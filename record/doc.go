// Package record is the mechanism's tamper-evident record (contract
// section 9): every event goes into an append-only Merkle-tree log, the
// log's checkpoints are signed, and anyone can verify offline an evidence
// bundle of one operation, or, as a witness, that the log only grew.
//
// The log is the transparency log of golang.org/x/mod/sumdb/tlog (RFC 6962
// hashing): leaf i (from 0) is event seq i+1, and its record is
// EntryBytes of the event. Append stores, in the event's transaction, the
// hashes tlog.StoredHashes gives for the new leaf, through
// Tx.PutLogHashes; HashReader reads them back for tlog.
//
// A checkpoint is a signed note (golang.org/x/mod/sumdb/note, Ed25519)
// whose text is the log's origin, its size and its root hash in base64, one
// per line: the tlog.Tree of the Go checksum database with the origin as
// first line (the C2SP tlog-checkpoint form). InclusionProof and
// ConsistencyProof give tlog's RFC 6962 proofs.
//
// An evidence bundle (BuildBundle, Verify) carries every entry about one
// operation, each with its inclusion proof against one signed checkpoint,
// and a signed manifest of the entries' indexes, so that a bundle with an
// entry dropped, added, altered or moved fails verification. Entries the
// requester may not see are there by leaf hash and proof only. Verify
// returns a Timeline, which Write prints for a board of inquiry.
//
// A party may sign its acknowledgements itself, with an Ed25519 key it
// registered (party.key_added): AckText is the text, SignAck signs it and
// OpenAck checks it, for the server and the command line alike. Every
// bundle carries every key registration of its log, and Verify checks
// each signed acknowledgement it shows against the keys registered for
// its party before it. A bundle also carries the webhook deliveries
// (webhook.delivered) of its entries: who was told, and when. On a
// federation node it carries the peer nodes' receipts of the operation
// (NodeReceipt), each proven by a record proof into the receiving node's
// own signed checkpoint (NodeReceiptProof), and their cosignatures of the
// log (Witnessed).
//
// A witness keeps the last checkpoint it accepted and checks each new one
// with Witness (ParseCheckpoint, then CheckConsistency): a bad signature,
// a rollback, a fork or a rewritten history is an error.
package record
