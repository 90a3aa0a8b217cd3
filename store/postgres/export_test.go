package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/abacus-billing/abacus"
)

// ExplainInWrite returns the plan of statement as the statements of a
// write batch run it: in tx, a transaction of Write.
func ExplainInWrite(ctx context.Context, tx abacus.WriteTx, statement string) ([]string, error) {
	rows, err := tx.(*writeTx).query(ctx, "EXPLAIN "+statement)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// EventsPlan returns the plan PostgreSQL gives the listing of q once a
// connection has cached its statement: a generic one, for any values of
// its parameters. Only queries whose parameters are numbers and strings
// can be planned so.
func EventsPlan(ctx context.Context, s *Store, q abacus.EventQuery) ([]string, error) {
	query, args, err := eventsQuery(q)
	if err != nil {
		return nil, err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		return nil, err
	}
	defer conn.Exec(ctx, "RESET plan_cache_mode")
	if _, err := conn.Exec(ctx, "PREPARE events_plan AS "+query); err != nil {
		return nil, err
	}
	defer conn.Exec(ctx, "DEALLOCATE events_plan")
	values := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case int, int64:
			values[i] = fmt.Sprint(v)
		case string:
			values[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		default:
			return nil, fmt.Errorf("parameter %d is a %T, not a number or a string", i+1, a)
		}
	}
	rows, err := conn.Query(ctx, "EXPLAIN EXECUTE events_plan("+strings.Join(values, ", ")+")", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// DeadLetterAddHeld is DeadLetterAdd with hold called before its commit.
func DeadLetterAddHeld(ctx context.Context, s *Store, d abacus.DeadLetter, hold func()) (bool, error) {
	return s.deadLetterAdd(ctx, d, hold)
}

// Pool is s's connection pool, for benchmarks that measure PostgreSQL's
// own work in s's schema.
func Pool(s *Store) *pgxpool.Pool { return s.pool }

// MaxConns is the bound of s's connection pool.
func MaxConns(s *Store) int32 { return s.pool.Config().MaxConns }

// HoldBookLock takes s's price book lock exclusively, as PriceBookAdd does,
// and holds it until release is called.
func HoldBookLock(ctx context.Context, s *Store) (release func(), err error) {
	return holdBookLock(ctx, s, `SELECT pg_advisory_xact_lock($1)`)
}

// HoldBookLockShared takes s's price book lock as a usage batch does.
func HoldBookLockShared(ctx context.Context, s *Store) (release func(), err error) {
	return holdBookLock(ctx, s, `SELECT pg_advisory_xact_lock_shared($1)`)
}

func holdBookLock(ctx context.Context, s *Store, lock string) (release func(), err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, lock, s.locks.book); err != nil {
		tx.Rollback(ctx)
		return nil, err
	}
	return func() { tx.Rollback(context.Background()) }, nil
}

// LockKeysOf returns the advisory lock keys of schema: migration, book,
// dead letters, outbox.
func LockKeysOf(schema string) [4]int64 {
	k := locksOf(schema)
	return [4]int64{k.migration, k.book, k.deadLetters, k.outbox}
}
