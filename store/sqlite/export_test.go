package sqlite

import (
	"context"
	"database/sql"

	"github.com/abacus-billing/abacus"
)

// WriterDB is the store's one writer connection, for benchmarks that
// measure SQLite's own work under the store's settings.
func WriterDB(s *Store) *sql.DB { return s.write }

// EventsPlan returns how SQLite finds the events of q, as EXPLAIN QUERY
// PLAN says it.
func EventsPlan(ctx context.Context, s *Store, q abacus.EventQuery) ([]string, error) {
	query, args, err := eventsQuery(q)
	if err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, err
		}
		plan = append(plan, detail)
	}
	return plan, rows.Err()
}

// GaveUpBusy is err as beginWrite returns a busy error once it stops
// waiting.
func GaveUpBusy(err error) error { return busyError{err} }

// CachedWallets is how many wallets' state the store's writer keeps.
func CachedWallets(s *Store) int {
	s.wallets.mu.Lock()
	defer s.wallets.mu.Unlock()
	return len(s.wallets.m)
}
