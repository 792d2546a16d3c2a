package record

import (
	"bytes"
	"encoding/json"
	"reflect"
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

// TestParsePlainEntry: entries with plain heads, as the mechanism writes
// them, are read without reflection, to the event written; an entry of
// the same event in any other spelling is not.
func TestParsePlainEntry(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	for _, e := range []*dc.Event{
		{Seq: 7, Type: "operation.received", Time: at, Actor: dc.Actor{Role: "node"}, Audience: []string{"alpha", "bravo"},
			Subject: &dc.Subject{Kind: "operation", ID: "op-1"}, Data: []byte(`{"node_receipt":{"entry":0},"replicated":{"node":"k"}}`)},
		{Seq: 8, Type: "operation.declared", Time: at, Actor: dc.Actor{Party: "alpha", Role: "operator"}, Audience: []string{""},
			Subject: &dc.Subject{}, Data: []byte(`"x"`)},
		{Seq: 9, Type: "party.added", Time: at, Audience: []string{}},
	} {
		b := EntryBytes(e)
		got, ok := parsePlainEntry(b)
		if !ok || !reflect.DeepEqual(got, e) {
			t.Errorf("parsePlainEntry(%s) = %+v, %v; want %+v", b, got, ok, e)
		}
		for _, other := range [][]byte{
			bytes.Replace(b, []byte(`"seq":`), []byte(`"seq": `), 1),
			bytes.Replace(b, []byte(`"data":`), []byte(`"data": `), 1),
			bytes.Replace(b, []byte(`.123456Z`), []byte(`.1234560Z`), 1),
			bytes.Replace(b, []byte(`"audience"`), []byte(`"Audience"`), 1),
			append(append([]byte{}, b...), ' '),
		} {
			if _, ok := parsePlainEntry(other); ok {
				t.Errorf("parsePlainEntry read %s", other)
			}
		}
	}
}

// TestParsePlainEntryDepth: data nested as deep as a reader of JSON
// allows, or a level more, is accepted or refused as encoding/json and
// parseEntryJSON accept or refuse the entry, its nesting counted from
// the entry's.
func TestParsePlainEntryDepth(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, depth := range []int{9998, 9999, 10000, 10001} {
		e := &dc.Event{Seq: 1, Type: "x", Time: at, Data: []byte(strings.Repeat("[", depth) + strings.Repeat("]", depth))}
		b := EntryBytes(e)
		_, err := parseEntry(b)
		_, jerr := parseEntryJSON(b)
		_, v1err := parseEntryV1(b)
		if (err == nil) != (jerr == nil) || (err == nil) != (v1err == nil) {
			t.Errorf("data nested %d deep: parseEntry %v, parseEntryJSON %v, encoding/json %v", depth, err, jerr, v1err)
		}
	}
}

// BenchmarkParseEntry: a peer's receipt of an entry, read back and
// checked in canonical form.
func BenchmarkParseEntry(b *testing.B) {
	e := &dc.Event{Seq: 123456, Type: "operation.received", Time: time.Now(), Actor: dc.Actor{Role: "node"},
		Subject: &dc.Subject{Kind: "operation", ID: "0b8e4f5e-2a44-4f0e-9a51-3c0c8f1f7d2a"}, Audience: []string{"alpha", "bravo"},
		Data: []byte(`{"node_receipt":{"operation":"0b8e4f5e-2a44-4f0e-9a51-3c0c8f1f7d2a","party":"alpha","version":1,"receiver":["bravo"],"key":"bravo-k1+1234abcd+AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefgh","received_at":"2026-03-01T10:00:00.123456789Z","entry":1234,"leaf_hash":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}}`)}
	data := EntryBytes(e)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseEntry(data); err != nil {
			b.Fatal(err)
		}
	}
}
