package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/store"
)

// commitmentsQuery reads every commitment, in the order they were added,
// with its latest end.
const commitmentsQuery = `SELECT c.account_id, c.months, c.starts_at, c.ends_at,
	(SELECT e.ended_at FROM commitment_ends e WHERE e.commitment_id = c.id ORDER BY e.id DESC LIMIT 1)
	FROM commitments c ORDER BY c.id`

func scanCommitment(row pgx.Row) (abacus.Commitment, error) {
	var c abacus.Commitment
	var ended *time.Time
	err := row.Scan(&c.Account, &c.Months, &c.From, &c.Until, &ended)
	c.From, c.Until = c.From.UTC(), c.Until.UTC()
	if ended != nil {
		c.Ended = ended.UTC()
	}
	return c, err
}

// addCommitment stores commitments[i], c, or, when a commitment of its
// term is stored, records c's end for it. Either is refused when the
// account has a charged event in the time whose charges it would change.
func addCommitment(ctx context.Context, tx pgx.Tx, i int, c *abacus.Commitment, zone *time.Location) error {
	rows, err := tx.Query(ctx, `SELECT c.id,
		COALESCE((SELECT e.ended_at FROM commitment_ends e WHERE e.commitment_id = c.id ORDER BY e.id DESC LIMIT 1), c.ends_at)
		FROM commitments c WHERE c.account_id = $1 AND c.months = $2 AND c.starts_at = $3 AND c.ends_at = $4`,
		string(c.Account), c.Months, c.From, c.Until)
	type stored struct {
		id  int64
		end time.Time
	}
	terms, err := collect(rows, err, func(row pgx.Row) (stored, error) {
		var s stored
		return s, row.Scan(&s.id, &s.end)
	})
	if err != nil {
		return err
	}
	if len(terms) == 0 {
		latest, err := chargedIn(ctx, tx, c.Account, c.From, store.CommitmentReach(c, zone), false)
		if err != nil {
			return err
		}
		if !latest.IsZero() {
			return store.CommitmentTooEarly(i, c, latest, zone)
		}
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO commitments (account_id, months, starts_at, ends_at) VALUES ($1, $2, $3, $4) RETURNING id`,
			string(c.Account), c.Months, c.From, c.Until).Scan(&id); err != nil || c.End().Equal(c.Until) {
			return err
		}
		return insertEnd(ctx, tx, id, c.End())
	}
	for _, s := range terms {
		if s.end.Equal(c.End()) {
			continue
		}
		from, to, later := store.EndSpan(c, s.end, zone)
		at, err := chargedIn(ctx, tx, c.Account, from, to, later)
		if err != nil {
			return err
		}
		if !at.IsZero() {
			return store.CommitmentEndRefused(i, c, s.end, at, zone)
		}
		if err := insertEnd(ctx, tx, s.id, c.End()); err != nil {
			return err
		}
	}
	return nil
}

func insertEnd(ctx context.Context, tx pgx.Tx, id int64, end time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO commitment_ends (commitment_id, ended_at, recorded_at) VALUES ($1, $2, now())`, id, end)
	return err
}

// chargedIn is the time of the account's last event charged at a price in
// [from, to) (first: its first), or zero if it has none there.
func chargedIn(ctx context.Context, tx pgx.Tx, acct abacus.AccountID, from, to time.Time, first bool) (time.Time, error) {
	order := "DESC"
	if first {
		order = "ASC"
	}
	var at time.Time
	err := tx.QueryRow(ctx, `SELECT event_time FROM usage_events WHERE account_id = $1 AND event_time >= $2 AND event_time < $3
		AND price_ids <> '' ORDER BY event_time `+order+` LIMIT 1`, string(acct), from, to).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	return at, err
}
