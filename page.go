package deconflict

// MaxPageBytes is the size past which a page of a list ends early
// (contract section 2.2): items are added until their JSON passes it, so
// a page always holds at least one item and no answer, nor the memory
// that builds it, grows without bound. The stores measure it on the
// documents they hold, which are the items' JSON.
const MaxPageBytes = 4 << 20
