package record

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/tlog"
)

// A federation node's receipt of another node's operations is an entry of
// the receiving node's log (operations.received, or operation.received
// for one version). The author's node pulls
// that log, checks every page against the receiving node's signed
// checkpoint while keeping each leaf hash, and keeps a copy of the receipt
// in its own log. Its evidence bundle proves that the copy is the
// receiving node's statement the way a transparency log proves an entry:
// with the receiving node's entry, its record proof (tlog.ProveRecord)
// and the receiving node's signed checkpoint the proof leads to. One
// signature, the checkpoint's, vouches for every receipt it holds.

// NodeReceiptProof is what proves the node receipts of a bundle that one
// receiving node made: that node's signed checkpoint of its log (the
// C2SP tlog-checkpoint note as the node served it, signed by its key
// alone) and the receipts' entries of its log, in increasing index
// order, each with its data, its leaf hash and its record proof in the
// checkpoint's tree (the fields of a bundle's own entries; Data is never
// empty).
type NodeReceiptProof struct {
	Checkpoint string  `json:"checkpoint"`
	Entries    []Entry `json:"entries"`
}

// KeptPeerLog is what a federation node keeps of a peer's log: the
// peer's signed checkpoint it verified last, the entries it may see, and
// every stored hash of the tree up to that checkpoint (tlog numbering).
type KeptPeerLog interface {
	tlog.HashReader
	// Checkpoint returns the peer's signed checkpoint of its log that
	// the node verified last.
	Checkpoint() string
	// Entry returns the bytes of entry index of the peer's log as the
	// node kept them; nil if it holds none (withheld from it).
	Entry(index int64) ([]byte, error)
}

// receivedCopy is a node receipt shown in a bundle that is a copy of a
// peer's entry and carries no signature of its own: it needs a proof.
type receivedCopy struct {
	node  string
	index int64
	leaf  string
}

// unsignedCopies returns the node receipts shown in b that are copies of
// peers' entries without a signature of their own, in bundle order: a
// copy of a receipt of one version (operation.received) or of a batch
// (operations.received).
func unsignedCopies(b *Bundle) []receivedCopy {
	var out []receivedCopy
	for _, en := range b.Entries {
		if en.Withheld() || !strings.Contains(en.Data, `.received"`) {
			continue
		}
		e, err := parseEntry([]byte(en.Data))
		if err != nil {
			continue
		}
		var from *replicatedFrom
		switch e.Type {
		case dc.EventOperationReceived:
			r, f, err := readNodeReceipt(e)
			if err != nil || r.Signed != "" {
				continue
			}
			from = f
		case dc.EventOperationsReceived:
			_, from, _ = readNodeReceipts(e)
		}
		if from != nil {
			out = append(out, receivedCopy{node: from.Node, index: from.Index, leaf: from.LeafHash})
		}
	}
	return out
}

// readNodeReceipt reads the body of an operation.received event: the
// receipt, and where it was copied from (nil on the receiving node's own
// log).
func readNodeReceipt(e *dc.Event) (*NodeReceipt, *replicatedFrom, error) {
	var b struct {
		Receipt    *NodeReceipt    `json:"node_receipt"`
		Replicated *replicatedFrom `json:"replicated"`
	}
	if err := decodeBody(e, &b, func() bool { return b.Receipt != nil }); err != nil {
		return nil, nil, err
	}
	return b.Receipt, b.Replicated, nil
}

// AddNodeReceiptProofs sets b.NodeReceipts: for each node receipt shown
// in b that is a copy of a peer's entry (its body carries "replicated")
// without a signature of its own, the peer's entry it copies, with its
// record proof in the peer's latest checkpoint the node verified (one
// checkpoint for all the receipts of a peer, signed by the peer's key
// alone: ownCheckpoint), read from peer(key), what
// the node keeps of the log of the peer of that key (nil if it keeps
// none). A receipt of a peer whose log the node no longer keeps gets no
// proof, and the bundle then fails Verify, naming it. A kept entry or
// proof that is not what the copy names, or does not lead to the
// checkpoint's tree hash, is an error wrapping ErrIntegrity: what the
// node keeps was damaged.
func AddNodeReceiptProofs(b *Bundle, peer func(key string) (KeptPeerLog, error)) error {
	copies := unsignedCopies(b)
	byNode := map[string][]receivedCopy{}
	var nodes []string
	for _, c := range copies {
		if _, ok := byNode[c.node]; !ok {
			nodes = append(nodes, c.node)
		}
		byNode[c.node] = append(byNode[c.node], c)
	}
	b.NodeReceipts = nil
	for _, node := range nodes {
		l, err := peer(node)
		if err != nil {
			return fmt.Errorf("node receipts: the log of the node of key %s: %w", keyName(node), err)
		}
		if l == nil {
			continue
		}
		cp, tree, err := ownCheckpoint(l.Checkpoint(), node)
		if err != nil {
			return fmt.Errorf("node receipts: %w: the kept checkpoint of the node of key %s: %v", ErrIntegrity, keyName(node), err)
		}
		cs := byNode[node]
		slices.SortFunc(cs, func(a, b receivedCopy) int { return cmp.Compare(a.index, b.index) })
		p := NodeReceiptProof{Checkpoint: cp, Entries: []Entry{}}
		for i, c := range cs {
			if i > 0 && c.index == cs[i-1].index {
				continue // two copies of one entry: one proof
			}
			if c.index < 0 || c.index >= tree.N {
				return fmt.Errorf("node receipts: %w: entry %d of the log of the node of key %s is not in its checkpoint of %d entries", ErrIntegrity, c.index, keyName(node), tree.N)
			}
			data, err := l.Entry(c.index)
			if err != nil {
				return fmt.Errorf("node receipts: entry %d of the log of the node of key %s: %w", c.index, keyName(node), err)
			}
			leaf := tlog.RecordHash(data)
			if data == nil || leaf.String() != c.leaf {
				return fmt.Errorf("node receipts: %w: entry %d of the log of the node of key %s, as kept, is not the entry of leaf hash %s its copy names", ErrIntegrity, c.index, keyName(node), c.leaf)
			}
			proof, err := tlog.ProveRecord(tree.N, c.index, l)
			if err != nil {
				return fmt.Errorf("node receipts: the record proof of entry %d of the log of the node of key %s: %w", c.index, keyName(node), err)
			}
			if err := tlog.CheckRecord(proof, tree.N, tree.Hash, c.index, leaf); err != nil {
				return fmt.Errorf("node receipts: %w: the record proof of entry %d of the log of the node of key %s does not lead to its checkpoint: %v", ErrIntegrity, c.index, keyName(node), err)
			}
			p.Entries = append(p.Entries, Entry{Index: c.index, Data: string(data), LeafHash: leaf, Proof: proof})
		}
		b.NodeReceipts = append(b.NodeReceipts, p)
	}
	return nil
}

// ownCheckpoint returns a peer's signed checkpoint as the peer of key
// signed it, with its tree: without the signature lines of other keys it
// may carry (a peer verifies a checkpoint with ParseCheckpoint, which
// allows its cosigners' lines, each key once). A bundle carries the
// checkpoint signed by the receiving node's key alone, as Verify wants
// it; each signature covers only the note's text, so the node's own
// lines still verify without the others.
func ownCheckpoint(cp, key string) (string, tlog.Tree, error) {
	n, err := openSigned("checkpoint", []byte(cp), []string{key})
	if err == nil {
		err = checkSigLines("checkpoint", cp, n, true)
	}
	if err != nil {
		return "", tlog.Tree{}, err
	}
	var b strings.Builder
	b.WriteString(n.Text + "\n")
	for _, s := range n.Sigs {
		b.WriteString("— " + s.Name + " " + s.Base64 + "\n")
	}
	own := b.String()
	_, tree, err := parseCheckpoint([]byte(own), false, []string{key})
	return own, tree, err
}

// receiptProofs is what Verify holds of a bundle's NodeReceipts: each
// checkpoint's tree once opened with a key, and which entries a receipt
// shown used.
type receiptProofs struct {
	proofs []NodeReceiptProof
	trees  map[int]openedTree // by position in proofs
	used   [][]bool
}

type openedTree struct {
	key  string
	tree tlog.Tree
	err  error
}

func newReceiptProofs(ps []NodeReceiptProof) *receiptProofs {
	rp := &receiptProofs{proofs: ps, trees: map[int]openedTree{}, used: make([][]bool, len(ps))}
	for i, p := range ps {
		rp.used[i] = make([]bool, len(p.Entries))
	}
	return rp
}

// checkForm checks what does not depend on a key: every proof holds at
// least one entry, shown, in increasing index order.
func (rp *receiptProofs) checkForm() error {
	for i, p := range rp.proofs {
		if len(p.Entries) == 0 {
			return fmt.Errorf("node receipt proof #%d: %w: it holds no entry", i+1, ErrMalformed)
		}
		for j, en := range p.Entries {
			switch {
			case en.Withheld():
				return fmt.Errorf("node receipt proof #%d, entry #%d (index %d): %w: its data is missing", i+1, j+1, en.Index, ErrMalformed)
			case j > 0 && en.Index <= p.Entries[j-1].Index:
				return fmt.Errorf("node receipt proof #%d, entry #%d (index %d): %w: entries must be in increasing index order, without duplicates", i+1, j+1, en.Index, ErrMalformed)
			}
		}
	}
	return nil
}

// tree opens proof i's checkpoint with key, once per key.
func (rp *receiptProofs) tree(i int, key string) (tlog.Tree, error) {
	if o, ok := rp.trees[i]; ok && o.key == key {
		return o.tree, o.err
	}
	_, t, err := parseCheckpoint([]byte(rp.proofs[i].Checkpoint), false, []string{key})
	rp.trees[i] = openedTree{key: key, tree: t, err: err}
	return t, err
}

// prove checks that a node receipt without a signature of its own, a
// copy of entry from.Index of the log of the node of key from.Node with
// leaf hash from.LeafHash, is that node's entry: the bundle carries the
// entry, its record proof leads to the tree hash of a checkpoint signed
// by that key alone, and same accepts the entry's event (it says exactly
// what the copy says). It says which checkpoint vouches for it.
func (rp *receiptProofs) prove(from *replicatedFrom, same func(e *dc.Event) error) (string, error) {
	var cand []string
	for i, p := range rp.proofs {
		j := slices.IndexFunc(p.Entries, func(en Entry) bool { return en.Index == from.Index })
		if j < 0 {
			continue
		}
		tree, err := rp.tree(i, from.Node)
		if err != nil {
			cand = append(cand, fmt.Sprintf("node receipt proof #%d holds an entry %d, but its checkpoint %v", i+1, from.Index, err))
			continue
		}
		en := &p.Entries[j]
		what := fmt.Sprintf("node receipt proof #%d, entry %d of the log of the node of key %s", i+1, from.Index, keyName(from.Node))
		if err := rp.checkEntry(en, tree, from, same); err != nil {
			return "", fmt.Errorf("%s: %v", what, err)
		}
		rp.used[i][j] = true
		return fmt.Sprintf("entry %d of its log, in its signed checkpoint of %d entries", from.Index, tree.N), nil
	}
	if len(cand) > 0 {
		return "", fmt.Errorf("the node receipt carries no signature of its own, and no checkpoint signed by the key %s proves entry %d of its log: %s",
			keyName(from.Node), from.Index, strings.Join(cand, "; "))
	}
	return "", fmt.Errorf("the node receipt carries no signature of its own, and the bundle no proof that the log of the node of key %s holds it (entry %d of that log)",
		keyName(from.Node), from.Index)
}

// checkEntry checks one entry of a proof against tree and the copy made
// from it (from, and same, which accepts the entry's event if it says
// what the copy says).
func (rp *receiptProofs) checkEntry(en *Entry, tree tlog.Tree, from *replicatedFrom, same func(e *dc.Event) error) error {
	leaf := tlog.RecordHash([]byte(en.Data))
	switch {
	case leaf != en.LeafHash:
		return fmt.Errorf("its data does not hash to its leaf hash: the entry was altered")
	case base64.StdEncoding.EncodeToString(leaf[:]) != from.LeafHash:
		return fmt.Errorf("its leaf hash is %s, but the copy names leaf hash %s: it is another entry", leaf, from.LeafHash)
	}
	if err := tlog.CheckRecord(en.Proof, tree.N, tree.Hash, en.Index, en.LeafHash); err != nil {
		return fmt.Errorf("its record proof does not lead from its leaf hash to the tree hash of the checkpoint of %d entries signed by that key "+
			"(the proof or the entry was altered, or the entry is not in that log): %v", tree.N, err)
	}
	e, err := parseEntry([]byte(en.Data))
	if err != nil {
		return err
	}
	if e.Seq != en.Index+1 {
		return fmt.Errorf("its data is event seq %d, not the event at index %d", e.Seq, en.Index)
	}
	return same(e)
}

// sameAsCopy checks that e, the receiving node's entry a copy of node
// receipt r was made from, is that node's own operation.received entry
// holding exactly r.
func sameAsCopy(e *dc.Event, r *NodeReceipt) error {
	if e.Type != dc.EventOperationReceived || e.Subject == nil || e.Subject.Kind != dc.SubjectOperation || e.Subject.ID != r.Operation {
		return fmt.Errorf("it is a %s event, not that node's receipt of operation %s", e.Type, r.Operation)
	}
	own, copied, err := readNodeReceipt(e)
	if err != nil {
		return err
	}
	if copied != nil {
		return fmt.Errorf("it is a copy of another node's entry, not that node's own receipt")
	}
	if !sameReceipt(own, r) {
		return fmt.Errorf("the receipt it holds is not the one shown in this bundle: the receipt was altered")
	}
	return nil
}

// sameReceipt reports whether a and b say the same, field by field.
func sameReceipt(a, b *NodeReceipt) bool {
	return a.Operation == b.Operation && a.Party == b.Party && a.Version == b.Version && slices.Equal(a.Receiver, b.Receiver) &&
		a.Key == b.Key && a.ReceivedAt == b.ReceivedAt && a.Entry == b.Entry && a.LeafHash == b.LeafHash && a.Signed == b.Signed
}

// checkUsed fails unless every entry of every proof proved a receipt
// shown: nothing in the bundle goes unchecked.
func (rp *receiptProofs) checkUsed() error {
	for i, used := range rp.used {
		for j, u := range used {
			if !u {
				return fmt.Errorf("node receipt proof #%d, entry %d: it proves no node receipt shown in this bundle", i+1, rp.proofs[i].Entries[j].Index)
			}
		}
	}
	return nil
}
