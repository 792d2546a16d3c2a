package record

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
)

// headByEncoder is an entry's head as encoding/json writes entryHead
// (appendHead), what appendPlainHead must write byte for byte.
func headByEncoder(e *dc.Event) []byte { return appendHead(nil, e) }

// FuzzEntryHead: the head appendPlainHead writes, when it writes one, is
// the one encoding/json writes, whatever the event's strings, sequence
// number and time; and entryBytes writes it with the data after it.
func FuzzEntryHead(f *testing.F) {
	f.Add(int64(1), int64(1772359200123456000), "operation.declared", "alpha", "operator", "operation", "op-1", "alpha,bravo", true)
	f.Add(int64(0), int64(0), "", "", "", "", "", "", false)
	f.Add(int64(-5), int64(-1<<62), "a\"b", "\\", "é", "<&>", "\u2028", "\x7f,\x00", true)
	f.Add(int64(1<<62), int64(1<<62), "\xff", "a\nb", "\t", "x", "y", ",", true)
	f.Fuzz(func(t *testing.T, seq, nanos int64, typ, party, role, kind, id, audience string, subject bool) {
		e := &dc.Event{Seq: seq, Type: typ, Time: time.Unix(0, nanos), Actor: dc.Actor{Party: party, Role: dc.Role(role)}, Data: []byte(`{"a":1}`)}
		if audience != "" {
			e.Audience = strings.Split(audience, ",")
		}
		if subject {
			e.Subject = &dc.Subject{Kind: kind, ID: id}
		}
		want := headByEncoder(e)
		if got, ok := appendPlainHead(nil, e); ok && !bytes.Equal(got, want) {
			t.Fatalf("appendPlainHead wrote\n%s\nencoding/json\n%s", got, want)
		}
		b := entryBytes(e, true)
		if !bytes.Equal(b, append(append(want, `,"data":{"a":1}`...), '}')) {
			t.Fatalf("entryBytes wrote %s after the head %s", b, want)
		}
		if !json.Valid(b) {
			t.Fatalf("entryBytes wrote invalid JSON %s", b)
		}
	})
}

// BenchmarkEntryBytes: the bytes of a typical entry, as the log appends
// it, a peer is served it and its copy is checked.
func BenchmarkEntryBytes(b *testing.B) {
	e := &dc.Event{Seq: 123456, Type: "operation.received", Time: time.Now(), Actor: dc.Actor{Role: "node"},
		Subject: &dc.Subject{Kind: "operation", ID: "0b8e4f5e-2a44-4f0e-9a51-3c0c8f1f7d2a"}, Audience: []string{"alpha", "bravo"},
		Data: []byte(`{"x":"` + strings.Repeat("0123456789", 30) + `"}`)}
	b.ReportAllocs()
	for b.Loop() {
		entryBytes(e, true)
	}
}
