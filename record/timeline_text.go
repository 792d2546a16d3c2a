package record

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
)

// Write prints the timeline for a person: what was checked, every entry
// in log order, then a summary of the declaration and its
// acknowledgements.
func (t *Timeline) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	withheld := 0
	for _, it := range t.Items {
		if it.Withheld {
			withheld++
		}
	}
	p("Evidence for operation %s\n", t.Operation)
	p("Log:        %s, checkpoint of %d entries; signatures and inclusion proofs verified\n", t.Origin, t.TreeSize)
	p("Key:        %s\n", keyName(t.Key))
	if t.KeyFromBundle {
		p("WARNING:    verified with the key carried in the bundle itself, not one obtained independently;\n" +
			"            this shows the bundle is consistent, not that the log's owner signed it.\n")
	}
	if !t.NodeKeysChecked {
		for _, it := range t.Items {
			if isNodeReceipt(it.Type) {
				p("WARNING:    the node receipts are checked with the keys they carry, which the author's log\n" +
					"            holds; give each receiving node's key (--node-key) to prove that node signed them.\n")
				break
			}
		}
	}
	t.writeCosignatures(p)
	p("Entries:    %d (%d withheld)\n\nTimeline (UTC)\n", len(t.Items), withheld)
	for _, it := range t.Items {
		if it.Withheld {
			p("  %-20s  entry %d: %s\n", "", it.Index, it.Text)
			continue
		}
		if it.Type == dc.EventOperationsReceived { // a line for each version of the operation it names
			for _, v := range it.Received {
				p("  %-20s  entry %d: %s\n", fmtTime(it.Time), it.Index, v.Text)
			}
			continue
		}
		p("  %-20s  entry %d: %s\n", fmtTime(it.Time), it.Index, it.Text)
	}

	p("\nSummary\n")
	declared := false
	var receipts, notices, deliveries []Item
	for _, it := range t.Items {
		switch it.Type {
		case dc.EventOperationDeclared:
			declared = true
			p("  Declared by %s at %s (version %d)", actorName(it.Actor), fmtTime(it.Time), it.Version)
			if it.FirstStart != nil {
				p(", first volume starts %s, lead time %s", fmtTime(*it.FirstStart), fmtLead(*it.LeadTime))
			}
			p(".\n")
		case dc.EventOperationReceipt:
			receipts = append(receipts, it)
		case dc.EventNoticeShort:
			notices = append(notices, it)
		case dc.EventWebhookDelivered:
			deliveries = append(deliveries, it)
		}
	}
	if !declared {
		p("  The declaration is not in this bundle.\n")
	}
	if len(receipts) == 0 {
		p("  No acknowledgement (receipt) by another party is shown.\n")
	} else {
		p("  Acknowledged (receipts):\n")
		for _, it := range receipts {
			p("    %s acknowledged version %d at %s", it.Party, it.Version, fmtTime(it.Time))
			if it.LeadTime != nil {
				p(", lead time %s", fmtLead(*it.LeadTime))
			}
			p("%s\n", signedBy(it.Party, it.SignedBy))
		}
	}
	if len(deliveries) > 0 {
		p("  Delivered to webhooks:\n")
		for _, it := range deliveries {
			p("    event %d (%s) to %s's webhook %s at %s (HTTP %d)", it.DeliveredSeq, it.DeliveredType, it.Party, it.Webhook, fmtTime(it.DeliveredAt), it.Status)
			if it.LeadTime != nil {
				p(", lead time before the first volume %s", fmtLead(*it.LeadTime))
			}
			p("\n")
		}
	}
	for _, it := range notices {
		p("  Short-notice warning at %s: lead time %s.\n", fmtTime(it.Time), fmtLead(*it.LeadTime))
	}
	return bw.Flush()
}

func actorName(a dc.Actor) string {
	switch {
	case a.Party != "":
		return fmt.Sprintf("%s (%s)", a.Party, a.Role)
	case a.Role == dc.RoleSystem || a.Role == "":
		return "the mechanism"
	default:
		return string(a.Role)
	}
}

// firstStart returns the earliest start of the operation's volumes.
func firstStart(op *dc.Operation) *time.Time {
	var first *time.Time
	for _, v := range op.Volumes {
		if v.TimeStart == nil {
			continue
		}
		s, err := time.Parse(time.RFC3339Nano, v.TimeStart.Value)
		if err != nil {
			continue
		}
		if first == nil || s.Before(*first) {
			s := s.UTC()
			first = &s
		}
	}
	return first
}

func lead(start, at time.Time) *time.Duration {
	d := start.Sub(at)
	return &d
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func fmtLead(d time.Duration) string {
	d = d.Round(time.Second)
	if d < 0 {
		return fmt.Sprintf("none (the first volume had started %s before)", -d)
	}
	return d.String()
}

func fmtParties(m map[string]*time.Time) string {
	var out []string
	for p, at := range m {
		if at != nil {
			out = append(out, fmt.Sprintf("%s at %s", p, fmtTime(*at)))
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// keyName returns the name+hash part of a verifier key.
func keyName(vkey string) string {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) < 3 {
		return vkey
	}
	return parts[0] + "+" + parts[1]
}
