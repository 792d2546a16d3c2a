package geo

// PairMinima are the minima a search decides each pair of the query and
// an entry with: Minima for an entry of any group but those Groups names,
// which have minima of their own. A federation node decides a pair of
// operations hosted on two nodes with the stricter of the two nodes'
// minima (package mechanism), so a query meets the parties of each other
// node under minima of their own. With Groups empty it is the search of
// Minima alone.
type PairMinima struct {
	Minima
	Groups map[string]Minima
}

// Of returns the minima of a pair of the query and an entry of group.
func (p PairMinima) Of(group string) Minima {
	if len(p.Groups) == 0 {
		return p.Minima
	}
	if m, ok := p.Groups[group]; ok {
		return m
	}
	return p.Minima
}

// Bound returns the largest of the minima on each axis: how far a search
// must reach to find every pair that conflicts under its own minima.
func (p PairMinima) Bound() Minima {
	b := p.Minima
	for _, m := range p.Groups {
		b = Stricter(b, m)
	}
	return b
}

// Stricter returns the larger of a and b on each axis.
func Stricter(a, b Minima) Minima {
	return Minima{HorizontalM: max(a.HorizontalM, b.HorizontalM), VerticalM: max(a.VerticalM, b.VerticalM), TimeS: max(a.TimeS, b.TimeS)}
}
