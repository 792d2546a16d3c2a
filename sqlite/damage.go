package sqlite

// SQLite's primary result codes that say the file is damaged.
const (
	codeCorrupt = 11 // SQLITE_CORRUPT: "database disk image is malformed"
	codeNotADB  = 26 // SQLITE_NOTADB: "file is not a database"
)

// Damaged reports whether err, from this store, shows that the database
// file is damaged: SQLite found a malformed page or header
// (deconflict.DamageReporter).
func (db *DB) Damaged(err error) bool {
	code, ok := errorCode(err)
	return ok && (code == codeCorrupt || code == codeNotADB)
}
