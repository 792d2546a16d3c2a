package geo

import (
	"math"

	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// A ring of more than treeMin vertices carries a tree of caps over runs of
// its edges: every node bounds the edges lo..hi-1 (edge i joins vertex i
// to vertex i+1, cyclically), a leaf holds at most leafEdges of them, and
// an inner node's children split its run in two. Distance, containment
// and self-crossing tests descend only into nodes close enough to matter,
// which makes them logarithmic rather than linear in the ring's size.
// (s2's ShapeIndex and ClosestEdgeQuery do the same job, but in this Go
// port a query allocates heavily and costs milliseconds on rings of a
// hundred vertices, and its distance limit is wrong for ShapeIndex
// targets.)
const (
	treeMin   = 16
	leafEdges = 8
)

// node is a cap holding a run of edges; the left child of an inner node
// is the next node, its right child is at index right.
type node struct {
	center s2.Point
	radius s1.Angle
	lo, hi int32
	right  int32 // 0 for a leaf
}

func (n *node) leaf() bool { return n.right == 0 }

// buildTree returns the tree of a ring, nodes in pre-order.
func buildTree(v []s2.Point) []node {
	nodes := make([]node, 0, 2*len(v)/leafEdges+1)
	var build func(lo, hi int) int
	build = func(lo, hi int) int {
		i := len(nodes)
		nodes = append(nodes, node{lo: int32(lo), hi: int32(hi)})
		if hi-lo <= leafEdges {
			nodes[i].center, nodes[i].radius = vertexCap(v, lo, hi)
			return i
		}
		mid := (lo + hi) / 2
		l, r := build(lo, mid), build(mid, hi)
		nodes[i].right = int32(r)
		nodes[i].center, nodes[i].radius = mergeCaps(&nodes[l], &nodes[r])
		return i
	}
	build(0, len(v))
	return nodes
}

// vertexCap returns a cap around vertices lo..hi (cyclically) and hence,
// if it is under a hemisphere, around the edges between them.
func vertexCap(v []s2.Point, lo, hi int) (s2.Point, s1.Angle) {
	var sum s2.Point
	for i := lo; i <= hi; i++ {
		sum.Vector = sum.Vector.Add(v[i%len(v)].Vector)
	}
	if sum.Norm() < 1e-6 {
		return s2.Point{Vector: northPole}, math.Pi
	}
	c := s2.Point{Vector: sum.Normalize()}
	var r s1.Angle
	for i := lo; i <= hi; i++ {
		r = max(r, c.Distance(v[i%len(v)]))
	}
	if r >= math.Pi/2-1e-6 {
		return c, math.Pi
	}
	return c, r + capSlack
}

// mergeCaps returns a cap around two caps.
func mergeCaps(a, b *node) (s2.Point, s1.Angle) {
	sum := a.center.Add(b.center.Vector)
	if sum.Norm() < 1e-6 || a.radius >= math.Pi || b.radius >= math.Pi {
		return a.center, math.Pi
	}
	c := s2.Point{Vector: sum.Normalize()}
	return c, min(math.Pi, max(c.Distance(a.center)+a.radius, c.Distance(b.center)+b.radius)+capSlack)
}

// node returns node i of f's tree or, for a ring without one, a single
// leaf made of its bounding cap.
func (f *Footprint) node(i int32) node {
	if f.tree != nil {
		return f.tree[i]
	}
	return node{center: f.bound.Center(), radius: f.boundR, hi: int32(len(f.verts))}
}

// vertex returns vertex i of a ring, cyclically.
func (f *Footprint) vertex(i int32) s2.Point {
	if int(i) >= len(f.verts) {
		i -= int32(len(f.verts))
	}
	return f.verts[i]
}
