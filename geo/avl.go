package geo

// avl is a balanced search tree of the edges alive under a sweep, in the
// order the sweep sees them. Edges are its nodes: a ring of n edges has
// room for all n, each at most once. The order is given by after(e, t),
// whether e comes after t where the sweep stands; the tree compares only
// edges it holds with the edge inserted, removed or looked up, so each
// operation makes O(log n) comparisons.
type avl struct {
	left, right []int32 // -1: none
	height      []int8
	root        int32
	found       bool // set by rem
	after       func(e, t int32) bool
}

func newAVL(n int, after func(e, t int32) bool) avl {
	return avl{left: make([]int32, n), right: make([]int32, n), height: make([]int8, n), root: -1, after: after}
}

func (a *avl) insert(e int32) {
	a.left[e], a.right[e], a.height[e] = -1, -1, 1
	a.root = a.ins(a.root, e)
}

func (a *avl) ins(t, e int32) int32 {
	if t < 0 {
		return e
	}
	if a.after(e, t) {
		a.right[t] = a.ins(a.right[t], e)
	} else {
		a.left[t] = a.ins(a.left[t], e)
	}
	return a.balance(t)
}

// remove removes e and reports whether the tree held it. With an order
// that is consistent it always does; a caller that nonetheless sees false
// must stop using the tree, as e's node may no longer be reused.
func (a *avl) remove(e int32) bool {
	a.found = false
	a.root = a.rem(a.root, e)
	return a.found
}

func (a *avl) rem(t, e int32) int32 {
	switch {
	case t < 0:
		return t
	case t == e:
		a.found = true
		l, r := a.left[t], a.right[t]
		if l < 0 || r < 0 {
			return max(l, r)
		}
		m := r
		for a.left[m] >= 0 {
			m = a.left[m]
		}
		a.right[m] = a.remMin(r)
		a.left[m] = l
		return a.balance(m)
	case a.after(e, t):
		a.right[t] = a.rem(a.right[t], e)
	default:
		a.left[t] = a.rem(a.left[t], e)
	}
	return a.balance(t)
}

func (a *avl) remMin(t int32) int32 {
	if a.left[t] < 0 {
		return a.right[t]
	}
	a.left[t] = a.remMin(a.left[t])
	return a.balance(t)
}

// neighbours returns the edges just before and just after e, which the
// tree holds, or -1.
func (a *avl) neighbours(e int32) (before, after int32) {
	before, after = -1, -1
	t := a.root
	for t >= 0 && t != e {
		if a.after(e, t) {
			before, t = t, a.right[t]
		} else {
			after, t = t, a.left[t]
		}
	}
	if t < 0 {
		return -1, -1
	}
	if l := a.left[e]; l >= 0 {
		for before = l; a.right[before] >= 0; before = a.right[before] {
		}
	}
	if r := a.right[e]; r >= 0 {
		for after = r; a.left[after] >= 0; after = a.left[after] {
		}
	}
	return before, after
}

func (a *avl) h(t int32) int8 {
	if t < 0 {
		return 0
	}
	return a.height[t]
}

func (a *avl) fix(t int32) { a.height[t] = 1 + max(a.h(a.left[t]), a.h(a.right[t])) }

// balance restores the AVL invariant at t, whose subtrees differ in
// height by at most 2, and returns the subtree's new root.
func (a *avl) balance(t int32) int32 {
	a.fix(t)
	switch d := a.h(a.left[t]) - a.h(a.right[t]); {
	case d > 1:
		if l := a.left[t]; a.h(a.left[l]) < a.h(a.right[l]) {
			a.left[t] = a.rotateLeft(l)
		}
		return a.rotateRight(t)
	case d < -1:
		if r := a.right[t]; a.h(a.right[r]) < a.h(a.left[r]) {
			a.right[t] = a.rotateRight(r)
		}
		return a.rotateLeft(t)
	}
	return t
}

func (a *avl) rotateRight(t int32) int32 {
	l := a.left[t]
	a.left[t], a.right[l] = a.right[l], t
	a.fix(t)
	a.fix(l)
	return l
}

func (a *avl) rotateLeft(t int32) int32 {
	r := a.right[t]
	a.right[t], a.left[r] = a.left[r], t
	a.fix(t)
	a.fix(r)
	return r
}
