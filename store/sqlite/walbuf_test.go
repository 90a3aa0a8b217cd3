package sqlite_test

import (
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/store/sqlite"
)

// The writer gathers its WAL writes (walbuf.c). These tests check the
// file SQLite leaves, not only what the writer reads back: a copy of the
// database and its WAL taken right after a commit, opened by plain
// SQLite, holds every committed row, and a reader on another connection
// sees each commit as soon as it returns.

// A transaction larger than the writer's page cache spills pages to the
// WAL before it commits, reads them back and overwrites them in place.
func TestWALBufferLargeTransaction(t *testing.T) {
	t.Parallel()
	s, path := smallCacheStore(t)
	w := sqlite.WriterDB(s)
	tx, err := w.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`,
		// 20,000 rows of ~600 bytes: 12 MB against a 1 MiB cache.
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
			INSERT INTO t SELECT (i * 7919) % 20011, printf('%.*c', 600, 'x') || i FROM n`,
		`UPDATE t SET v = v || 'y'`,
		`DELETE FROM t WHERE id % 10 = 0`,
	} {
		if _, err := tx.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	want := contents(t, w)
	if want.rows != 18000 {
		t.Fatalf("the writer holds %d rows, want 18000", want.rows)
	}
	if got := contents(t, plainDB(t, path)); got != want {
		t.Fatalf("another connection reads %+v, the writer %+v", got, want)
	}
	if got := contents(t, plainDB(t, copyDatabase(t, path))); got != want {
		t.Fatalf("a copy of the files reads %+v, the writer %+v", got, want)
	}
}

// Many small commits, with the WAL checkpointed and cut back to nothing
// between them, so the writer starts it again from its header.
func TestWALBufferRestarts(t *testing.T) {
	t.Parallel()
	path := testdb.SQLitePath(t)
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, r := sqlite.WriterDB(s), plainDB(t, path)
	if _, err := w.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 300; i++ {
		if _, err := w.Exec(`INSERT INTO t (v) SELECT printf('%.*c', 3000, 'z') FROM (SELECT 1 UNION ALL SELECT 2)`); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := r.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != 2*i {
			t.Fatalf("after commit %d another connection counts %d rows (%v), want %d", i, n, err, 2*i)
		}
		if i%25 == 0 {
			if _, err := r.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := contents(t, w)
	if got := contents(t, plainDB(t, copyDatabase(t, path))); got != want || want.rows != 600 {
		t.Fatalf("a copy of the files reads %+v, the writer %+v (want 600 rows)", got, want)
	}
}

// smallCacheStore opens a store whose writer keeps a 1 MiB page cache, so
// a transaction of a few MB spills pages to the WAL before it ends.
func smallCacheStore(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	path := testdb.SQLitePath(t)
	s, err := sqlite.OpenWith(path, sqlite.Options{WriterCacheMiB: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

type tableContents struct {
	rows, bytes, weighted int64
	integrity             string
}

func contents(t *testing.T, db *sql.DB) tableContents {
	t.Helper()
	var c tableContents
	if err := db.QueryRow(`SELECT count(*), COALESCE(sum(length(v)), 0), COALESCE(sum(id * length(v)), 0) FROM t`).Scan(&c.rows, &c.bytes, &c.weighted); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&c.integrity); err != nil {
		t.Fatal(err)
	}
	return c
}

// plainDB opens path with mattn's driver as it comes: SQLite's own VFS.
func plainDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// copyDatabase copies the database file and its WAL, as a crash would
// leave them (the shared-memory index is rebuilt from the WAL).
func copyDatabase(t *testing.T, path string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "copy.db")
	for _, suffix := range []string{"", "-wal"} {
		in, err := os.Open(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(to + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		if err := out.Close(); err != nil {
			t.Fatal(fmt.Errorf("copying %s: %w", path+suffix, err))
		}
	}
	return to
}

// A transaction that spills pages to the WAL and then rolls back leaves
// frames past the WAL's end, which the next writer, here another
// connection as another process would be, writes over. What the writer had
// gathered of them must reach the file before it lets go of the write lock,
// as SQLite's own writes would have, and never after.
func TestWALBufferRollbackThenAnotherWriter(t *testing.T) {
	t.Parallel()
	s, path := smallCacheStore(t)
	w, other := sqlite.WriterDB(s), plainDB(t, path)
	// The other writer leaves its frames in the WAL, where a late write of
	// the old ones would land on them.
	other.SetMaxOpenConns(1)
	if _, err := other.Exec(`PRAGMA wal_autocheckpoint = 0`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		// The pages the transaction changes have no earlier frames in the
		// WAL, so undoing it reads them from the database file, not the WAL.
		if _, err := other.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			t.Fatal(err)
		}
		tx, err := w.Begin()
		if err != nil {
			t.Fatal(err)
		}
		// ~3 MB against a 1 MiB cache: it spills, and its last frames are
		// still gathered when it rolls back.
		if _, err := tx.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
			INSERT INTO t (v) SELECT printf('%.*c', 600, 'r') FROM n`); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		// Enough frames to reach past those the rollback left.
		if _, err := other.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
			INSERT INTO t (v) SELECT printf('%.*c', 3000, 'o') FROM n`); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Exec(`INSERT INTO t (v) VALUES ('w')`); err != nil {
			t.Fatal(err)
		}
		rows, bytes := int64(1001*(round+1)), int64((round+1)*(1000*3000+1))
		for name, db := range map[string]*sql.DB{"the writer": w, "the other": other, "a copy": plainDB(t, copyDatabase(t, path))} {
			if got := contents(t, db); got.rows != rows || got.bytes != bytes || got.integrity != "ok" {
				t.Fatalf("round %d, %s reads %+v, want %d rows of %d bytes, integrity ok", round, name, got, rows, bytes)
			}
		}
	}
}
