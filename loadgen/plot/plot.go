// Package plot draws line charts as SVG, with nothing but the standard
// library, and the scaling curves of deconflict-bench results.
package plot

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// Series is one line of a chart.
type Series struct {
	Name   string
	Points [][2]float64 // x, y
}

// Chart is a line chart with a legend.
type Chart struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	Series                []Series
}

var colours = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

const (
	width, height                = 640, 400
	left, right, top, bottomEdge = 80, 20, 40, 60
)

// WriteSVG writes the chart as an SVG document.
func (c *Chart) WriteSVG(w io.Writer) error {
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for _, p := range s.Points {
			xmin, xmax = math.Min(xmin, p[0]), math.Max(xmax, p[0])
			ymin, ymax = math.Min(ymin, p[1]), math.Max(ymax, p[1])
		}
	}
	if math.IsInf(xmin, 1) {
		return fmt.Errorf("plot %q: no points", c.Title)
	}
	xs, ys := newAxis(xmin, xmax, c.LogX, false), newAxis(ymin, ymax, c.LogY, true)
	pw, ph := float64(width-left-right), float64(height-top-bottomEdge)
	px := func(x float64) float64 { return left + xs.frac(x)*pw }
	py := func(y float64) float64 { return top + (1-ys.frac(y))*ph }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(c.Title))
	for _, t := range xs.ticks() {
		x := px(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x, top, x, height-bottomEdge)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, height-bottomEdge+16, label(t))
	}
	for _, t := range ys.ticks() {
		y := py(t)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, width-right, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+4, label(t))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="black"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">%s</text>`+"\n", left+pw/2, height-18, html.EscapeString(c.XLabel))
	fmt.Fprintf(&b, `<text transform="translate(18,%.0f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", top+ph/2, html.EscapeString(c.YLabel))
	for i, s := range c.Series {
		col := colours[i%len(colours)]
		var pts []string
		for _, p := range s.Points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p[0]), py(p[1])))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), col)
		for _, p := range s.Points {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s: %s, %s</title></circle>`+"\n",
				px(p[0]), py(p[1]), col, html.EscapeString(s.Name), label(p[0]), label(p[1]))
		}
		ly := top + 16 + 18*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`, left+12, ly-4, left+32, ly-4, col)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", left+38, ly, html.EscapeString(s.Name))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// axis maps values to [0, 1].
type axis struct {
	lo, hi float64
	log    bool
}

func newAxis(lo, hi float64, log, fromZero bool) axis {
	if log {
		lo, hi = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
		if lo == hi {
			hi = lo * 10
		}
		return axis{lo, hi, true}
	}
	if fromZero {
		lo = math.Min(lo, 0)
	}
	if hi == lo {
		hi = lo + 1
	}
	step := niceStep((hi - lo) / 5)
	return axis{math.Floor(lo/step) * step, math.Ceil(hi/step) * step, false}
}

func (a axis) frac(v float64) float64 {
	if a.log {
		return (math.Log10(v) - math.Log10(a.lo)) / (math.Log10(a.hi) - math.Log10(a.lo))
	}
	return (v - a.lo) / (a.hi - a.lo)
}

func (a axis) ticks() []float64 {
	var out []float64
	if a.log {
		few := a.hi/a.lo <= 1000 // up to three decades: label 2 and 5 as well
		for v := a.lo; v <= a.hi*1.0001; v *= 10 {
			out = append(out, v)
			if few && v*2 < a.hi {
				out = append(out, 2*v, 5*v)
			}
		}
		return out
	}
	step := niceStep((a.hi - a.lo) / 5)
	for v := a.lo; v <= a.hi+step/1000; v += step {
		out = append(out, v)
	}
	return out
}

func niceStep(raw float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// label formats a tick or point value briefly: 1k, 1M, 0.5, 120.
func label(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6 && math.Mod(v, 1e6) == 0:
		return fmt.Sprintf("%gM", v/1e6)
	case a >= 1e3 && math.Mod(v, 1e3) == 0:
		return fmt.Sprintf("%gk", v/1e3)
	case a >= 100 || a == 0:
		return fmt.Sprintf("%.0f", v)
	}
	t := fmt.Sprintf("%.3g", v)
	if strings.Contains(t, ".") && !strings.Contains(t, "e") {
		t = strings.TrimRight(strings.TrimRight(t, "0"), ".")
	}
	return t
}
