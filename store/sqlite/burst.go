package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
)

// BurstUtilisationSet implements abacus.Store.
func (s *Store) BurstUtilisationSet(ctx context.Context, resource string, percent decimal.Decimal, at time.Time) error {
	return s.inWrite(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO burst_utilisation (resource, percent, measured_at) VALUES (?, ?, ?)
			ON CONFLICT (resource) DO UPDATE SET percent = excluded.percent, measured_at = excluded.measured_at`, resource, percent.String(), micros(at))
		return err
	})
}

// BurstCycle implements abacus.Store.
func (s *Store) BurstCycle(ctx context.Context, cycle time.Time, step abacus.BurstStep) (bool, error) {
	ran := false
	err := s.inWrite(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO burst_cycles (cycle) VALUES (?) ON CONFLICT (cycle) DO NOTHING`, micros(cycle))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // another process ran this cycle
		}
		util, err := readUtilisation(ctx, tx)
		if err != nil {
			return err
		}
		// The latest level recorded is the one a change follows, even one
		// a cycle before held back past this cycle's start.
		inForce, err := readLevels(ctx, tx, `SELECT b.resource, b.level FROM burst_levels b WHERE b.effective_from = (
			SELECT MAX(effective_from) FROM burst_levels WHERE resource = b.resource)`)
		if err != nil {
			return err
		}
		next, err := readLevels(ctx, tx, `SELECT resource, level FROM burst_next`)
		if err != nil {
			return err
		}
		changes, newNext := step(util, inForce, next)
		for _, l := range changes {
			// A level takes effect after the events charged at the old
			// one already, which may be dated past the cycle's start, but
			// not past abacus.BurstHoldBack (those of abacus.FarShard are
			// further).
			// And after the level it follows, held back past the cycle's
			// start itself.
			var latest, last sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT (SELECT max(u.latest) FROM price_uses u JOIN prices p ON p.id = u.price_id
				WHERE p.model = 'burst' AND p.resource_id = ?1 AND u.shard <> ?2), (SELECT max(effective_from) FROM burst_levels WHERE resource = ?1)`,
				l.Resource, abacus.FarShard).Scan(&latest, &last); err != nil {
				return err
			}
			if latest.Valid && latest.Int64 >= micros(l.EffectiveFrom) && latest.Int64 < micros(cycle.Add(abacus.BurstHoldBack)) {
				l.EffectiveFrom = fromMicros(latest.Int64 + 1)
			}
			if last.Valid && last.Int64 >= micros(l.EffectiveFrom) {
				l.EffectiveFrom = fromMicros(last.Int64 + 1)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO burst_levels (resource, effective_from, level) VALUES (?, ?, ?)
				ON CONFLICT (resource, effective_from) DO UPDATE SET level = excluded.level`, l.Resource, micros(l.EffectiveFrom), l.Level); err != nil {
				return err
			}
		}
		for r, l := range newNext {
			if _, err := tx.ExecContext(ctx, `INSERT INTO burst_next (resource, level) VALUES (?, ?)
				ON CONFLICT (resource) DO UPDATE SET level = excluded.level`, r, l); err != nil {
				return err
			}
		}
		if len(changes) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE price_book SET version = version + 1`); err != nil {
				return err
			}
		}
		ran = true
		return nil
	})
	return ran, err
}

// BurstLevels implements abacus.Store.
func (s *Store) BurstLevels(ctx context.Context, now time.Time) (map[string]int, map[string]int, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	current, err := levelsAt(ctx, tx, now)
	if err != nil {
		return nil, nil, err
	}
	next, err := readLevels(ctx, tx, `SELECT resource, level FROM burst_next`)
	return current, next, err
}

// levelsAt returns the level of each resource in force at t.
func levelsAt(ctx context.Context, tx *sql.Tx, t time.Time) (map[string]int, error) {
	return readLevels(ctx, tx, `SELECT b.resource, b.level FROM burst_levels b WHERE b.effective_from = (
		SELECT MAX(effective_from) FROM burst_levels WHERE resource = b.resource AND effective_from <= ?)`, micros(t))
}

func readUtilisation(ctx context.Context, tx *sql.Tx) (map[string]abacus.Utilisation, error) {
	rows, err := tx.QueryContext(ctx, `SELECT resource, percent, measured_at FROM burst_utilisation`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]abacus.Utilisation{}
	for rows.Next() {
		var r, p string
		var at int64
		if err := rows.Scan(&r, &p, &at); err != nil {
			return nil, err
		}
		d, err := decimal.NewFromString(p)
		if err != nil {
			return nil, fmt.Errorf("sqlite: utilisation of %s: %w", r, err)
		}
		out[r] = abacus.Utilisation{Percent: d, MeasuredAt: fromMicros(at)}
	}
	return out, rows.Err()
}

func readLevels(ctx context.Context, tx *sql.Tx, q string, args ...any) (map[string]int, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var r string
		var l int
		if err := rows.Scan(&r, &l); err != nil {
			return nil, err
		}
		out[r] = l
	}
	return out, rows.Err()
}
