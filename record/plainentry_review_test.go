package record

import (
	"bytes"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
)

// TestParseEntryRefusesMembersAfterData: an entry with a member after
// its data — an unknown one, or the data repeated — is not in the form
// the log writes, and is refused however plain its head: read as the
// data, the rest of the object would make one entry mean one thing to
// this reader and another to encoding/json (which takes the last data).
func TestParseEntryRefusesMembersAfterData(t *testing.T) {
	e := &dc.Event{Seq: 7, Type: "operation.declared", Time: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		Actor: dc.Actor{Party: "alpha", Role: "operator"}, Subject: &dc.Subject{Kind: "operation", ID: "op-1"},
		Data: []byte(`{"operation":{"id":"op-1","version":1}}`)}
	b := EntryBytes(e)
	for _, tail := range []string{`,"extra":0}`, `,"data":{"operation":{"id":"op-1","version":2}}}`, `,"data":null}`} {
		bad := append(bytes.Clone(b[:len(b)-1]), tail...)
		if got, err := parseEntry(bad); err == nil {
			t.Errorf("parseEntry accepted %s, reading data %s", bad, got.Data)
		}
		if _, err := parseEntryV1(bad); err == nil {
			t.Errorf("encoding/json's reading accepted %s", bad)
		}
	}
}
