package postgres

import (
	"testing"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/storetest"
)

// BenchmarkStore runs the stores' common benchmarks, each store in a new
// database. The write transactions are durable when Update returns
// (synchronous_commit on).
func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) deconflict.Store { return MustOpen(b, "") })
}
