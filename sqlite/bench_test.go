package sqlite

import (
	"testing"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/storetest"
)

// BenchmarkStore runs the stores' common benchmarks. The write
// transactions are on disk when Update returns (synchronous=FULL), and
// queue for the one writer, so UpdateParallel measures the same
// disk-bound rate as Update.
func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) deconflict.Store { return MustOpen(b, "") })
}
