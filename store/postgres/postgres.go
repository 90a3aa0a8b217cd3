// Package postgres is the PostgreSQL store, for production and for running
// several abacus instances on one database. It uses pgx directly: every
// batch's writes go to the server in one pipelined round trip, arrays
// travel in binary, and rows are locked with FOR NO KEY UPDATE in id order.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the embedded migrations.
func Migrations() ([]store.Migration, error) { return store.ReadMigrations(migrationFS, "migrations") }

// Options tunes the connection pool.
type Options struct {
	MaxConns int32 // default: the URL's pool_max_conns, or 16
}

// Store is the PostgreSQL implementation of abacus.Store.
type Store struct {
	pool  *pgxpool.Pool
	locks lockKeys
}

var _ abacus.Store = (*Store)(nil)

// ErrMalformedURL is what Open returns, wrapped, for a connection string
// it cannot read: a mistake in what it was given, not a database that
// failed.
var ErrMalformedURL = errors.New("postgres: malformed connection string")

// Open connects to the database at url (postgres://…). Call Migrate before use.
func Open(ctx context.Context, url string, o Options) (*Store, error) {
	url = lowerScheme(url)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedURL, err)
	}
	if !strings.Contains(url, "pool_max_conns") { // an operator's own bound stands
		cfg.MaxConns = 16
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connecting: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.loadLocks(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: reading the schema: %w", err)
	}
	return s, nil
}

// lowerScheme spells a URL's postgres:// or postgresql:// scheme in lower
// case, as pgx knows it. A scheme is case-insensitive (RFC 3986), but pgx
// read POSTGRES://host/db as a key=value string and connected to the local
// socket as the operating system's user instead (QA).
func lowerScheme(url string) string {
	for _, scheme := range []string{"postgres://", "postgresql://"} {
		if len(url) >= len(scheme) && strings.EqualFold(url[:len(scheme)], scheme) {
			return scheme + url[len(scheme):]
		}
	}
	return url
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Pool returns the connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// WithSchema returns url with its connections' search_path set to schema.
func WithSchema(rawURL, schema string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// CreateSchema creates a schema (for tests and benchmarks that want a
// database of their own).
func CreateSchema(ctx context.Context, url, schema string) error {
	return adminExec(ctx, url, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
}

// DropSchema drops a schema and everything in it.
func DropSchema(ctx context.Context, url, schema string) error {
	return adminExec(ctx, url, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
}

func adminExec(ctx context.Context, url, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// Migrate applies the migrations the database has not seen, each in its
// own transaction, holding an advisory lock so that instances starting
// together migrate once. It refuses a database migrated by a newer abacus.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, s.locks.migration); err != nil {
		return err
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, s.locks.migration)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "3F000" { // QA: only "no schema has been selected to create in"
			return fmt.Errorf("postgres: migrating: the URL's search_path names no schema that exists: create it first (CREATE SCHEMA name), and abacus makes its tables in it: %w", err)
		}
		return fmt.Errorf("postgres: migrating: %w", err)
	}
	var have int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return err
	}
	if have > len(ms) {
		return store.ErrSchemaTooNew{Have: have, Know: len(ms)}
	}
	if err := settlePriceCopies(ctx, conn.Conn(), have); err != nil {
		return err
	}
	for _, m := range ms[have:] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

// SchemaVersion returns the version the database is at and the newest this
// binary knows.
func (s *Store) SchemaVersion(ctx context.Context) (have, know int, err error) {
	ms, err := Migrations()
	if err != nil {
		return 0, 0, err
	}
	err = s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have)
	if pgCode(err) == "42P01" { // undefined_table: never migrated
		err = nil
	}
	return have, len(ms), err
}

// Write implements abacus.Store. It runs at READ COMMITTED: every row a
// batch depends on is locked before it is read, so each statement sees
// what concurrent batches committed on those rows.
func (s *Store) Write(ctx context.Context, fn func(abacus.WriteTx) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return mapError(err)
	}
	// The pool closes a connection released inside a transaction, which is
	// what a failed ROLLBACK leaves.
	defer conn.Release()
	t := &writeTx{conn: conn.Conn(), locks: &s.locks}
	err = fn(t)
	switch {
	case !t.begun || t.committed:
	case err != nil:
		// Bounded: a server that stopped answering must not hold the
		// writer; the pool drops the connection, and with it the transaction.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		conn.Exec(rctx, `ROLLBACK`)
		cancel()
	default:
		var tag pgconn.CommandTag
		if tag, err = conn.Exec(ctx, `COMMIT`); err == nil && tag.String() != "COMMIT" {
			err = errors.New("postgres: the transaction had failed and was rolled back")
		}
	}
	return mapError(err)
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// mapError turns the losing side of a race into ErrRetry: a unique value
// a concurrent batch took first (an idempotency key, a reversal, a hold's
// posting), a serialization failure or a deadlock. Other unique
// violations are bugs, not races, and retrying would not help. A value
// the server cannot hold becomes ErrRefused.
func mapError(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch {
	case pe.Code == "23505" && racedConstraints[pe.ConstraintName],
		pe.Code == "40001", pe.Code == "40P01":
		return fmt.Errorf("%w: %w", abacus.ErrRetry, err)
	case strings.HasPrefix(pe.Code, "22"), pe.Code == "23514", pe.Code == "23502":
		// Data exceptions (a bigint sum out of range, …), CHECK and NOT
		// NULL violations: the values, not the moment, are at fault.
		return fmt.Errorf("%w: %w", abacus.ErrRefused, err)
	}
	return err
}

// racedConstraints are the unique constraints two batches can race for.
var racedConstraints = map[string]bool{
	"idempotency_keys_pkey":    true,
	"transactions_reverts_key": true,
	"transactions_hold_id_key": true,
	"usage_events_id":          true, // an event id sent for two accounts at once
	"usage_minutes_pkey":       true, // a minute slot taken by a batch of another account
}

func notFound(what string, id any) error {
	return abacus.Errorf(abacus.CodeNotFound, "", "%s %v does not exist", what, id)
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
