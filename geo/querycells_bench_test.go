package geo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// BenchmarkQueryCells times the cells of a what-if check's circle (1 to
// 30 km, log-uniform, widened by the default horizontal minimum) as a
// search works them out, and as capCells files a footprint.
func BenchmarkQueryCells(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	type cap struct {
		c s2.Point
		r s1.Angle
	}
	var caps []cap
	for range 1000 {
		c := s2.PointFromLatLng(s2.LatLngFromDegrees(29+8*r.Float64(), 29+14*r.Float64()))
		m := math.Exp(math.Log(1000)+r.Float64()*math.Log(30)) + 9260
		caps = append(caps, cap{c, s1.Angle(m / EarthRadiusM)})
	}
	for _, f := range []struct {
		name  string
		cells func(s2.Point, s1.Angle) []s2.CellID
	}{{"search", searchCapCells}, {"capCells", capCells}} {
		b.Run(fmt.Sprint(f.name), func(b *testing.B) {
			n := 0
			for i := 0; b.Loop(); i++ {
				n += len(f.cells(caps[i%len(caps)].c, caps[i%len(caps)].r))
			}
			b.ReportMetric(float64(n)/float64(b.N), "cells/op")
		})
	}
}
