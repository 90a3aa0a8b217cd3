package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
	"github.com/abacus-billing/abacus/store"
)

// PriceBookAdd implements abacus.Store.
func (s *Store) PriceBookAdd(ctx context.Context, prices []abacus.Price, commitments []abacus.Commitment) error {
	return s.changeBook(ctx, prices, commitments, false, false)
}

// PriceBookCheck implements abacus.Store.
func (s *Store) PriceBookCheck(ctx context.Context, prices []abacus.Price, commitments []abacus.Commitment) error {
	if err := s.changeBook(ctx, prices, commitments, false, true); !errors.Is(err, store.ErrRolledBack) {
		return err
	}
	return nil
}

// SetBillingZone implements abacus.Store.
func (s *Store) SetBillingZone(ctx context.Context, name string) error {
	zone, err := rating.BillingZone(name)
	if err != nil {
		return err
	}
	return s.inWrite(ctx, func(tx *sql.Tx) error {
		have, err := billingZone(ctx, tx)
		if err != nil || have.String() == zone.String() {
			return err
		}
		var used bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM usage_events)`).Scan(&used); err != nil {
			return err
		}
		stored, err := loadPrices(ctx, tx)
		if err != nil {
			return err
		}
		if err := store.CheckZoneChange(have, zone, used, stored); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE billing_zone SET zone = ?`, zone.String()); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE price_book SET version = version + 1`) // engines load it anew
		return err
	})
}

// billingZone reads the stored zone of the billing months.
func billingZone(ctx context.Context, tx *sql.Tx) (*time.Location, error) {
	var name string
	if err := tx.QueryRowContext(ctx, `SELECT zone FROM billing_zone`).Scan(&name); err != nil {
		return nil, err
	}
	return rating.BillingZone(name)
}

// PriceBookCorrect implements abacus.Store.
func (s *Store) PriceBookCorrect(ctx context.Context, prices []abacus.Price) error {
	return s.changeBook(ctx, prices, nil, true, false)
}

// changeBook adds to the price book and bumps its version, in one
// transaction. A correction's prices may take effect before events
// already charged: the engine reprices those. A dry run rolls it all
// back, returning store.ErrRolledBack where it would have committed.
func (s *Store) changeBook(ctx context.Context, prices []abacus.Price, commitments []abacus.Commitment, correction, dryRun bool) error {
	return s.inWrite(ctx, func(tx *sql.Tx) error {
		// Checked here, in the one write transaction, against what is
		// stored: two imports that each pass a check of the book they read
		// could together break the rule.
		stored, err := loadPrices(ctx, tx)
		if err != nil {
			return err
		}
		zone, err := billingZone(ctx, tx)
		if err != nil {
			return err
		}
		if err := rating.CheckCountedVersions(zone, stored, prices); err != nil {
			return err
		}
		for i := range prices {
			p := &prices[i]
			if !correction {
				if err := checkPriceUses(ctx, tx, i, p); err != nil {
					return err
				}
			}
			params, err := store.EncodePriceParams(p)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO prices (sku_type, sku_kind, resource_id, unit_type, currency, unit, model,
				unit_price, params, description, valid_from, revision, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				p.SKUType, p.SKUKind, p.ResourceID, p.UnitType, string(p.Currency), p.Unit, string(p.Model),
				p.UnitPrice.String(), params, p.Desc, micros(p.ValidFrom), p.Revision, micros(p.CreatedAt)); err != nil {
				if isUnique(err) {
					return store.PriceVersionTaken(i, p)
				}
				return err
			}
		}
		for i := range commitments {
			if err := store.AddCommitment(commitmentRows{ctx, tx}, i, &commitments[i], zone); err != nil {
				return err
			}
		}
		if dryRun {
			return store.ErrRolledBack
		}
		_, err = tx.ExecContext(ctx, `UPDATE price_book SET version = version + 1`)
		return err
	})
}

// checkPriceUses refuses prices[i] if it would take effect at or before an
// event charged at the version in force just before it. Only that version
// would lose events to the new one: those it charged from then on, at
// whichever revision (a correction leaves the events rated before it at
// the revision they paid). One starting at valid_from itself is refused
// as taken.
func checkPriceUses(ctx context.Context, tx *sql.Tx, i int, p *abacus.Price) error {
	var latest sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(u.latest) FROM prices p JOIN price_uses u ON u.price_id = p.id
		WHERE p.sku_type = ?1 AND p.sku_kind = ?2 AND p.resource_id = ?3 AND p.unit_type = ?4 AND p.currency = ?5
		AND p.valid_from = (SELECT valid_from FROM prices
			WHERE sku_type = ?1 AND sku_kind = ?2 AND resource_id = ?3 AND unit_type = ?4 AND currency = ?5 AND valid_from < ?6
			ORDER BY valid_from DESC LIMIT 1)`,
		p.SKUType, p.SKUKind, p.ResourceID, p.UnitType, string(p.Currency), micros(p.ValidFrom)).Scan(&latest); err != nil {
		return err
	}
	if latest.Valid && latest.Int64 >= micros(p.ValidFrom) {
		return store.PriceTooEarly(i, p, fromMicros(latest.Int64))
	}
	return nil
}

const priceColumns = `id, sku_type, sku_kind, resource_id, unit_type, currency, unit, model, unit_price, params, description, valid_from,
	revision, created_at`

func scanPrice(rows *sql.Rows) (abacus.Price, error) {
	var p abacus.Price
	var price, params string
	var from, at int64
	if err := rows.Scan(&p.ID, &p.SKUType, &p.SKUKind, &p.ResourceID, &p.UnitType, &p.Currency, &p.Unit, &p.Model, &price, &params,
		&p.Desc, &from, &p.Revision, &at); err != nil {
		return p, err
	}
	var err error
	if p.UnitPrice, err = decimal.NewFromString(price); err != nil {
		return p, fmt.Errorf("sqlite: price %d: %w", p.ID, err)
	}
	p.ValidFrom, p.CreatedAt = fromMicros(from), fromMicros(at)
	return p, store.DecodePriceParams(params, &p)
}

// loadPrices reads every stored price version, in id order.
func loadPrices(ctx context.Context, tx *sql.Tx) ([]abacus.Price, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+priceColumns+` FROM prices ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []abacus.Price
	for rows.Next() {
		p, err := scanPrice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PriceBookVersion implements abacus.Store.
func (s *Store) PriceBookVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.read.QueryRowContext(ctx, `SELECT version FROM price_book`).Scan(&v)
	return v, err
}

// PriceBookLoad implements abacus.Store. It reads in one snapshot.
func (s *Store) PriceBookLoad(ctx context.Context) (*abacus.PriceBook, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	b := &abacus.PriceBook{}
	if err := tx.QueryRowContext(ctx, `SELECT version, (SELECT zone FROM billing_zone) FROM price_book`).Scan(&b.Version, &b.Zone); err != nil {
		return nil, err
	}
	if b.Prices, err = loadPrices(ctx, tx); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT resource, effective_from, level FROM burst_levels ORDER BY resource, effective_from`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var l abacus.BurstLevel
		var at int64
		if err := rows.Scan(&l.Resource, &at, &l.Level); err != nil {
			rows.Close()
			return nil, err
		}
		l.EffectiveFrom = fromMicros(at)
		b.Levels = append(b.Levels, l)
	}
	rows.Close()
	rows, err = tx.QueryContext(ctx, commitmentsQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanCommitment(rows)
		if err != nil {
			return nil, err
		}
		b.Commitments = append(b.Commitments, c)
	}
	return b, rows.Err()
}

// Events implements abacus.Store.
func (s *Store) Events(ctx context.Context, q abacus.EventQuery) ([]abacus.StoredEvent, error) {
	query, args, err := eventsQuery(q)
	if err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []abacus.StoredEvent
	for n := 0; rows.Next(); {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if n += e.TextBytes(); q.MaxBytes > 0 && n >= q.MaxBytes {
			break
		}
	}
	if err := rows.Err(); err != nil || len(out) > 0 || q.Account == "" || q.AfterSeq <= 0 {
		return out, err
	}
	var own bool
	if err := s.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM usage_events WHERE seq = ? AND account_id = ?)`, q.AfterSeq, string(q.Account)).Scan(&own); err != nil {
		return nil, err
	}
	if !own {
		return nil, store.NotAPosition(q)
	}
	return out, nil
}

// eventsQuery is the statement that answers q.
func eventsQuery(q abacus.EventQuery) (string, []any, error) {
	if err := store.CheckLimit(q.Limit); err != nil {
		return "", nil, err
	}
	// An account's events come in event-time order, paged from the position
	// of the last one seen; all accounts' in the order they were stored,
	// or by time as an account's if asked.
	where, args, order := []string{"seq > ?"}, []any{q.AfterSeq}, "seq"
	if q.ByTime && q.Account == "" {
		where, args, order = []string{"(event_time, seq) > (SELECT event_time, seq FROM usage_events WHERE seq = ?)"}, []any{q.AfterSeq}, "event_time, seq"
		if q.AfterSeq <= 0 {
			where, args = []string{"1"}, nil
		}
	}
	if q.Account != "" {
		where, args, order = []string{"account_id = ?"}, []any{string(q.Account)}, "event_time, seq"
		if q.AfterSeq > 0 {
			// Only a position of the account's own: another's placed that
			// event among the account's by time (QA).
			where = append(where, "(event_time, seq) > (SELECT event_time, seq FROM usage_events WHERE seq = ? AND account_id = ?)")
			args = append(args, q.AfterSeq, string(q.Account))
		}
	}
	if len(q.IDs) > 0 {
		if len(q.IDs) > 500 {
			return "", nil, abacus.Errorf(abacus.CodeInvalid, "ids", "at most 500 at a time")
		}
		where, args = append(where, "id IN ("+placeholders(len(q.IDs))+")"), append(args, eventKeys(q.IDs)...)
	}
	if q.Status != "" {
		cond, err := store.StatusCondition(q.Status)
		if err != nil {
			return "", nil, err
		}
		where = append(where, cond)
	}
	if q.Uncommitted {
		where = append(where, "uncommitted = 1")
	}
	if !q.From.IsZero() {
		where, args = append(where, "event_time >= ?"), append(args, micros(q.From))
	}
	if !q.To.IsZero() {
		where, args = append(where, "event_time < ?"), append(args, micros(q.To))
	}
	return `SELECT ` + eventColumns + ` FROM usage_events WHERE ` + strings.Join(where, " AND ") + ` ORDER BY ` + order + ` LIMIT ?`,
		append(args, q.Limit), nil
}

// EachRollup implements abacus.Store.
func (s *Store) EachRollup(ctx context.Context, q abacus.RollupQuery, fn func(abacus.Rollup) error) error {
	rows, err := s.read.QueryContext(ctx, `SELECT `+rollupColumns+` FROM usage_rollups
		WHERE account_id = ? AND bucket >= ? AND bucket < ? ORDER BY bucket, scene, resource_id, customer_id`,
		string(q.Account), micros(q.From), micros(q.To))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRollup(rows)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

const rollupColumns = `account_id, bucket, scene, resource_id, customer_id, currency, quantity, amount, events, unpriced_quantity, unpriced_events`

func scanRollup(sc interface{ Scan(...any) error }) (abacus.Rollup, error) {
	var r abacus.Rollup
	var bucket, amount int64
	err := sc.Scan(&r.Account, &bucket, &r.Scene, &r.ResourceID, &r.CustomerID, &r.Currency, &r.Quantity, &amount, &r.Events, &r.UnpricedQuantity, &r.UnpricedEvents)
	r.Bucket, r.Amount = fromMicros(bucket), abacus.AmountFromMicros(amount)
	return r, err
}

// DeadLetterAdd implements abacus.Store.
func (s *Store) DeadLetterAdd(ctx context.Context, d abacus.DeadLetter) (bool, error) {
	headers, err := store.EncodeHeaders(d.Headers)
	if err != nil {
		return false, err
	}
	published := false
	err = s.inWrite(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO dead_letters (key, source, subject, reason, payload, headers, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (key) DO NOTHING`, sql.NullString{String: d.Key, Valid: d.Key != ""}, d.Source, d.Subject, d.Reason, d.Payload, headers, micros(d.ReceivedAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 || d.Key == "" {
			return err
		}
		// Stored before: whether it was published.
		return tx.QueryRowContext(ctx, `SELECT published_at IS NOT NULL FROM dead_letters WHERE key = ?`, d.Key).Scan(&published)
	})
	return published, err
}

// DeadLetterPublished implements abacus.Store.
func (s *Store) DeadLetterPublished(ctx context.Context, key string, at time.Time) error {
	return s.inWrite(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE dead_letters SET published_at = COALESCE(published_at, ?) WHERE key = ?`, micros(at), key)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("dead letter", key)
		}
		return nil
	})
}

// DeadLetters implements abacus.Store.
func (s *Store) DeadLetters(ctx context.Context, afterID int64, limit int) ([]abacus.DeadLetter, error) {
	if err := store.CheckLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id, COALESCE(key, ''), source, subject, reason, payload, headers, received_at, published_at
		FROM dead_letters WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []abacus.DeadLetter
	n := 0
	for rows.Next() {
		var d abacus.DeadLetter
		var at int64
		var published sql.NullInt64
		var headers string
		if err := rows.Scan(&d.ID, &d.Key, &d.Source, &d.Subject, &d.Reason, &d.Payload, &headers, &at, &published); err != nil {
			return nil, err
		}
		d.ReceivedAt, d.PublishedAt = fromMicros(at), fromNullMicros(published)
		if d.Headers, err = store.DecodeHeaders(headers); err != nil {
			return nil, err
		}
		out = append(out, d)
		if n += d.Bytes(); n >= abacus.MaxDeadLetterPage {
			break
		}
	}
	return out, rows.Err()
}

// Outbox implements abacus.Store.
func (s *Store) Outbox(ctx context.Context, afterID int64, limit int) ([]abacus.OutboxMessage, error) {
	if err := store.CheckLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id, kind, account_id, payload, created_at FROM outbox WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []abacus.OutboxMessage
	for rows.Next() {
		var o abacus.OutboxMessage
		var at int64
		if err := rows.Scan(&o.ID, &o.Kind, &o.Account, &o.Payload, &at); err != nil {
			return nil, err
		}
		o.CreatedAt = fromMicros(at)
		out = append(out, o)
	}
	return out, rows.Err()
}
