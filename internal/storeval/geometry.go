package storeval

import (
	"encoding/json"
	"fmt"

	"github.com/deconflict/deconflict"
)

// FillGeometry completes g, read by a store's LiveGeometries or
// GeometriesSince with its ID, party and kept geometry: nothing more for
// an operation no longer live; an empty geometry for one kept empty; and
// where none was kept (doc not nil), the operation from its document and
// its rev and window columns.
func FillGeometry(g *deconflict.LiveGeometry, live bool, doc *string, rev, start, end int64) error {
	switch {
	case !live:
		g.Geometry = nil
	case doc == nil:
		if g.Geometry == nil {
			g.Geometry = []byte{}
		}
	default:
		g.Geometry = nil
		var op deconflict.Operation
		if err := json.Unmarshal([]byte(*doc), &op); err != nil {
			return fmt.Errorf("decode operation %s: %w", g.ID, err)
		}
		op.Rev, op.Start, op.End = rev, FromMicros(start), FromMicros(end)
		g.Operation = &op
	}
	return nil
}
