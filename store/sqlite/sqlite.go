// Package sqlite is the SQLite store: the default, a single file that needs
// no setup. It runs in WAL mode with synchronous=FULL, so every commit is
// on disk before it is acknowledged, and keeps one writer connection (SQLite
// has one writer anyway) beside a pool of readers.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the embedded migrations.
func Migrations() ([]store.Migration, error) { return store.ReadMigrations(migrationFS, "migrations") }

// Store is the SQLite implementation of abacus.Store.
type Store struct {
	path      string
	write     *sql.DB // exactly one connection: the writer
	read      *sql.DB
	ckpt      *sql.DB // the background checkpointer's connection
	wallets   *walletCache
	stop      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
	// writing spans a ledger write from BEGIN to the cache update after
	// COMMIT, so the next batch never reads the cache in between. A
	// channel, so that a batch waiting for it gives up at its deadline.
	writing chan struct{}
}

var _ abacus.Store = (*Store)(nil)

// Options tunes a store. The zero value of each field means its default.
type Options struct {
	// WriterCacheMiB is the writer's page cache. It holds the pages every
	// batch touches (the id and account indexes, rollups, counters,
	// wallets); once they outgrow it, batches read pages back. Readers
	// keep 64 MiB each.
	WriterCacheMiB int
	// CachedWallets bounds the wallets whose state the writer keeps
	// between batches (DefaultCachedWallets if 0): each takes a few
	// hundred bytes of Go's heap.
	CachedWallets int
}

// DefaultCachedWallets is three wallets of each of 100,000 accounts.
const DefaultCachedWallets = 300_000

// DefaultWriterCacheMiB is the writer's page cache unless set: with 3
// million events stored, loaded ingestion ran 3–15% faster with it than
// with 64 MiB. The memory is taken only as the database grows.
const DefaultWriterCacheMiB = 256

// Open opens (creating if needed) the database file at path with the
// default options. Call Migrate before use.
func Open(path string) (*Store, error) { return OpenWith(path, Options{}) }

// OpenWith is Open with options.
func OpenWith(path string, o Options) (*Store, error) {
	if o.WriterCacheMiB < 0 || o.CachedWallets < 0 {
		return nil, fmt.Errorf("sqlite: WriterCacheMiB %d or CachedWallets %d is negative", o.WriterCacheMiB, o.CachedWallets)
	}
	if o.CachedWallets == 0 {
		o.CachedWallets = DefaultCachedWallets
	}
	if o.WriterCacheMiB == 0 {
		o.WriterCacheMiB = DefaultWriterCacheMiB
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("%w: %q must not contain ? or #", ErrBadPath, path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: creating %s: %w", dir, err)
		}
	}
	common := "_journal_mode=WAL&_synchronous=FULL&_foreign_keys=on&_stmt_cache_size=64"
	busy := fmt.Sprintf("&_busy_timeout=%d", BusyTimeout.Milliseconds())
	write, err := sql.Open(writerDriver, fmt.Sprintf("%s?%s&_busy_timeout=%d&_txlock=immediate&_cache_size=-%d&vfs=%s",
		path, common, writerBusyTimeout.Milliseconds(), o.WriterCacheMiB*1024, walbufVFS))
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	if err := write.Ping(); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	read, err := sql.Open(driverName, path+"?"+common+busy+"&_query_only=true&_cache_size=-65536")
	if err != nil {
		write.Close()
		return nil, err
	}
	read.SetMaxOpenConns(8)
	ckpt, err := sql.Open(driverName, path+"?"+common+busy+"&_cache_size=-65536")
	if err != nil {
		write.Close()
		read.Close()
		return nil, err
	}
	ckpt.SetMaxOpenConns(1)
	s := &Store{path: path, write: write, read: read, ckpt: ckpt, wallets: newWalletCache(o.CachedWallets), writing: make(chan struct{}, 1),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	go s.checkpoint()
	return s, nil
}

// ErrBadPath is what OpenWith returns, wrapped, for a path it cannot take:
// a mistake in what it was given, not a database that failed.
var ErrBadPath = errors.New("sqlite: bad database path")

// driverName is mattn's driver with abacus's per-connection settings;
// writerDriver adds the writer's own.
const driverName, writerDriver = "sqlite3_abacus", "sqlite3_abacus_writer"

func init() {
	// The writer leaves checkpoints to the background checkpointer and
	// only checkpoints itself past 100,000 pages (about 400 MB), by which
	// time there is little left to copy. After a checkpoint the WAL file
	// is cut back to 64 MB.
	const common = `PRAGMA wal_autocheckpoint = 100000; PRAGMA journal_size_limit = 67108864`
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec(common, nil)
		return err
	}})
	// A statement that writes many rows keeps the pages it changes in a
	// statement journal, to undo itself alone if it fails; past 64 KiB
	// SQLite spills that journal to a temporary file, which for a usage
	// batch's inserts was as many writes as the commit's. The writer keeps
	// it in memory (bounded by the batch); readers keep the default, so a
	// large sort spills to disk rather than memory.
	sql.Register(writerDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec(common+`; PRAGMA temp_store = MEMORY`, nil)
		return err
	}})
}

// checkpoint copies the WAL into the database file every 200 ms, on a
// connection of its own: a PASSIVE checkpoint never blocks the writer, so
// the copying and its fsync leave the commit path.
func (s *Store) checkpoint() {
	defer close(s.stopped)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.ckpt.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		}
	}
}

// Path returns the database file.
func (s *Store) Path() string { return s.path }

// Close stops the checkpointer and closes every connection.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.stopped
		err = errors.Join(s.write.Close(), s.read.Close(), s.ckpt.Close())
	})
	return err
}

// Migrate applies the migrations the database has not seen, each in its
// own transaction. It refuses a database migrated by a newer abacus.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	if err := s.createMigrationsTable(ctx); err != nil {
		return fmt.Errorf("sqlite: migrating: %w", err)
	}
	if err := s.settlePriceCopies(ctx); err != nil {
		return err
	}
	for {
		done, err := s.migrateOne(ctx, ms)
		if err != nil || done {
			return err
		}
	}
}

// createMigrationsTable waits for the write lock as long as every other
// write does: processes that start on a new database together each make
// the table (IF NOT EXISTS), one after the other.
func (s *Store) createMigrationsTable(ctx context.Context) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *Store) migrateOne(ctx context.Context, ms []store.Migration) (bool, error) {
	tx, err := s.begin(ctx) // BEGIN IMMEDIATE: one migrator at a time
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return false, err
	}
	if have > len(ms) {
		return false, store.ErrSchemaTooNew{Have: have, Know: len(ms)}
	}
	if have == len(ms) {
		return true, nil
	}
	m := ms[have]
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("sqlite: migration %04d_%s: %w", m.Version, m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, micros(time.Now())); err != nil {
		return false, err
	}
	return false, tx.Commit()
}

// SchemaVersion returns the version the database is at and the newest this
// binary knows.
func (s *Store) SchemaVersion(ctx context.Context) (have, know int, err error) {
	ms, err := Migrations()
	if err != nil {
		return 0, 0, err
	}
	var tables int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&tables); err != nil {
		return 0, len(ms), err
	}
	if tables == 0 { // never migrated
		return 0, len(ms), nil
	}
	err = s.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have)
	return have, len(ms), err
}

// Write implements abacus.Store.
func (s *Store) Write(ctx context.Context, fn func(abacus.WriteTx) error) error {
	// Waiting for the write lock, this process's (a batch before it that
	// waits itself) and then SQLite's, is all a batch does before BEGIN
	// succeeds: one whose time runs out there wrote nothing, and is told
	// as locked out, not as a commit that could not be confirmed (QA; and
	// requests queued behind such a batch had waited a minute each, some
	// past the API's answer deadline).
	select {
	case s.writing <- struct{}{}:
		defer func() { <-s.writing }()
	case <-ctx.Done():
		return beginFailed(ctx, ctx.Err())
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return beginFailed(ctx, err)
	}
	defer tx.Rollback()
	if err := s.wallets.validate(ctx, tx); err != nil {
		return err
	}
	wt := &writeTx{tx: tx, cache: s.wallets}
	if err := fn(wt); err != nil {
		return mapError(err)
	}
	if err := tx.Commit(); err != nil {
		s.wallets.forget() // the commit may or may not have happened
		return mapError(err)
	}
	s.wallets.put(wt.read)
	s.wallets.put(wt.written)
	return nil
}

// beginFailed is err from waiting to begin a write: busyError once the
// batch's deadline passed, as BEGIN IMMEDIATE waits only for the write
// lock; otherwise as mapError makes it.
func beginFailed(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return busyError{err}
	}
	return mapError(err)
}

// mapError turns a busy database into ErrRetry, on which the engine
// retries the whole batch, and a value SQLite refuses into ErrRefused.
func mapError(err error) error {
	var se sqlite3.Error
	switch {
	case !errors.As(err, &se):
	case se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked:
		return fmt.Errorf("%w: %v", abacus.ErrRetry, err)
	case se.ExtendedCode == sqlite3.ErrConstraintCheck || se.ExtendedCode == sqlite3.ErrConstraintNotNull ||
		se.Code == sqlite3.ErrTooBig || se.Code == sqlite3.ErrMismatch:
		// An integer sum past 64 bits becomes a REAL in SQLite, which the
		// tables' typeof CHECKs refuse.
		return fmt.Errorf("%w: %w", abacus.ErrRefused, err)
	}
	return err
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(n int64) time.Time { return time.UnixMicro(n).UTC() }

func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicros(n.Int64)
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

func notFound(what string, id any) error {
	return abacus.Errorf(abacus.CodeNotFound, "", "%s %v does not exist", what, id)
}

// placeholders returns "?,?,…" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// tuples returns n row values of cols placeholders each: (?,?),(?,?).
func tuples(n, cols int) string {
	return strings.TrimSuffix(strings.Repeat("("+placeholders(cols)+"),", n), ",")
}

// maxVars keeps every statement well below SQLite's limit of host parameters.
const maxVars = 30000

// insertRows inserts n rows of cols columns with multi-row INSERTs: one
// statement per few thousand values instead of one per row.
// tail, if given, follows the VALUES list (an ON CONFLICT clause).
func insertRows(ctx context.Context, tx *sql.Tx, head string, cols, n int, row func(i int, args []any) []any, tail ...string) error {
	per := min(maxVars/cols, 500)
	args := make([]any, 0, min(per, n)*cols)
	for start := 0; start < n; start += per {
		end := min(start+per, n)
		args = args[:0]
		for i := start; i < end; i++ {
			args = row(i, args)
		}
		q := head + " VALUES " + tuples(end-start, cols) + strings.Join(tail, "")
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("sqlite: %s: %w", head, err)
		}
	}
	return nil
}

// chunks calls fn with slices of at most 500 values.
func chunks[T any](vals []T, fn func([]T) error) error {
	for start := 0; start < len(vals); start += 500 {
		if err := fn(vals[start:min(start+500, len(vals))]); err != nil {
			return err
		}
	}
	return nil
}

func anys[T any](vals []T) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = v
	}
	return out
}

// BusyTimeout is how long a connection waits for another's write lock
// before it gives up with SQLite's busy error.
const BusyTimeout = 10 * time.Second

// writerBusyTimeout is how long SQLite itself waits for the write lock on
// the writer's connection. Its wait sees neither a cancelled context nor
// a closing store, so begin waits the rest of BusyTimeout in Go, a
// writerBusyTimeout at a time (QA: SIGTERM beside another process's
// write lock waited up to 10 s more than it should).
const writerBusyTimeout = 100 * time.Millisecond

// begin is the writer's BEGIN IMMEDIATE, waiting up to BusyTimeout for
// another connection's write lock, or until ctx ends.
func (s *Store) begin(ctx context.Context) (*sql.Tx, error) {
	giveUp := time.Now().Add(BusyTimeout)
	for {
		tried := time.Now()
		tx, err := s.write.BeginTx(ctx, nil)
		if errors.Is(ctx.Err(), context.Canceled) {
			// Called off, not locked out: "locked for longer than abacus
			// waits" would not be true (QA).
			if tx != nil {
				tx.Rollback()
			}
			return nil, ctx.Err()
		}
		if err == nil || !IsBusy(err) || ctx.Err() != nil || !time.Now().Before(giveUp) {
			return tx, err
		}
		if spent := time.Since(tried); spent < writerBusyTimeout/2 {
			// Refused without SQLite's wait (a lock it does not wait for):
			// not a busy loop.
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(writerBusyTimeout/2 - spent):
			}
		}
	}
}

// IsBusy says whether err is SQLite's busy error: another connection,
// most likely another process, held the write lock past the busy timeout.
func IsBusy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrBusy
}
