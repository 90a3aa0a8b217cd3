package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

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

// commitmentRows are the commitments of a write transaction, for
// store.AddCommitment.
type commitmentRows struct {
	ctx context.Context
	tx  pgx.Tx
}

func (r commitmentRows) Terms(c *abacus.Commitment) ([]store.StoredTerm, error) {
	rows, err := r.tx.Query(r.ctx, `SELECT c.id, COALESCE(`+latestEnd+`, c.ends_at)
		FROM commitments c WHERE c.account_id = $1 AND c.months = $2 AND c.starts_at = $3 AND c.ends_at = $4`,
		string(c.Account), c.Months, c.From, c.Until)
	return collect(rows, err, func(row pgx.Row) (store.StoredTerm, error) {
		var s store.StoredTerm
		err := row.Scan(&s.ID, &s.End)
		s.End = s.End.UTC()
		return s, err
	})
}

func (r commitmentRows) ChargedIn(acct abacus.AccountID, from, to time.Time, first bool) (time.Time, error) {
	order := "DESC"
	if first {
		order = "ASC"
	}
	var at time.Time
	err := r.tx.QueryRow(r.ctx, `SELECT event_time FROM usage_events WHERE account_id = $1 AND event_time >= $2 AND event_time < $3
		AND price_ids <> '' ORDER BY event_time `+order+` LIMIT 1`, string(acct), from, to).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	return at, err
}

func (r commitmentRows) Insert(c *abacus.Commitment) (int64, error) {
	var id int64
	err := r.tx.QueryRow(r.ctx, `INSERT INTO commitments (account_id, months, starts_at, ends_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		string(c.Account), c.Months, c.From, c.Until).Scan(&id)
	return id, err
}

func (r commitmentRows) InsertEnd(id int64, end time.Time) error {
	_, err := r.tx.Exec(r.ctx, `INSERT INTO commitment_ends (commitment_id, ended_at, recorded_at) VALUES ($1, $2, now())`, id, end)
	return err
}
