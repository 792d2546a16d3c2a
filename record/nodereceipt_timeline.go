package record

import (
	"fmt"
	"strings"

	dc "github.com/deconflict/deconflict"
)

// describeNodeReceipt checks a federation node's signed receipt of a
// version of the operation (operation.received) and says who received
// it, when, and with what lead time.
func (t *Timeline) describeNodeReceipt(it *Item, e *dc.Event) (string, error) {
	var b struct {
		Receipt *NodeReceipt `json:"node_receipt"`
	}
	if err := decodeBody(e, &b, func() bool { return b.Receipt != nil }); err != nil {
		return "", err
	}
	r := b.Receipt
	if e.Subject == nil || r.Operation != e.Subject.ID {
		return "", fmt.Errorf("the node receipt is of operation %q, not of the entry's subject", r.Operation)
	}
	at, err := CheckNodeReceipt(r)
	if err != nil {
		return "", err
	}
	receiver := strings.Join(r.Receiver, ", ")
	it.Party, it.Version, it.SignedBy = r.Party, r.Version, keyName(r.Key)
	if s, ok := t.starts[r.Version]; ok {
		it.FirstStart = &s
	} else {
		it.FirstStart = t.last
	}
	txt := fmt.Sprintf("received by %s's node at %s, signed by %s (key %s): version %d of the operation of %s",
		receiver, fmtTime(at), receiver, keyName(r.Key), r.Version, r.Party)
	if it.FirstStart != nil {
		it.LeadTime = lead(*it.FirstStart, at)
		txt += fmt.Sprintf("; first volume starts %s; lead time %s", fmtTime(*it.FirstStart), fmtLead(*it.LeadTime))
	}
	return txt, nil
}
