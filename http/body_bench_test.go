package http

import (
	"context"
	"fmt"
	"strings"
	"testing"

	dc "github.com/deconflict/deconflict"
)

// checkBodyCircle is a typical what-if check: one circle, one hour, a
// 1 km band.
const checkBodyCircle = `{"volumes":[{"volume":{"outline_circle":{"center":{"lat":33.512345,"lng":36.287654},"radius":{"value":12500,"units":"M"}},"altitude_lower":{"value":1000,"reference":"W84","units":"M"},"altitude_upper":{"value":2000,"reference":"W84","units":"M"}},"time_start":{"value":"2030-11-25T12:00:00Z","format":"RFC3339"},"time_end":{"value":"2030-11-25T13:00:00Z","format":"RFC3339"}}]}`

// checkBodyPolygon is a what-if check of one 100-vertex polygon.
func checkBodyPolygon(n int) string {
	var b strings.Builder
	b.WriteString(`{"volumes":[{"volume":{"outline_polygon":{"vertices":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"lat":%.6f,"lng":%.6f}`, 33.5+0.1*float64(i%10)/10, 36.2+0.1*float64(i)/float64(n))
	}
	b.WriteString(`]},"altitude_lower":{"value":1000,"reference":"W84","units":"M"},"altitude_upper":{"value":2000,"reference":"W84","units":"M"}},"time_start":{"value":"2030-11-25T12:00:00Z","format":"RFC3339"},"time_end":{"value":"2030-11-25T13:00:00Z","format":"RFC3339"}}]}`)
	return b.String()
}

// BenchmarkDecodeCheckBody decodes the body of POST /v1/check as the
// handler does (decodeCheckBody: the scanner), and as the body walker
// does, which reads every body the scanner leaves to it.
//
//	go test ./http -run '^$' -bench DecodeCheckBody -benchmem
func BenchmarkDecodeCheckBody(b *testing.B) {
	for _, tc := range []struct{ name, body string }{
		{"circle", checkBodyCircle},
		{"polygon100", checkBodyPolygon(100)},
	} {
		body := []byte(tc.body)
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if vols, err := decodeCheckBody(context.Background(), body); err != nil || len(vols) != 1 {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/walker", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var v struct {
					Volumes []dc.Volume4D `json:"volumes"`
				}
				if err := decodeBody(context.Background(), body, &v); err != nil || len(v.Volumes) != 1 {
					b.Fatal(err)
				}
			}
		})
	}
}
