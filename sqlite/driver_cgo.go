//go:build cgo

package sqlite

import (
	"database/sql/driver"
	"errors"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// With cgo, the store runs on SQLite's own C library (mattn/go-sqlite3),
// where the single writer's statements and system calls cost less than on
// the pure-Go translation of the same library, so it declares more a
// second. Without cgo (CGO_ENABLED=0), driver_purego.go takes its place:
// same file format, same SQL, same behaviour.

// DriverName is the database/sql driver the store's connections use, for
// tools and tests that open the file themselves.
const DriverName = "sqlite3"

// Library names the SQLite the store runs on.
const Library = "SQLite's C library (cgo)"

var sqliteDriver driver.Driver = &sqlite3.SQLiteDriver{}

// errorCode returns SQLite's primary result code of err, if err is one of
// SQLite's errors.
func errorCode(err error) (int, bool) {
	var e sqlite3.Error
	if !errors.As(err, &e) {
		return 0, false
	}
	return int(e.Code), true
}
