package federation

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
)

// FuzzDecodeBody: decodeBody reads any body as encoding/json reads it
// into an entryBody: it fails exactly when encoding/json fails, and
// otherwise reads the same values, so that a node applies what it did
// with encoding/json, and what a peer skips is what its author withholds
// (mechanism's isCopy, FuzzIsCopy).
func FuzzDecodeBody(f *testing.F) {
	cs, notes := "CS-1", "private"
	at := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	st := dc.DefaultSettings()
	origin := &mechanism.PeerOrigin{Node: "bravo+1234+AAAA", Index: 7, LeafHash: "aGFzaA=="}
	for _, b := range []entryBody{
		{Operation: &dc.Operation{ID: "op-1", Party: "alpha", Version: 2, State: dc.StatePlanned, Callsign: &cs, Notes: &notes, CreatedAt: at, UpdatedAt: at,
			Volumes: []dc.Volume4D{{TimeStart: &dc.Time{Value: "2026-03-01T12:00:00Z", Format: "RFC3339"}}}}},
		{NodeReceipt: &record.NodeReceipt{Operation: "op-1", Party: "alpha", Version: 1, Receiver: []string{"bravo"}, Key: "k", ReceivedAt: at.Format(time.RFC3339Nano), Entry: 3, LeafHash: "aGFzaA=="}},
		{NodeReceipt: &record.NodeReceipt{Operation: "op-1", Receiver: []string{}}, Replicated: origin},
		{NodeReceipts: &record.NodeReceipts{Party: "alpha", Receiver: []string{"bravo", "charlie"}, Key: "k", ReceivedAt: at.Format(time.RFC3339Nano),
			Entries: []record.ReceivedVersion{{Operation: "op-1", Version: 1, Entry: 3, LeafHash: "aGFzaA=="}, {Operation: "op-2", Version: 4, Entry: 9, LeafHash: "aGFzaA=="}}}},
		{NodeReceipts: &record.NodeReceipts{Entries: []record.ReceivedVersion{}}, Replicated: origin},
		{Receipt: &mechanism.Receipt{Operation: "op-1", Party: "alpha", Version: 1, At: "2026-03-01T10:00:00Z", Signed: "s"}},
		{Conflict: &dc.Conflict{ID: "c-1"}, Signed: "note"},
		{Settings: &st},
		{Message: &dc.Message{}},
	} {
		data, err := json.Marshal(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		`{"operation":{"created_at":"2026-03-01T10:00:00.1234567891Z"}}`,
		`{"operation":{"created_at":"2026-03-01T24:00:00Z"}}`,
		`{"operation":{"created_at":"2026-03-01 10:00:00Z"}}`,
		`{"operation":{"created_at":"2026-03-01T10:00:00+25:00"}}`,
		`{"operation":{"created_at":"\u0032026-03-01T10:00:00Z"}}`,
		`{"conflict":{"acknowledged":{"alpha":"2026-03-01T10:00:00\u005a"}}}`,
		`{"operation":{"created_at":"2026-03-01T10:00:00Z"},"operation":{"created_at":null}}`,
		`{"operation":{"version":1.5}}`,
		`{"operation":{"version":"1"},"node_receipt":{"entry":1}}`,
		`{"operation":5}`,
		`{"Operation":{"id":"x"},"OPERATION":null}`,
		`{"node_receipt":{"entry":1},"node_receipt":{"party":"p"}}`,
		`{"node_receipt":{"receiver":["a"]},"node_receipt":{"receiver":null}}`,
		`{"node_receipts":{"entries":[{"entry":1},{"entry":1.5}]}}`,
		`{"node_receipts":{"entries":[{"entry":1}]},"node_receipts":{"party":"p"}}`,
		`{"node_receipts":{"entries":[{"version":1}]},"node_receipts":{"entries":null}}`,
		`{"node_receipts":{"entries":{"entry":1}}}`,
		`{"node_receipts":{"Entries":[{"Leaf_Hash":"x"}],"ENTRIES":[]}}`,
		`{"node_receipts":null,"node_receipt":{"entry":2}}`,
		`{"replicated":{"index":9223372036854775808}}`,
		`{"signed":"\ud800"}`,
		"{\"signed\":\"\xff\"}",
		`{"settings":{"peer_silence_s":1e400}}`,
		`{"operation":{"state":"Bogus","volumes":[{"volume":{"outline_circle":{"center":{"lat":"1"}}}}]}}`,
		`{"operation":{"callsign":null,"notes":null,"volumes":null}}`,
		`{} `,
		`[]`,
		`null`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, want entryBody
		err := decodeBody(data, &got)
		werr := json.Unmarshal(data, &want)
		if (err == nil) != (werr == nil) {
			t.Fatalf("decodeBody error %v, encoding/json's %v, for %q", err, werr, data)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeBody reads %+v, encoding/json %+v, from %q", got, want, data)
		}
	})
}

// TestDecodeBodyEscapedTime: a time written with a JSON escape in it is
// refused, as encoding/json refuses it (time.Time.UnmarshalJSON reads the
// string as it is written, without unescaping it): a body one node
// alerts as malformed is not applied by another.
func TestDecodeBodyEscapedTime(t *testing.T) {
	for _, s := range []string{
		`{"operation":{"created_at":"\u0032026-03-01T10:00:00Z"}}`,
		`{"conflict":{"acknowledged":{"alpha":"2026-03-01T10:00:00\u005a"}}}`,
	} {
		var v1 entryBody
		if err := json.Unmarshal([]byte(s), &v1); err == nil {
			t.Fatalf("encoding/json reads %s", s)
		}
		var b entryBody
		if err := decodeBody([]byte(s), &b); err == nil {
			t.Errorf("decodeBody reads %s, which encoding/json refuses", s)
		}
	}
}
