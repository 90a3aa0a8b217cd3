package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The book's lock, as changeBook takes it: batches rating with the
		// old zone have committed, and the next find the book changed.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.locks.book); err != nil {
			return err
		}
		have, err := billingZone(ctx, tx)
		if err != nil || have.String() == zone.String() {
			return err
		}
		var used bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM usage_events)`).Scan(&used); err != nil {
			return err
		}
		stored, err := loadPrices(ctx, tx)
		if err != nil {
			return err
		}
		if err := store.CheckZoneChange(have, zone, used, stored); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE billing_zone SET zone = $1`, zone.String()); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE price_book SET version = version + 1`) // engines load it anew
		return err
	})
}

// loadPrices reads every stored price version, by id.
func loadPrices(ctx context.Context, tx pgx.Tx) ([]abacus.Price, error) {
	rows, err := tx.Query(ctx, `SELECT `+priceColumns+` FROM prices ORDER BY id`)
	return collect(rows, err, scanPrice)
}

// billingZone reads the stored zone of the billing months.
func billingZone(ctx context.Context, tx pgx.Tx) (*time.Location, error) {
	var name string
	if err := tx.QueryRow(ctx, `SELECT zone FROM billing_zone`).Scan(&name); err != nil {
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
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Usage batches rate under the shared lock: once this holds it,
		// every batch rated with the old book has committed its price
		// uses, and the batches after it wait and then find the book changed.
		// A dry run changes nothing, so it shares the lock with them and
		// stalls no usage (QA: 5,000 prices checked took 1.5 s of every
		// batch's time); imports still wait for it, so none changes the
		// book under its check, and the import it stands for checks again.
		lock := `SELECT pg_advisory_xact_lock($1)`
		if dryRun {
			lock = `SELECT pg_advisory_xact_lock_shared($1)`
		}
		if _, err := tx.Exec(ctx, lock, s.locks.book); err != nil {
			return err
		}
		// Checked here, under the lock, against what is stored: two imports
		// that each pass a check of the book they read could together break
		// the rule.
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
			if _, err := tx.Exec(ctx, `INSERT INTO prices (sku_type, sku_kind, resource_id, unit_type, currency, unit, model,
				unit_price, params, description, valid_from, revision, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
				p.SKUType, p.SKUKind, p.ResourceID, p.UnitType, string(p.Currency), p.Unit, string(p.Model),
				p.UnitPrice.String(), params, p.Desc, p.ValidFrom, p.Revision, p.CreatedAt); err != nil {
				if pgCode(err) == "23505" {
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
		_, err = tx.Exec(ctx, `UPDATE price_book SET version = version + 1`)
		return err
	})
}

// checkPriceUses refuses prices[i] if it would take effect at or before an
// event charged at the version in force just before it. Only that version
// would lose events to the new one: those it charged from then on, at
// whichever revision (a correction leaves the events rated before it at
// the revision they paid). One starting at valid_from itself is refused
// as taken.
func checkPriceUses(ctx context.Context, tx pgx.Tx, i int, p *abacus.Price) error {
	var latest *time.Time
	if err := tx.QueryRow(ctx, `SELECT max(u.latest) FROM prices p JOIN price_uses u ON u.price_id = p.id
		WHERE p.sku_type = $1 AND p.sku_kind = $2 AND p.resource_id = $3 AND p.unit_type = $4 AND p.currency = $5
		AND p.valid_from = (SELECT valid_from FROM prices
			WHERE sku_type = $1 AND sku_kind = $2 AND resource_id = $3 AND unit_type = $4 AND currency = $5 AND valid_from < $6
			ORDER BY valid_from DESC LIMIT 1)`,
		p.SKUType, p.SKUKind, p.ResourceID, p.UnitType, string(p.Currency), p.ValidFrom).Scan(&latest); err != nil {
		return err
	}
	if latest != nil && !latest.Before(p.ValidFrom) {
		return store.PriceTooEarly(i, p, *latest)
	}
	return nil
}

const priceColumns = `id, sku_type, sku_kind, resource_id, unit_type, currency, unit, model, unit_price, params, description, valid_from,
	revision, created_at`

func scanPrice(row pgx.Row) (abacus.Price, error) {
	var p abacus.Price
	var price, params string
	if err := row.Scan(&p.ID, &p.SKUType, &p.SKUKind, &p.ResourceID, &p.UnitType, &p.Currency, &p.Unit, &p.Model, &price, &params,
		&p.Desc, &p.ValidFrom, &p.Revision, &p.CreatedAt); err != nil {
		return p, err
	}
	p.ValidFrom, p.CreatedAt = p.ValidFrom.UTC(), p.CreatedAt.UTC()
	var err error
	if p.UnitPrice, err = decimal.NewFromString(price); err != nil {
		return p, fmt.Errorf("postgres: price %d: %w", p.ID, err)
	}
	return p, store.DecodePriceParams(params, &p)
}

// PriceBookVersion implements abacus.Store.
func (s *Store) PriceBookVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT version FROM price_book`).Scan(&v)
	return v, err
}

// PriceBookLoad implements abacus.Store. It reads one snapshot.
func (s *Store) PriceBookLoad(ctx context.Context) (*abacus.PriceBook, error) {
	b := &abacus.PriceBook{}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT version, (SELECT zone FROM billing_zone) FROM price_book`).Scan(&b.Version, &b.Zone); err != nil {
			return err
		}
		var err error
		if b.Prices, err = loadPrices(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT resource, effective_from, level FROM burst_levels ORDER BY resource, effective_from`)
		if b.Levels, err = collect(rows, err, func(row pgx.Row) (abacus.BurstLevel, error) {
			var l abacus.BurstLevel
			err := row.Scan(&l.Resource, &l.EffectiveFrom, &l.Level)
			l.EffectiveFrom = l.EffectiveFrom.UTC()
			return l, err
		}); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, commitmentsQuery)
		b.Commitments, err = collect(rows, err, scanCommitment)
		return err
	})
	return b, err
}

// Events implements abacus.Store.
func (s *Store) Events(ctx context.Context, q abacus.EventQuery) ([]abacus.StoredEvent, error) {
	query, args, err := eventsQuery(q)
	if err != nil {
		return nil, err
	}
	if q.Account != "" || len(q.IDs) > 0 {
		rows, err := s.pool.Query(ctx, query, args...)
		out, err := collectCapped(rows, err, scanEvent, (*abacus.StoredEvent).TextBytes, q.MaxBytes)
		if err != nil || len(out) > 0 || q.Account == "" || q.AfterSeq <= 0 {
			return out, err
		}
		var own bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM usage_events WHERE seq = $1 AND account_id = $2)`, q.AfterSeq, string(q.Account)).Scan(&own); err != nil {
			return nil, err
		}
		if !own {
			return nil, store.NotAPosition(q)
		}
		return out, nil
	}
	// All accounts' events, in the order stored, are paged by seq, which a
	// batch takes as it inserts; batches commit side by side, so a page
	// read while one with lower seqs is in flight would pass them for good
	// (QA: thousands of 31,000 missed by a client following the listing).
	// Usage batches hold the book's lock shared until they commit: taken
	// here, it waits for those in flight and holds new ones back for the
	// read.
	var out []abacus.StoredEvent
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.locks.book); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, query, args...)
		out, err = collectCapped(rows, err, scanEvent, (*abacus.StoredEvent).TextBytes, q.MaxBytes)
		return err
	})
	return out, err
}

// eventsQuery is the statement that answers q.
func eventsQuery(q abacus.EventQuery) (string, []any, error) {
	if err := store.CheckLimit(q.Limit); err != nil {
		return "", nil, err
	}
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	// An account's events come in event-time order, paged from the position
	// of the last one seen; all accounts' in the order they were stored,
	// or by time as an account's if asked.
	order := "seq"
	if q.Account != "" {
		order = "event_time, seq"
		add("account_id = $%d", string(q.Account))
		if q.AfterSeq > 0 {
			// Only a position of the account's own ($1): another's placed
			// that event among the account's by time (QA).
			add("(event_time, seq) > (SELECT event_time, seq FROM usage_events WHERE seq = $%d AND account_id = $1)", q.AfterSeq)
		}
	} else if q.ByTime {
		order = "event_time, seq"
		where = append(where, "true")
		if q.AfterSeq > 0 {
			add("(event_time, seq) > (SELECT event_time, seq FROM usage_events WHERE seq = $%d)", q.AfterSeq)
		}
	} else {
		add("seq > $%d", q.AfterSeq)
	}
	if len(q.IDs) > 0 {
		add("id = ANY($%d)", q.IDs)
	}
	if q.Status != "" {
		cond, err := store.StatusCondition(q.Status)
		if err != nil {
			return "", nil, err
		}
		where = append(where, cond)
	}
	if q.Uncommitted {
		where = append(where, "uncommitted")
	}
	if !q.From.IsZero() {
		add("event_time >= $%d", q.From)
	}
	if !q.To.IsZero() {
		add("event_time < $%d", q.To)
	}
	args = append(args, q.Limit)
	return `SELECT ` + eventColumns + ` FROM usage_events WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(` ORDER BY %s LIMIT $%d`, order, len(args)), args, nil
}

// EachRollup implements abacus.Store.
func (s *Store) EachRollup(ctx context.Context, q abacus.RollupQuery, fn func(abacus.Rollup) error) error {
	rows, err := s.pool.Query(ctx, `SELECT `+rollupColumns+` FROM usage_rollups
		WHERE account_id = $1 AND bucket >= $2 AND bucket < $3 ORDER BY bucket, scene, resource_id, customer_id`,
		string(q.Account), q.From, q.To)
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

func scanRollup(row pgx.Row) (abacus.Rollup, error) {
	var r abacus.Rollup
	var amount int64
	err := row.Scan(&r.Account, &r.Bucket, &r.Scene, &r.ResourceID, &r.CustomerID, &r.Currency, &r.Quantity, &amount, &r.Events, &r.UnpricedQuantity, &r.UnpricedEvents)
	r.Bucket, r.Amount = r.Bucket.UTC(), abacus.AmountFromMicros(amount)
	return r, err
}

// DeadLetterAdd implements abacus.Store.
func (s *Store) DeadLetterAdd(ctx context.Context, d abacus.DeadLetter) (bool, error) {
	return s.deadLetterAdd(ctx, d, nil)
}

// deadLetterAdd is DeadLetterAdd; a test's beforeCommit holds the insert
// in flight.
func (s *Store) deadLetterAdd(ctx context.Context, d abacus.DeadLetter, beforeCommit func()) (bool, error) {
	var key *string
	if d.Key != "" {
		key = &d.Key
	}
	headers, err := store.EncodeHeaders(d.Headers)
	if err != nil {
		return false, err
	}
	added := false
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, s.locks.deadLetters); err != nil {
			return err
		}
		ct, err := tx.Exec(ctx, `INSERT INTO dead_letters (key, source, subject, reason, payload, headers, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (key) DO NOTHING`, key, d.Source, d.Subject, d.Reason, d.Payload, headers, d.ReceivedAt)
		added = ct.RowsAffected() > 0
		if err == nil && beforeCommit != nil {
			beforeCommit()
		}
		return err
	})
	if err != nil || added || key == nil {
		return false, err
	}
	// Stored before: whether it was published. (A statement of its own:
	// it sees the letter even if another transaction committed it after
	// the insert's snapshot was taken.)
	var published bool
	err = s.pool.QueryRow(ctx, `SELECT published_at IS NOT NULL FROM dead_letters WHERE key = $1`, d.Key).Scan(&published)
	return published, err
}

// DeadLetterPublished implements abacus.Store.
func (s *Store) DeadLetterPublished(ctx context.Context, key string, at time.Time) error {
	ct, err := s.pool.Exec(ctx, `UPDATE dead_letters SET published_at = COALESCE(published_at, $1) WHERE key = $2`, at, key)
	if err == nil && ct.RowsAffected() == 0 {
		return notFound("dead letter", key)
	}
	return err
}

// DeadLetters implements abacus.Store.
func (s *Store) DeadLetters(ctx context.Context, afterID int64, limit int) ([]abacus.DeadLetter, error) {
	if err := store.CheckLimit(limit); err != nil {
		return nil, err
	}
	// Letters are paged by id, which an insert takes before it commits;
	// inserts of several processes commit side by side, so a page read
	// while one with a lower id is in flight would pass it for good (QA:
	// 475 of 60,000 missed by a client following the list). Inserts hold
	// the dead letters' lock shared until they commit: taken here, it waits for
	// those in flight and holds new ones back for the read.
	var out []abacus.DeadLetter
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.locks.deadLetters); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, COALESCE(key, ''), source, subject, reason, payload, headers, received_at, published_at
			FROM dead_letters WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
		out, err = collectCapped(rows, err, func(row pgx.Row) (abacus.DeadLetter, error) {
			var d abacus.DeadLetter
			var headers string
			var published *time.Time
			if err := row.Scan(&d.ID, &d.Key, &d.Source, &d.Subject, &d.Reason, &d.Payload, &headers, &d.ReceivedAt, &published); err != nil {
				return d, err
			}
			d.ReceivedAt, d.PublishedAt = d.ReceivedAt.UTC(), fromNullTime(published)
			d.Headers, err = store.DecodeHeaders(headers)
			return d, err
		}, (*abacus.DeadLetter).Bytes, abacus.MaxDeadLetterPage)
		return err
	})
	return out, err
}

// Outbox implements abacus.Store.
func (s *Store) Outbox(ctx context.Context, afterID int64, limit int) ([]abacus.OutboxMessage, error) {
	if err := store.CheckLimit(limit); err != nil {
		return nil, err
	}
	// Paged by id, as the dead letters are, and for the same reason
	// waiting for the batches writing messages: see lockKeys.outbox.
	var out []abacus.OutboxMessage
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.locks.outbox); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, kind, account_id, payload, created_at FROM outbox WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
		out, err = collect(rows, err, func(row pgx.Row) (abacus.OutboxMessage, error) {
			var o abacus.OutboxMessage
			var at time.Time
			err := row.Scan(&o.ID, &o.Kind, &o.Account, &o.Payload, &at)
			o.CreatedAt = at.UTC()
			return o, err
		})
		return err
	})
	return out, err
}
