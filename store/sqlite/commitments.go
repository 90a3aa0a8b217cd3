package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/store"
)

// latestEnd is the end last given the commitment c, or NULL: its latest
// row of commitment_ends counts.
const latestEnd = `(SELECT e.ended_at FROM commitment_ends e WHERE e.commitment_id = c.id ORDER BY e.id DESC LIMIT 1)`

// commitmentsQuery reads every commitment, in the order they were added,
// with its latest end.
const commitmentsQuery = `SELECT c.account_id, c.months, c.starts_at, c.ends_at, ` + latestEnd + `
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

// commitmentRows are the commitments of a write transaction, for
// store.AddCommitment.
type commitmentRows struct {
	ctx context.Context
	tx  *sql.Tx
}

func (r commitmentRows) Terms(c *abacus.Commitment) ([]store.StoredTerm, error) {
	rows, err := r.tx.QueryContext(r.ctx, `SELECT c.id, COALESCE(`+latestEnd+`, c.ends_at)
		FROM commitments c WHERE c.account_id = ? AND c.months = ? AND c.starts_at = ? AND c.ends_at = ?`,
		string(c.Account), c.Months, micros(c.From), micros(c.Until))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var terms []store.StoredTerm
	for rows.Next() {
		var s store.StoredTerm
		var end int64
		if err := rows.Scan(&s.ID, &end); err != nil {
			return nil, err
		}
		s.End = fromMicros(end)
		terms = append(terms, s)
	}
	return terms, rows.Err()
}

func (r commitmentRows) ChargedIn(acct abacus.AccountID, from, to time.Time, first bool) (time.Time, error) {
	order := "DESC"
	if first {
		order = "ASC"
	}
	var at int64
	err := r.tx.QueryRowContext(r.ctx, `SELECT event_time FROM usage_events WHERE account_id = ? AND event_time >= ? AND event_time < ?
		AND price_ids <> '' ORDER BY event_time `+order+` LIMIT 1`, string(acct), micros(from), micros(to)).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return fromMicros(at), nil
}

func (r commitmentRows) Insert(c *abacus.Commitment) (int64, error) {
	res, err := r.tx.ExecContext(r.ctx, `INSERT INTO commitments (account_id, months, starts_at, ends_at) VALUES (?, ?, ?, ?)`,
		string(c.Account), c.Months, micros(c.From), micros(c.Until))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (r commitmentRows) InsertEnd(id int64, end time.Time) error {
	_, err := r.tx.ExecContext(r.ctx, `INSERT INTO commitment_ends (commitment_id, ended_at, recorded_at) VALUES (?, ?, ?)`,
		id, micros(end), micros(time.Now()))
	return err
}
