package main

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkReplicasPostgres measures declarations per second and their
// latency with one, two and three replicas on one PostgreSQL database,
// 16 HTTP clients spread evenly over the replicas, declarations of two
// parties scattered over the globe (few conflicts). Needs
// DECONFLICT_TEST_POSTGRES (scripts/postgres start).
//
//	go test ./cmd/deconflict -run '^$' -bench ReplicasPostgres -benchtime 4000x
func BenchmarkReplicasPostgres(b *testing.B) {
	for _, n := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			rs := startReplicas(b, n)
			tokens := []string{rs[0].token("operator", "alpha"), rs[0].token("operator", "bravo")}
			const clients = 16
			rng := rand.New(rand.NewPCG(1, 2))
			bodies := make([]map[string]any, b.N)
			for i := range bodies {
				lat, lng := -60+rng.Float64()*120, -180+rng.Float64()*360
				start := at(1 + rng.Float64()*100)
				bodies[i] = decl("planned", circle(lat, lng, 500+rng.Float64()*2000, 0, 1000, start, start.Add(30*time.Minute)))
			}
			b.ResetTimer()
			latencies, elapsed := closedLoop(b, clients, func(c, i int) bool {
				status, ok := rs[c%n].tryPut(newID(), tokens[i%2], bodies[i])
				if !ok || status != 201 {
					b.Errorf("declaration answered %d (reachable %v)", status, ok)
					return false
				}
				return true
			})
			b.StopTimer()
			if len(latencies) > 0 {
				b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "decl/s")
				b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50_ms")
				b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99_ms")
			}
		})
	}
}
