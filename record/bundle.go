package record

import (
	"context"
	"encoding/json"
	"fmt"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/tlog"
)

// BundleFormat is the Format of the bundles this package builds and
// verifies.
const BundleFormat = "deconflict-evidence/1"

// manifestHeader is the first line of a bundle's manifest.
const manifestHeader = "deconflict evidence manifest v1"

// Bundle is the evidence bundle of one operation: every log entry about
// it, each with its inclusion proof in one signed checkpoint. It is
// verified offline by Verify, with no access to the server.
//
// Manifest is a signed note, by the same keys as the checkpoint, whose
// text is
//
//	deconflict evidence manifest v1
//	origin
//	operation id
//	tree size
//	base64(tree hash)
//	index
//	index
//	…
//
// listing the log index of every entry of the bundle. It is the server's
// signed statement that these, and only these, are the entries about the
// operation in that tree: an entry dropped from the bundle is detected,
// and an entry about the operation the server left out can be shown (from
// the log itself) to contradict its signed statement.
type Bundle struct {
	// Format is BundleFormat.
	Format string `json:"format"`
	// Origin names the log.
	Origin string `json:"origin"`
	// Operation is the ID of the operation the bundle is about.
	Operation string `json:"operation"`
	// Checkpoint is the signed checkpoint (see Checkpoint) every
	// inclusion proof leads to.
	Checkpoint string `json:"checkpoint"`
	// Key is the verifier key of the newest signing key. A verifier should
	// not trust it, but check with a key it holds already.
	Key string `json:"key"`
	// Manifest is the signed list of the entries' indexes (see above).
	Manifest string `json:"manifest"`
	// Entries are in increasing index order.
	Entries []Entry `json:"entries"`
	// Witnessed is, on a federation node whose peers cosigned its log,
	// their cosignatures of its checkpoints (see Witnessed); nil
	// otherwise.
	Witnessed *Witnessed `json:"witnessed,omitempty"`
	// NodeReceipts proves, on a federation node, the peer nodes' receipts
	// the bundle shows that carry no signature of their own: one
	// NodeReceiptProof for each receiving node (AddNodeReceiptProofs).
	NodeReceipts []NodeReceiptProof `json:"node_receipts,omitempty"`
}

// Entry is one log entry of a bundle. Data is the entry's bytes
// (EntryBytes of the event) as a JSON string; it is empty when the
// requester may not see the event, and then only the leaf hash and the
// proof show that the entry exists and where. Index is the leaf index
// (event seq - 1); Proof proves LeafHash at Index in the checkpoint's tree.
type Entry struct {
	Index    int64            `json:"index"`
	Data     string           `json:"data,omitempty"`
	LeafHash tlog.Hash        `json:"leaf_hash"`
	Proof    tlog.RecordProof `json:"proof"`
}

// Withheld reports whether the entry's content was left out.
func (e *Entry) Withheld() bool { return e.Data == "" }

// BuildBundle collects every entry about operation opID in the log of its
// first n events, with inclusion proofs against one checkpoint of size n
// signed with signers (see Checkpoint), the verifier key of the newest
// signer, and the signed manifest of the entries' indexes.
//
// An event is about the operation if it is one of its operation.* events
// or receipts (subject operation opID), a node's receipt of versions of
// several operations (operations.received) naming a version of it, its
// notice.short, a conflict.*
// event whose conflict includes opID, an escalation.* event whose duty is
// about the operation, one of those conflicts or one of the messages
// below, or a hotline.message, line.check or hotline.acknowledged event
// whose message has the operation or one of those conflicts as subject,
// or a webhook.delivered event that reports the delivery of one of the
// events above (its subject {kind:"event", id:seq}), but not of a key
// registration. Every
// party.key_added event is in every bundle too, whoever the party: they
// register the keys with which the parties sign their acknowledgements,
// and with them the bundle carries, in the log itself, every key Verify
// may need, and a verifier sees every key a party had registered.
//
// visible says whether the requester may see an event. An entry carries
// its content only if the requester may see it and the bundle shows, with
// entries the requester may see, why it is about the operation (a hotline
// message about a conflict counts only if the conflict's events are
// shown); otherwise it is withheld. A withheld entry still carries its
// leaf hash and proof. BuildBundle fails with ENotFound if no event other
// than a key registration is about opID.
func BuildBundle(ctx context.Context, tx Log, origin string, n int64, signers []*dc.SigningKey, opID string, visible func(*dc.Event) bool) (*Bundle, error) {
	if err := checkOrigin(origin); err != nil {
		return nil, err
	}
	if len(signers) == 0 {
		return nil, fmt.Errorf("evidence bundle: no signing key")
	}
	if n < 1 {
		return nil, dc.Errorf(dc.EInvalid, "evidence bundle: tree size %d is not 1 or more", n)
	}
	hash, err := TreeHash(ctx, tx, n)
	if err != nil {
		return nil, err
	}
	tree := tlog.Tree{N: n, Hash: hash}
	b := &Bundle{Format: BundleFormat, Origin: origin, Operation: opID, Key: newest(signers).Verifier, Entries: []Entry{}}
	all, shown := newScope(opID), newScope(opID)
	hr := HashReader(ctx, tx)
	own := 0 // entries other than key registrations
	// This scans every event of the log, a page at a time (the caller may
	// read each page in a transaction of its own: see Log). An index of
	// events by operation would avoid the scan.
	const page = 1000
	for after := int64(0); after < n; {
		events, err := tx.Events(ctx, after, page)
		if err != nil {
			return nil, fmt.Errorf("evidence bundle: %w", err)
		}
		for _, e := range events {
			if e.Seq > n {
				break
			}
			after = e.Seq
			about, err := all.relate(e)
			if err != nil {
				return nil, fmt.Errorf("evidence bundle: event %d (%s): %w", e.Seq, e.Type, err)
			}
			if !about {
				continue
			}
			if e.Type != dc.EventPartyKeyAdded {
				own++
			}
			index := e.Seq - 1
			data := EntryBytes(e)
			leaf, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, index)})
			if err != nil {
				return nil, fmt.Errorf("evidence bundle: leaf of event %d: %w", e.Seq, err)
			}
			if tlog.RecordHash(data) != leaf[0] {
				return nil, fmt.Errorf("evidence bundle: %w: event %d as stored does not match the entry logged for it", ErrIntegrity, e.Seq)
			}
			proof, err := InclusionProof(ctx, tx, index, n)
			if err != nil {
				return nil, fmt.Errorf("evidence bundle: %w", err)
			}
			en := Entry{Index: index, LeafHash: leaf[0], Proof: proof}
			if visible(e) {
				if ok, _ := shown.relate(e); ok {
					en.Data = string(data)
				}
			}
			b.Entries = append(b.Entries, en)
		}
		if len(events) < page {
			break
		}
	}
	if own == 0 {
		return nil, dc.Errorf(dc.ENotFound, "no entry about operation %s in the log of %d entries", opID, n)
	}
	cp, err := signNote(formatCheckpoint(origin, tree), signers)
	if err != nil {
		return nil, fmt.Errorf("evidence bundle: checkpoint: %w", err)
	}
	m, err := signNote(formatManifest(origin, opID, tree, b.Entries), signers)
	if err != nil {
		return nil, fmt.Errorf("evidence bundle: manifest: %w", err)
	}
	b.Checkpoint, b.Manifest = string(cp), string(m)
	return b, nil
}

// newest returns the key created last (the last of equals).
func newest(keys []*dc.SigningKey) *dc.SigningKey {
	k := keys[0]
	for _, c := range keys[1:] {
		if !c.CreatedAt.Before(k.CreatedAt) {
			k = c
		}
	}
	return k
}

// Verify checks a bundle offline and returns its timeline. key is the
// log's verifier key, obtained independently of the bundle (from the
// witnesses, or GET /v1/log/key earlier); if key is empty the bundle's own
// key is used and the timeline says so (KeyFromBundle): then the bundle
// proves only that it is consistent, not that the log signed it.
//
// Verify checks the checkpoint's signature and origin, the manifest's
// signature and that it is of the same tree and operation, that the
// entries are in increasing index order without duplicates and exactly
// those the manifest lists, that each entry's data hashes to its leaf hash
// (tlog.RecordHash), that each leaf hash is at its index in the
// checkpoint's tree (tlog.CheckRecord, also for withheld entries), that
// each entry is the event at its index, and that each entry shown is about
// the operation (judged from the entries shown, as BuildBundle does). The
// error names the entry and what failed. Every signed note (checkpoint,
// manifest, node receipt, acknowledgement, witnesses list) must carry
// only signature lines by the keys it is checked with, each once: the
// bundle's checkpoint is signed by the log alone (the peers' cosignatures
// are in Witnessed).
//
// Each node receipt shown (operation.received) must name the entry it
// received as it is in the bundle (checkReceived): on the author's log,
// an entry of the bundle before it with the leaf hash the receipt names;
// on the receiving node's log, the copy of that entry shown before it.
// A receipt is the receiving node's by its own signature (Signed), or,
// without one, by that node's checkpoint: on the receiving node's log the
// bundle's checkpoint; on the author's log (a copy) a checkpoint of the
// receiving node's log in NodeReceipts, signed by the receipt's key alone,
// into which the entry copied has a record proof, and which holds exactly
// the receipt shown. Every entry of NodeReceipts must prove a receipt
// shown. A node's receipt of several versions in one entry
// (operations.received) is checked, for each version of the operation it
// names, as a receipt of that version alone, and its copy on the
// author's log is proven by the receiving node's entry holding the same
// receipts.
//
// It also checks the parties' own signatures: every signed
// acknowledgement shown (a receipt or a conflict.acknowledged event with
// "signed") must open (OpenAck) with a key registered for its party by a
// party.key_added entry shown earlier in the bundle, and say what the
// entry says (operation, version and party, or conflict and party); every
// key registration shown must be of a key named for its party
// (CheckPartyKey). And every webhook.delivered entry shown must report
// the delivery of an entry shown earlier in the bundle, of the type that
// entry has.
//
// A bundle that carries Witnessed must have it whole: every cosigned
// checkpoint signed with key, consistent with the bundle's checkpoint by
// its proof, and each of its cosignatures by a node the signed witnesses
// list names (verifyWitnessed), and a node that also signed a receipt in
// the bundle must be named with the parties its receipt names. The
// timeline lists the cosignatures.
func Verify(b *Bundle, key string) (*Timeline, error) {
	if b == nil {
		return nil, fmt.Errorf("no bundle")
	}
	if b.Format != BundleFormat {
		return nil, fmt.Errorf("bundle format is %q; this program verifies %q", b.Format, BundleFormat)
	}
	fromBundle := key == ""
	if fromBundle {
		key = b.Key
		if key == "" {
			return nil, fmt.Errorf("no key to verify with: none was given and the bundle carries none")
		}
	}
	origin, tree, err := parseCheckpoint([]byte(b.Checkpoint), false, []string{key})
	if err != nil {
		return nil, err
	}
	if origin != b.Origin {
		return nil, fmt.Errorf("checkpoint is of log %q, the bundle says %q", origin, b.Origin)
	}
	mn, err := openNote("manifest", []byte(b.Manifest), []string{key})
	if err != nil {
		return nil, err
	}
	m, err := parseManifest(mn.Text)
	if err != nil {
		return nil, err
	}
	switch {
	case m.origin != origin:
		return nil, fmt.Errorf("manifest is of log %q, the checkpoint of log %q", m.origin, origin)
	case m.op != b.Operation:
		return nil, fmt.Errorf("manifest is of operation %s, the bundle says %s", m.op, b.Operation)
	case m.tree != tree:
		return nil, fmt.Errorf("manifest is of the tree of %d entries %s, the checkpoint of the tree of %d entries %s",
			m.tree.N, m.tree.Hash, tree.N, tree.Hash)
	}

	// Order, then completeness against the manifest, then each entry.
	for i := range b.Entries {
		en := &b.Entries[i]
		switch {
		case en.Index < 0 || en.Index >= tree.N:
			return nil, fmt.Errorf("%s: log index outside the checkpoint's log of %d entries", where(i, en), tree.N)
		case i > 0 && en.Index == b.Entries[i-1].Index:
			return nil, fmt.Errorf("%s: duplicates the entry before it", where(i, en))
		case i > 0 && en.Index < b.Entries[i-1].Index:
			return nil, fmt.Errorf("%s: out of order: it comes after log index %d; entries must be in increasing index order",
				where(i, en), b.Entries[i-1].Index)
		}
	}
	for i, j := 0, 0; i < len(b.Entries) || j < len(m.indexes); {
		switch {
		case j == len(m.indexes) || (i < len(b.Entries) && b.Entries[i].Index < m.indexes[j]):
			return nil, fmt.Errorf("%s: not listed in the signed manifest: an entry was added", where(i, &b.Entries[i]))
		case i == len(b.Entries) || b.Entries[i].Index > m.indexes[j]:
			return nil, fmt.Errorf("the entry at log index %d (event seq %d), which the signed manifest lists, is missing: an entry was dropped",
				m.indexes[j], m.indexes[j]+1)
		}
		i, j = i+1, j+1
	}

	tl := newTimeline(b.Operation, origin, tree.N, key, fromBundle)
	tl.receipts = newReceiptProofs(b.NodeReceipts)
	if err := tl.receipts.checkForm(); err != nil {
		return nil, err
	}
	sc := newScope(b.Operation)
	for i := range b.Entries {
		en := &b.Entries[i]
		if !en.Withheld() && tlog.RecordHash([]byte(en.Data)) != en.LeafHash {
			return nil, fmt.Errorf("%s: its data does not hash to its leaf hash: the entry was altered", where(i, en))
		}
		if err := tlog.CheckRecord(en.Proof, tree.N, tree.Hash, en.Index, en.LeafHash); err != nil {
			return nil, fmt.Errorf("%s: its inclusion proof does not lead from its leaf hash to the checkpoint's tree hash "+
				"(the proof or the leaf hash was altered, or the entry is not in this log): %v", where(i, en), err)
		}
		tl.leaves[en.Index] = en.LeafHash
		if en.Withheld() {
			_ = tl.add(en.Index, nil)
			continue
		}
		e, err := parseEntry([]byte(en.Data))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", where(i, en), err)
		}
		if e.Seq != en.Index+1 {
			return nil, fmt.Errorf("%s: its data is event seq %d, not the event at this index", where(i, en), e.Seq)
		}
		about, err := sc.relate(e)
		if err != nil {
			return nil, fmt.Errorf("%s: %s event: %v", where(i, en), e.Type, err)
		}
		if !about && e.Type == dc.EventWebhookDelivered {
			what := "an event it does not name"
			if seq := deliveredSeq(e); seq > 0 {
				what = fmt.Sprintf("event seq %d (log index %d)", seq, seq-1)
			}
			return nil, fmt.Errorf("%s: this webhook.delivered entry reports the delivery of %s, which is not an entry shown in this bundle before it",
				where(i, en), what)
		}
		if !about {
			return nil, fmt.Errorf("%s: this %s event is not about operation %s", where(i, en), e.Type, b.Operation)
		}
		if err := tl.add(en.Index, e); err != nil {
			return nil, fmt.Errorf("%s: %s event: %v", where(i, en), e.Type, err)
		}
	}
	if err := tl.receipts.checkUsed(); err != nil {
		return nil, err
	}
	if b.Witnessed != nil {
		if tl.Cosignatures, err = verifyWitnessed(b.Witnessed, key, origin, tree); err != nil {
			return nil, err
		}
		if err := tl.checkCosignerParties(); err != nil {
			return nil, err
		}
	}
	return tl, nil
}

// where names entry i of a bundle in an error.
func where(i int, en *Entry) string {
	w := fmt.Sprintf("bundle entry #%d (log index %d, event seq %d", i+1, en.Index, en.Index+1)
	if en.Withheld() {
		w += ", content withheld"
	}
	return w + ")"
}

// Event bodies, as package mechanism writes them. They are declared here
// because package mechanism is the one that calls this package.
type (
	operationBody struct {
		Operation *dc.Operation `json:"operation"`
		// Replicated is, on a copy of a peer's event, the entry of the
		// peer's log it came from.
		Replicated *replicatedFrom `json:"replicated"`
	}
	// replicatedFrom is the entry of a peer's log an event was copied
	// from, as package mechanism marks it (PeerOrigin): the peer's key,
	// the entry's index and its leaf hash (base64).
	replicatedFrom struct {
		Node     string `json:"node"`
		Index    int64  `json:"index"`
		LeafHash string `json:"leaf_hash"`
	}
	receiptBody struct {
		Receipt *struct {
			Operation string `json:"operation"`
			Party     string `json:"party"`
			Version   int    `json:"version"`
			At        string `json:"at"`
			// Signed is the party's own signed note (AckText), if any.
			Signed string `json:"signed"`
		} `json:"receipt"`
	}
	noticeBody struct {
		Operation string  `json:"operation"`
		Party     string  `json:"party"`
		LeadTimeS float64 `json:"lead_time_s"`
		NoticeS   float64 `json:"notice_s"`
	}
	conflictBody struct {
		Conflict *dc.Conflict `json:"conflict"`
		// Signed is, on conflict.acknowledged, the acknowledging party's
		// own signed note (AckText), if any.
		Signed string `json:"signed"`
	}
	keyBody struct {
		Party string `json:"party"`
		Key   string `json:"key"`
	}
	deliveryBody struct {
		Delivery *struct {
			Party     string `json:"party"`
			Webhook   string `json:"webhook"`
			EventSeq  int64  `json:"event_seq"`
			EventType string `json:"event_type"`
			WebhookID string `json:"webhook_id"`
			Status    int    `json:"status"`
			At        string `json:"at"`
		} `json:"delivery"`
	}
	escalationBody struct {
		Escalation *dc.Duty `json:"escalation"`
		Reason     string   `json:"reason"`
	}
	messageBody struct {
		Message *dc.Message `json:"message"`
	}
)

// decodeBody reads an event's body into v, which must then have its main
// field (checked by ok).
func decodeBody(e *dc.Event, v any, ok func() bool) error {
	if len(e.Data) == 0 {
		return fmt.Errorf("the event has no body")
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("cannot read the body: %v", err)
	}
	if !ok() {
		return fmt.Errorf("the body lacks what a %s event carries", e.Type)
	}
	return nil
}
