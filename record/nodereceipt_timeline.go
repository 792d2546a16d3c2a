package record

import (
	"fmt"
	"slices"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
)

// describeNodeReceipt checks a federation node's receipt of a version of
// the operation (operation.received) and says who received it, when, and
// with what lead time.
//
// What binds the receiving node to the receipt is its own signature
// (Signed, checked with the key the receipt names) or, without one, its
// signed checkpoint over the receipt's entry: on the receiving node's own
// log the bundle's checkpoint, so the log's key is the receipt's; on the
// author's log (a copy) a checkpoint of the receiving node's log the
// bundle carries (receiptProofs.prove).
func (t *Timeline) describeNodeReceipt(it *Item, e *dc.Event) (string, error) {
	r, from, err := readNodeReceipt(e)
	if err != nil {
		return "", err
	}
	if e.Subject == nil || r.Operation != e.Subject.ID {
		return "", fmt.Errorf("the node receipt is of operation %q, not of the entry's subject", r.Operation)
	}
	key, vouched := r.Key, ""
	var at time.Time
	switch {
	case r.Signed != "":
		at, err = CheckNodeReceipt(r)
	case from != nil:
		if from.Node != r.Key {
			return "", fmt.Errorf("the node receipt names key %s, but the entry is a copy from the log of the node of key %s", keyName(r.Key), keyName(from.Node))
		}
		if at, err = CheckNodeReceiptFields(r); err == nil {
			vouched, err = t.receipts.prove(from, func(e *dc.Event) error { return sameAsCopy(e, r) })
		}
	default:
		at, err = CheckNodeReceiptFields(r)
		key = t.Key
	}
	if err != nil {
		return "", err
	}
	received, err := t.checkReceived(it.Index, r, from)
	if err != nil {
		return "", err
	}
	return t.receivedText(it, r, key, at, received, vouched), nil
}

// receivedText fills the fields of it for node receipt r, bound to its
// node by key, received at at, and returns its text: received says which
// entry of the bundle the receipt names (checkReceived), vouched which
// checkpoint of the receiving node proves a copy ("" if none does).
func (t *Timeline) receivedText(it *Item, r *NodeReceipt, key string, at time.Time, received, vouched string) string {
	receiver := strings.Join(r.Receiver, ", ")
	it.Party, it.Version, it.SignedBy, it.Key, it.Receiver = r.Party, r.Version, keyName(key), key, r.Receiver
	if s, ok := t.starts[r.Version]; ok {
		it.FirstStart = &s
	} else {
		it.FirstStart = t.last
	}
	txt := fmt.Sprintf("received by %s's node at %s, signed by %s (key %s): version %d of the operation of %s",
		receiver, fmtTime(at), receiver, key, r.Version, r.Party)
	if it.FirstStart != nil {
		it.LeadTime = lead(*it.FirstStart, at)
		txt += fmt.Sprintf("; first volume starts %s; lead time %s", fmtTime(*it.FirstStart), fmtLead(*it.LeadTime))
	}
	txt += "; " + received
	if vouched != "" {
		txt += "; the receipt is " + vouched
	}
	return txt
}

// checkReceived checks that node receipt r, shown at entry index, names
// the entry it received as the bundle holds it, and says which that is.
//
// On the author's node the receipt came from the receiving node (the
// event is a copy of that node's entry, from): it names an entry of this
// log, which must be an entry of the bundle before it (shown or withheld)
// with the leaf hash the receipt names and, if shown, version r.Version
// of the operation. On the receiving node the receipt is its own and
// names the entry of the author's log it received: this log holds a copy
// of that entry, which must be shown before it, a copy of version
// r.Version made from exactly that entry. A copy withheld from the
// requester cannot be read; the text then says the entry is not checked.
func (t *Timeline) checkReceived(index int64, r *NodeReceipt, from *replicatedFrom) (string, error) {
	isVersion := func(at int64) bool {
		p, ok := t.pos[at+1]
		if !ok {
			return false
		}
		it := &t.Items[p]
		return it.Version == r.Version && slices.Contains([]string{dc.EventOperationDeclared, dc.EventOperationUpdated,
			dc.EventOperationActivated, dc.EventOperationEnded, dc.EventOperationCancelled}, it.Type)
	}
	if from != nil {
		if from.Node != r.Key {
			return "", fmt.Errorf("the node receipt names key %s, but the entry is a copy from the log of the node of key %s", keyName(r.Key), keyName(from.Node))
		}
		leaf, ok := t.leaves[r.Entry]
		switch {
		case r.Entry >= index || !ok:
			return "", fmt.Errorf("the node receipt names entry %d of this log as received, which is not an entry of this bundle before it", r.Entry)
		case leaf.String() != r.LeafHash:
			return "", fmt.Errorf("the node receipt names entry %d of this log with leaf hash %s, but the bundle's entry %d has leaf hash %s: it received another entry",
				r.Entry, r.LeafHash, r.Entry, leaf)
		}
		if _, shown := t.pos[r.Entry+1]; !shown {
			return fmt.Sprintf("the entry received is entry %d of this bundle (withheld; its leaf hash matches)", r.Entry), nil
		}
		if !isVersion(r.Entry) {
			return "", fmt.Errorf("the node receipt names entry %d of this log, which is not version %d of the operation", r.Entry, r.Version)
		}
		return fmt.Sprintf("the entry received is entry %d of this bundle", r.Entry), nil
	}
	withheld := false
	for _, it := range t.Items {
		if it.Withheld {
			withheld = true
			continue
		}
		if c, ok := t.copies[it.Index]; ok && c.Index == r.Entry && c.LeafHash == r.LeafHash && isVersion(it.Index) {
			return fmt.Sprintf("the entry received is entry %d of the author's log, copied here as entry %d", r.Entry, it.Index), nil
		}
	}
	if withheld {
		return fmt.Sprintf("the entry received is entry %d of the author's log, whose copy is withheld from the requester: not checked", r.Entry), nil
	}
	return "", fmt.Errorf("the node receipt names entry %d of the author's log (leaf hash %s) as received, but no entry of this bundle before it is a copy of version %d of the operation made from that entry",
		r.Entry, r.LeafHash, r.Version)
}

// CheckNodeKeys checks that every node receipt of the timeline, and every
// cosignature of the log's checkpoints, is signed by one of keys: the
// peer nodes' verifier keys, obtained independently of the bundle (from
// their descriptors). A receipt's key is carried in the receipt itself,
// and a cosignature's in the witnesses list, both within the author's
// log: without this check the author's node could sign a receipt "by
// bravo", or cosign its own checkpoint "as bravo", with a key of its own
// making. On success the timeline no longer warns that the keys were not
// checked.
func (t *Timeline) CheckNodeKeys(keys []string) error {
	ok := map[string]bool{}
	for _, k := range keys {
		ok[k] = true
	}
	for _, it := range t.Items {
		if isNodeReceipt(it.Type) && !ok[it.Key] {
			return fmt.Errorf("entry %d: the node receipt is signed by key %s, which is not one of the receiving nodes' keys given", it.Index, it.Key)
		}
	}
	for _, c := range t.Cosignatures {
		if !ok[c.Key] {
			return fmt.Errorf("the cosignature of checkpoint %d is by key %s, which is not one of the peer nodes' keys given", c.Size, c.Key)
		}
	}
	t.NodeKeysChecked = true
	return nil
}

// CheckNodeParties checks, for each peer node given by its key with the
// sets of parties it hosted (one for each of its descriptors given: the
// one it has and any it had before), that every node receipt signed and
// every cosignature made with that key names exactly one of those sets.
// A receipt names the parties its node hosted when it gave it, so a
// receipt given before the node's parties changed is judged by the
// descriptor the node had then: the one it has now does not vouch that
// it hosted other parties before. The parties of a cosignature are the
// author's word (the witnesses list): with several peers, CheckNodeKeys
// alone would let the author show one peer's cosignature as another's.
func (t *Timeline) CheckNodeParties(nodes map[string][][]string) error {
	for _, it := range t.Items {
		if sets, ok := nodes[it.Key]; ok && isNodeReceipt(it.Type) && !oneOf(it.Receiver, sets) {
			return fmt.Errorf("entry %d: the node receipt signed by key %s names the receiving node's parties %s, but the descriptors given for that key name %s: "+
				"if the node hosted these parties when it gave the receipt, give its descriptor of then too (--node-key, repeated)",
				it.Index, it.Key, strings.Join(it.Receiver, ","), namePartySets(sets))
		}
	}
	for _, c := range t.Cosignatures {
		if sets, ok := nodes[c.Key]; ok && !oneOf(c.Parties, sets) {
			return fmt.Errorf("the cosignature of checkpoint %d by key %s is shown as the node of %s's, but the descriptors given for that key name %s",
				c.Size, c.Key, strings.Join(c.Parties, ","), namePartySets(sets))
		}
	}
	return nil
}

// checkCosignerParties refuses a cosignature whose node, as the author's
// witnesses list names it, never hosted the parties a node receipt of the
// bundle signed with the same key names: a node signs the parties it
// hosts in each receipt, so the author cannot show one peer's
// cosignature as another's where the bundle holds a receipt of that
// peer. The list names the parties the node hosts and those it hosted
// before (its earlier descriptors), since a receipt names the parties of
// when it was given.
func (t *Timeline) checkCosignerParties() error {
	for _, c := range t.Cosignatures {
		sets := append([][]string{c.Parties}, c.Hosted...)
		for _, it := range t.Items {
			if isNodeReceipt(it.Type) && it.Key == c.Key && !oneOf(it.Receiver, sets) {
				return fmt.Errorf("witnessed checkpoints: the witnesses list names the node of key %s as %s's, but its receipt at entry %d names %s",
					c.Key, namePartySets(sets), it.Index, strings.Join(it.Receiver, ","))
			}
		}
	}
	return nil
}

// sameParties reports whether a and b name the same parties, in any
// order.
func sameParties(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// oneOf reports whether parties are, in any order, one of sets.
func oneOf(parties []string, sets [][]string) bool {
	return slices.ContainsFunc(sets, func(s []string) bool { return sameParties(parties, s) })
}

// namePartySets names sets of parties for an error: "bravo,charlie" for
// one, "bravo,charlie or bravo" for several.
func namePartySets(sets [][]string) string {
	names := make([]string, len(sets))
	for i, s := range sets {
		names[i] = strings.Join(s, ",")
	}
	return strings.Join(names, " or ")
}

// writeCosignatures prints the peer nodes' cosignatures of the log's
// checkpoints, each with the part of the bundle it vouches for: the
// entries in the cosigned checkpoint's tree.
func (t *Timeline) writeCosignatures(p func(string, ...any)) {
	for _, c := range t.Cosignatures {
		covered := 0
		for _, it := range t.Items {
			if it.Index < c.Size {
				covered++
			}
		}
		p("Cosigned:   checkpoint %d cosigned by %s's node at %s (key %s", c.Size, strings.Join(c.Parties, ", "), fmtTime(c.At), keyName(c.Key))
		for _, h := range c.Hosted {
			p("; it hosted %s before", strings.Join(h, ", "))
		}
		p("); ")
		if covered == len(t.Items) {
			p("it holds every entry of this bundle\n")
		} else {
			p("it holds %d of this bundle's %d entries (those before log index %d)\n", covered, len(t.Items), c.Size)
		}
	}
	if len(t.Cosignatures) > 0 && !t.NodeKeysChecked {
		p("WARNING:    the cosignatures are checked with the keys the author's log names; give each\n" +
			"            peer node's key (--node-key) to prove that node made them.\n")
	}
}
