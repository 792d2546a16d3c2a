package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// Statements are kept prepared across transactions. database/sql ties a
// statement prepared inside a transaction to that transaction, so a
// statement is prepared once per pool instead (sql.DB.Prepare) and bound
// to each transaction with Tx.Stmt, which reuses what the driver prepared
// on the transaction's connection (the write pool has exactly one). A
// statement cannot be prepared on the pool while a transaction holds the
// write pool's only connection, so a transaction notes the queries it
// prepared for itself, and they join the cache after it ends. Parsing the
// same SQL again in every transaction would be a large share of a
// declaration's CPU time.

// maxCachedStmts bounds the statements a pool keeps prepared; queries
// beyond it (lists with rare filter combinations) are prepared per
// transaction.
const maxCachedStmts = 256

// stmtCache holds the statements prepared on one pool.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}}
}

// get returns the pool's statement for query, or nil.
func (c *stmtCache) get(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

// add prepares the queries on the pool, as far as the cache has room. It
// is called with no transaction open by the caller. Failures are left
// alone: the query is prepared per transaction again next time.
func (c *stmtCache) add(ctx context.Context, queries []string) {
	for _, q := range queries {
		c.mu.Lock()
		_, ok := c.m[q]
		full := len(c.m) >= maxCachedStmts
		c.mu.Unlock()
		if ok || full {
			continue
		}
		s, err := c.db.PrepareContext(context.WithoutCancel(ctx), q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, ok := c.m[q]; ok || len(c.m) >= maxCachedStmts {
			s.Close()
		} else {
			c.m[q] = s
		}
		c.mu.Unlock()
	}
}

// close closes every cached statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.m {
		s.Close()
		delete(c.m, q)
	}
}
