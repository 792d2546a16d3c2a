package deconflict

// A Prefetcher is a Tx that can read ahead what a batch of writes is about
// to ask for: the operations it changes, the settings, the parties, and
// the operations changed since changedSince (what OperationsSince of that
// rev, any state, would walk: the catch-up with other processes).
// They are read with the transaction's next statement, in its round trip,
// and Operation, Settings and Parties then answer from what was read, as
// the transaction sees it: whatever the transaction writes afterwards, it
// reads back as written. For a store whose statements cost a round trip
// each (PostgreSQL), this takes one round trip per declaration out of the
// write lock's critical section.
type Prefetcher interface {
	Prefetch(operationIDs []string, changedSince int64)
}
