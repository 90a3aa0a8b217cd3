package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
)

// BurstUtilisationSet implements abacus.Store.
func (s *Store) BurstUtilisationSet(ctx context.Context, resource string, percent decimal.Decimal, at time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO burst_utilisation (resource, percent, measured_at) VALUES ($1, $2, $3)
		ON CONFLICT (resource) DO UPDATE SET percent = excluded.percent, measured_at = excluded.measured_at`, resource, percent.String(), at)
	return err
}

// BurstCycle implements abacus.Store.
func (s *Store) BurstCycle(ctx context.Context, cycle time.Time, step abacus.BurstStep) (bool, error) {
	ran := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ct, err := tx.Exec(ctx, `INSERT INTO burst_cycles (cycle) VALUES ($1) ON CONFLICT (cycle) DO NOTHING`, cycle)
		if err != nil || ct.RowsAffected() == 0 {
			return err // or another process ran this cycle
		}
		// As PriceBookAdd: the batches rating with the levels in force now
		// commit first, so their events are seen below.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.locks.book); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT resource, percent, measured_at FROM burst_utilisation`)
		if err != nil {
			return err
		}
		util := map[string]abacus.Utilisation{}
		var r, p string
		var at time.Time
		if _, err := pgx.ForEachRow(rows, []any{&r, &p, &at}, func() error {
			d, err := decimal.NewFromString(p)
			if err != nil {
				return fmt.Errorf("postgres: utilisation of %s: %w", r, err)
			}
			util[r] = abacus.Utilisation{Percent: d, MeasuredAt: at.UTC()}
			return nil
		}); err != nil {
			return err
		}
		// The latest level recorded is the one a change follows, even one
		// a cycle before held back past this cycle's start.
		inForce, err := readLevels(ctx, tx, `SELECT DISTINCT ON (resource) resource, level FROM burst_levels ORDER BY resource, effective_from DESC`)
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
			var latest, last *time.Time
			if err := tx.QueryRow(ctx, `SELECT (SELECT max(u.latest) FROM price_uses u JOIN prices p ON p.id = u.price_id
				WHERE p.model = 'burst' AND p.resource_id = $1 AND u.shard <> $2), (SELECT max(effective_from) FROM burst_levels WHERE resource = $1)`,
				l.Resource, abacus.FarShard).Scan(&latest, &last); err != nil {
				return err
			}
			if latest != nil && !latest.Before(l.EffectiveFrom) && latest.Before(cycle.Add(abacus.BurstHoldBack)) {
				l.EffectiveFrom = latest.Add(time.Microsecond)
			}
			if last != nil && !last.Before(l.EffectiveFrom) {
				l.EffectiveFrom = last.Add(time.Microsecond)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO burst_levels (resource, effective_from, level) VALUES ($1, $2, $3)
				ON CONFLICT (resource, effective_from) DO UPDATE SET level = excluded.level`, l.Resource, l.EffectiveFrom, l.Level); err != nil {
				return err
			}
		}
		for r, l := range newNext {
			if _, err := tx.Exec(ctx, `INSERT INTO burst_next (resource, level) VALUES ($1, $2)
				ON CONFLICT (resource) DO UPDATE SET level = excluded.level`, r, l); err != nil {
				return err
			}
		}
		if len(changes) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE price_book SET version = version + 1`); err != nil {
				return err
			}
		}
		ran = true
		return nil
	})
	return ran, err
}

// BurstLevels implements abacus.Store.
func (s *Store) BurstLevels(ctx context.Context, now time.Time) (current, next map[string]int, err error) {
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if current, err = levelsAt(ctx, tx, now); err != nil {
			return err
		}
		next, err = readLevels(ctx, tx, `SELECT resource, level FROM burst_next`)
		return err
	})
	return current, next, err
}

// levelsAt returns the level of each resource in force at t.
func levelsAt(ctx context.Context, tx pgx.Tx, t time.Time) (map[string]int, error) {
	return readLevels(ctx, tx, `SELECT DISTINCT ON (resource) resource, level FROM burst_levels
		WHERE effective_from <= $1 ORDER BY resource, effective_from DESC`, t)
}

func readLevels(ctx context.Context, tx pgx.Tx, q string, args ...any) (map[string]int, error) {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	var r string
	var l int
	_, err = pgx.ForEachRow(rows, []any{&r, &l}, func() error { out[r] = l; return nil })
	return out, err
}
