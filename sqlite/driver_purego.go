//go:build !cgo

package sqlite

import (
	"database/sql/driver"
	"errors"

	sqlitedriver "modernc.org/sqlite"
)

// Without cgo, the store runs on modernc.org/sqlite, SQLite translated to
// Go: the same file format and SQL as driver_cgo.go's C library, a build
// that needs no C compiler, and a slower writer.

// DriverName is the database/sql driver the store's connections use, for
// tools and tests that open the file themselves.
const DriverName = "sqlite"

// Library names the SQLite the store runs on.
const Library = "modernc.org/sqlite (pure Go)"

var sqliteDriver driver.Driver = &sqlitedriver.Driver{}

// errorCode returns SQLite's primary result code of err, if err is one of
// SQLite's errors.
func errorCode(err error) (int, bool) {
	var e *sqlitedriver.Error
	if !errors.As(err, &e) {
		return 0, false
	}
	return e.Code() & 0xff, true
}
