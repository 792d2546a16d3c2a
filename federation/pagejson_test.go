package federation

import (
	"bytes"
	"encoding/json"
	"testing"
)

// stdPage is the page as encoding/json writes it, HTML characters
// unescaped: what appendPage must write byte for byte.
func stdPage(t testing.TB, p *LogPage) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pageOf(checkpoint, data, leaf, witnessed string, size int64) *LogPage {
	p := &LogPage{Checkpoint: checkpoint, Size: size}
	if data != "" || leaf != "" {
		p.Entries = []WireEntry{{Index: size, Data: &data}, {Index: size + 1, LeafHash: leaf}}
	}
	if witnessed != "" {
		p.Witnessed = []string{witnessed, checkpoint}
	}
	return p
}

// TestAppendPage: pages are written as encoding/json writes them, with
// every kind of character a record, a checkpoint or a hash may hold.
func TestAppendPage(t *testing.T) {
	for _, p := range []*LogPage{
		{},
		{Entries: []WireEntry{}},
		pageOf("origin\n12\nhash=\n\n— alpha sig\n", `{"seq":1,"type":"a\"b\\c","data":{"x":"<&>"}}`, "AAAA", "w\n", 7),
		pageOf("\x00\x01\x1f\x7f", "caf\xc3\xa9 \xe2\x80\xa8 \xe2\x80\xa9 \xff\xfe \xed\xa0\x80", "", "", -3),
		pageOf("\b\f\n\r\t", "", "leaf", "", 0),
	} {
		if got, want := appendPage(nil, p), stdPage(t, p); !bytes.Equal(got, want) {
			t.Errorf("page %+v:\n got %q\nwant %q", p, got, want)
		}
	}
}

func FuzzAppendPage(f *testing.F) {
	f.Add("origin\n1\n", `{"a":"\"<>&\u2028"}`, "AAAA", "", int64(1))
	f.Add("\xff", "\xe2\x80\xa9\x00", "", "w", int64(-1))
	f.Fuzz(func(t *testing.T, checkpoint, data, leaf, witnessed string, size int64) {
		p := pageOf(checkpoint, data, leaf, witnessed, size)
		if got, want := appendPage(nil, p), stdPage(t, p); !bytes.Equal(got, want) {
			t.Fatalf("page %+v:\n got %q\nwant %q", p, got, want)
		}
	})
}

func BenchmarkWritePage(b *testing.B) {
	rec := `{"seq":123,"type":"operation.declared","time":"2026-12-08T00:00:00.123456Z","actor":{"party":"alpha","role":"operator"},"subject":{"kind":"operation","id":"0b7e4f5a-6a43-4b8e-9a43-2c1e2a7f3b11"},"data":{"operation":{"id":"0b7e4f5a-6a43-4b8e-9a43-2c1e2a7f3b11","party":"alpha","state":"accepted","version":1,"volumes":[{"volume":{"outline_circle":{"center":{"lat":52.1,"lng":4.3},"radius":{"value":3000,"units":"M"}},"altitude_lower":{"value":100,"reference":"W84","units":"M"},"altitude_upper":{"value":900,"reference":"W84","units":"M"}},"time_start":{"value":"2026-12-08T01:00:00Z","format":"RFC3339"},"time_end":{"value":"2026-12-08T02:00:00Z","format":"RFC3339"}}]}}}`
	p := &LogPage{Checkpoint: "deconflict.example/alpha\n1234\nq2VkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGQ=\n\n— alpha AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", Size: 5000}
	for i := range 40 {
		p.Entries = append(p.Entries, WireEntry{Index: int64(2 * i), Data: &rec}, WireEntry{Index: int64(2*i + 1), LeafHash: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="})
	}
	b.Run("appendPage", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = appendPage(buf[:0], p)
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("encoding-json", func(b *testing.B) {
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(p); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(buf.Len()))
	})
}
