package sqlite

import "database/sql"

// WriterDB is the store's one writer connection, for benchmarks that
// measure SQLite's own work under the store's settings.
func WriterDB(s *Store) *sql.DB { return s.write }
