package plot

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

func TestLabel(t *testing.T) {
	for v, want := range map[float64]string{10: "10", 100: "100", 1000: "1k", 1e6: "1M", 2.5: "2.5", 0.05: "0.05", 0: "0", 150: "150", 20000: "20k"} {
		if got := label(v); got != want {
			t.Errorf("label(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestWriteSVG(t *testing.T) {
	c := Chart{Title: "a < b", XLabel: "x", YLabel: "y", LogX: true, LogY: true,
		Series: []Series{{"p50", [][2]float64{{1e4, 7}, {1e5, 9}, {1e6, 30}}}, {"p99", [][2]float64{{1e4, 55}, {1e5, 63}, {1e6, 400}}}}}
	var b strings.Builder
	if err := c.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(b.String()))
	lines := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
		}
	}
	if lines != 2 || !strings.Contains(b.String(), "a &lt; b") {
		t.Fatalf("%d lines in %s", lines, b.String())
	}
	if err := (&Chart{}).WriteSVG(io.Discard); err == nil {
		t.Fatal("an empty chart was drawn")
	}
}
