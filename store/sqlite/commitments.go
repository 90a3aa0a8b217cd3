package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/store"
)

// commitmentsQuery reads every commitment, in the order they were added,
// with its latest end.
const commitmentsQuery = `SELECT c.account_id, c.months, c.starts_at, c.ends_at,
	(SELECT e.ended_at FROM commitment_ends e WHERE e.commitment_id = c.id ORDER BY e.id DESC LIMIT 1)
	FROM commitments c ORDER BY c.id`

func scanCommitment(rows *sql.Rows) (abacus.Commitment, error) {
	var c abacus.Commitment
	var from, until int64
	var ended sql.NullInt64
	err := rows.Scan(&c.Account, &c.Months, &from, &until, &ended)
	c.From, c.Until = fromMicros(from), fromMicros(until)
	if ended.Valid {
		c.Ended = fromMicros(ended.Int64)
	}
	return c, err
}

// addCommitment stores commitments[i], c, or, when a commitment of its
// term is stored, records c's end for it. Either is refused when the
// account has a charged event in the time whose charges it would change.
func addCommitment(ctx context.Context, tx *sql.Tx, i int, c *abacus.Commitment, zone *time.Location) error {
	rows, err := tx.QueryContext(ctx, `SELECT c.id,
		COALESCE((SELECT e.ended_at FROM commitment_ends e WHERE e.commitment_id = c.id ORDER BY e.id DESC LIMIT 1), c.ends_at)
		FROM commitments c WHERE c.account_id = ? AND c.months = ? AND c.starts_at = ? AND c.ends_at = ?`,
		string(c.Account), c.Months, micros(c.From), micros(c.Until))
	if err != nil {
		return err
	}
	ends := map[int64]int64{}
	for rows.Next() {
		var id, end int64
		if err := rows.Scan(&id, &end); err != nil {
			rows.Close()
			return err
		}
		ends[id] = end
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(ends) == 0 {
		latest, err := chargedIn(ctx, tx, c.Account, c.From, store.CommitmentReach(c, zone), false)
		if err != nil {
			return err
		}
		if !latest.IsZero() {
			return store.CommitmentTooEarly(i, c, latest, zone)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO commitments (account_id, months, starts_at, ends_at) VALUES (?, ?, ?, ?)`,
			string(c.Account), c.Months, micros(c.From), micros(c.Until))
		if err != nil || c.End().Equal(c.Until) {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		return insertEnd(ctx, tx, id, c.End())
	}
	for id, end := range ends {
		if end == micros(c.End()) {
			continue
		}
		was := fromMicros(end)
		from, to, later := store.EndSpan(c, was, zone)
		at, err := chargedIn(ctx, tx, c.Account, from, to, later)
		if err != nil {
			return err
		}
		if !at.IsZero() {
			return store.CommitmentEndRefused(i, c, was, at, zone)
		}
		if err := insertEnd(ctx, tx, id, c.End()); err != nil {
			return err
		}
	}
	return nil
}

func insertEnd(ctx context.Context, tx *sql.Tx, id int64, end time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO commitment_ends (commitment_id, ended_at, recorded_at) VALUES (?, ?, ?)`,
		id, micros(end), micros(time.Now()))
	return err
}

// chargedIn is the time of the account's last event charged at a price in
// [from, to) (first: its first), or zero if it has none there.
func chargedIn(ctx context.Context, tx *sql.Tx, acct abacus.AccountID, from, to time.Time, first bool) (time.Time, error) {
	order := "DESC"
	if first {
		order = "ASC"
	}
	var at int64
	err := tx.QueryRowContext(ctx, `SELECT event_time FROM usage_events WHERE account_id = ? AND event_time >= ? AND event_time < ?
		AND price_ids <> '' ORDER BY event_time `+order+` LIMIT 1`, string(acct), micros(from), micros(to)).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return fromMicros(at), nil
}
