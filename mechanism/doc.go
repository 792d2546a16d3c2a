// Package mechanism holds the rules of the joint deconfliction mechanism,
// once, above storage: who may do what, the lifecycle of operations,
// conflict detection against an in-memory index of live operations, the
// lifecycle of conflicts, and the events every change produces.
//
// The path of a declaration: validate the input (package geo) without any
// lock; then, inside one write transaction of the store, catch the index up
// with changes other processes made, compare the new volumes with the
// index, write the operation, its conflicts and their events, and commit.
// Only after the commit is the index changed. Write transactions are
// serialised by the store (and within a process by a mutex), so two
// declarations that conflict always see each other: one of them comes
// second and finds the first in the index.
//
// In the code: Declare (operation.go) validates and searches ahead, and
// queues the write with the writer (writer.go), which batches writes,
// catches the index up (index.go, replica.go) and runs each request's
// rules inside the transaction: runOne → planDeclaration → apply
// (write.go). The index snapshot file is package mechanism/snapshot.
package mechanism
