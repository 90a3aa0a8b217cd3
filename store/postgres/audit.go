package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/abacus-billing/abacus"
)

// Audit implements abacus.Auditor: fn reads one REPEATABLE READ snapshot.
func (s *Store) Audit(ctx context.Context, fn func(abacus.AuditReader) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		return fn(&auditReader{ctx, tx})
	})
}

type auditReader struct {
	ctx context.Context
	tx  pgx.Tx
}

func each[T any](r *auditReader, q string, scan func(pgx.Row) (T, error), fn func(T) error) error {
	rows, err := r.tx.Query(r.ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (r *auditReader) Accounts(fn func(abacus.Account) error) error {
	return each(r, `SELECT `+accountColumns+` FROM accounts ORDER BY id`, scanAccount, fn)
}

func (r *auditReader) Wallets(fn func(abacus.Wallet) error) error {
	return each(r, `SELECT `+walletColumns+` FROM wallets ORDER BY id`, scanWallet, fn)
}

func (r *auditReader) PostingsByWallet(fn func(abacus.Posting) error) error {
	return each(r, `SELECT `+orphanPostingColumns+` FROM postings p LEFT JOIN wallets w ON w.id = p.wallet_id ORDER BY p.wallet_id, p.version`, scanPostingRow, fn)
}

func (r *auditReader) PostingsByTx(fn func(abacus.Posting) error) error {
	return each(r, `SELECT `+orphanPostingColumns+` FROM postings p LEFT JOIN wallets w ON w.id = p.wallet_id ORDER BY p.tx_id, p.wallet_id`, scanPostingRow, fn)
}

func (r *auditReader) Transactions(fn func(abacus.Transaction) error) error {
	return each(r, `SELECT id, type, memo, reverts, hold_id, created_at FROM transactions ORDER BY id`, scanTransaction, fn)
}

// Holds streams holds in batches of a thousand, each with its legs.
func (r *auditReader) Holds(fn func(abacus.Hold) error) error {
	var after int64
	for {
		rows, err := r.tx.Query(r.ctx, `SELECT `+holdColumns+` FROM holds WHERE id > $1 ORDER BY id LIMIT 1000`, after)
		hs, err := collect(rows, err, scanHold)
		if err != nil || len(hs) == 0 {
			return err
		}
		if err := attachLegs(r.ctx, r.tx, hs); err != nil {
			return err
		}
		for _, h := range hs {
			if err := fn(h); err != nil {
				return err
			}
		}
		after = hs[len(hs)-1].ID
	}
}

func (r *auditReader) Idempotency(fn func(abacus.IdempotencyRecord) error) error {
	return each(r, `SELECT key, request_hash, tx_id, hold_id, created_at FROM idempotency_keys ORDER BY key`, scanIdempotency, fn)
}

// orphanPostingColumns reads postings whose wallet may be missing, so the
// audit sees a posting that names no wallet instead of skipping it.
const orphanPostingColumns = `p.tx_id, p.wallet_id, COALESCE(w.account_id, ''), COALESCE(w.bucket, ''), COALESCE(w.currency, ''),
	p.amount, p.balance_after, p.version`

func (r *auditReader) Events(fn func(abacus.StoredEvent) error) error {
	return each(r, `SELECT `+eventColumns+` FROM usage_events ORDER BY seq`, scanEvent, fn)
}

func (r *auditReader) Rollups(fn func(abacus.Rollup) error) error {
	return each(r, `SELECT `+rollupColumns+` FROM usage_rollups ORDER BY account_id, bucket, scene, resource_id, customer_id`, scanRollup, fn)
}

func (r *auditReader) MonthsPaid(fn func(abacus.MonthPaid) error) error {
	return each(r, `SELECT `+monthPaidColumns+` FROM usage_paid ORDER BY account_id, currency, period, resource_id`, scanMonthPaid, fn)
}

// Carries lists the account-wide carries from before periods (the zero
// Period) first.
func (r *auditReader) Carries(fn func(abacus.Carry) error) error {
	if err := each(r, `SELECT account_id, residue FROM usage_carry ORDER BY account_id`, func(row pgx.Row) (abacus.Carry, error) {
		var c abacus.Carry
		err := row.Scan(&c.Account, &c.Residue)
		return c, err
	}, fn); err != nil {
		return err
	}
	return each(r, `SELECT `+carryColumns+` FROM usage_carry_periods ORDER BY account_id, period`, scanCarry, fn)
}

func (r *auditReader) Prices(fn func(abacus.Price) error) error {
	return each(r, `SELECT `+priceColumns+` FROM prices ORDER BY id`, scanPrice, fn)
}

func (r *auditReader) Commitments(fn func(abacus.Commitment) error) error {
	return each(r, commitmentsQuery, scanCommitment, fn)
}

func (r *auditReader) PriceUses(fn func(abacus.PriceUse) error) error {
	return each(r, `SELECT price_id, shard, latest FROM price_uses ORDER BY price_id, shard`, func(row pgx.Row) (abacus.PriceUse, error) {
		var u abacus.PriceUse
		err := row.Scan(&u.PriceID, &u.Shard, &u.Latest)
		u.Latest = u.Latest.UTC()
		return u, err
	}, fn)
}

func (r *auditReader) Counters(fn func(abacus.UsageCounter) error) error {
	return each(r, `SELECT account_id, price_key, currency, period, quantity, COALESCE(price_id, 0) FROM usage_counters ORDER BY account_id, price_key, currency, period`,
		scanCounter, fn)
}

func (r *auditReader) Reprices(fn func(abacus.Reprice) error) error {
	return each(r, `SELECT `+repriceColumns+` FROM usage_reprices ORDER BY id`, scanReprice, fn)
}

// rollupDiffs compares every rollup row with what the events of its key
// sum to, in the database: the events' sums by key, each looked up among
// the rollups, then the rollups no event has the key of. The keys' text
// compares byte by byte, as the rollups' columns do (COLLATE "C").
const rollupDiffs = `WITH e AS (
	SELECT account_id COLLATE "C" AS account_id, date_bin('15 minutes', event_time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, scene,
		resource_id COLLATE "C" AS resource_id, customer_id COLLATE "C" AS customer_id, MIN(currency) AS currency,
		SUM(CASE WHEN status = 'voided' THEN 0 ELSE value END) AS quantity,
		SUM(CASE WHEN status = 'voided' THEN charged - refunded ELSE charged END) AS amount,
		COUNT(*) FILTER (WHERE status <> 'voided') AS events,
		SUM(CASE WHEN status = 'unpriced' THEN value ELSE 0 END) AS unpriced_quantity,
		COUNT(*) FILTER (WHERE status = 'unpriced') AS unpriced_events
	FROM usage_events GROUP BY 1, 2, 3, 4, 5)
SELECT e.account_id, e.bucket, e.scene, e.resource_id, e.customer_id,
	r.currency, r.quantity, r.amount, r.events, r.unpriced_quantity, r.unpriced_events,
	e.currency, e.quantity::bigint, e.amount::bigint, e.events, e.unpriced_quantity::bigint, e.unpriced_events
FROM e LEFT JOIN usage_rollups r ON r.account_id = e.account_id AND r.bucket = e.bucket AND r.scene = e.scene
	AND r.resource_id = e.resource_id AND r.customer_id = e.customer_id
WHERE r.account_id IS NULL OR r.currency <> e.currency OR r.quantity <> e.quantity OR r.amount <> e.amount OR r.events <> e.events
	OR r.unpriced_quantity <> e.unpriced_quantity OR r.unpriced_events <> e.unpriced_events
UNION ALL
SELECT account_id COLLATE "C", bucket, scene, resource_id, customer_id, currency, quantity, amount, events, unpriced_quantity, unpriced_events,
	NULL, NULL, NULL, NULL, NULL, NULL
FROM usage_rollups r WHERE NOT EXISTS (SELECT 1 FROM usage_events x WHERE x.account_id = r.account_id
	AND x.event_time >= r.bucket AND x.event_time < r.bucket + INTERVAL '15 minutes'
	AND x.scene = r.scene AND x.resource_id = r.resource_id AND x.customer_id = r.customer_id)
ORDER BY 1, 2, 3, 4, 5`

func (r *auditReader) RollupDiffs(fn func(abacus.RollupDiff) error) error {
	return each(r, rollupDiffs, func(row pgx.Row) (abacus.RollupDiff, error) {
		var k abacus.Rollup
		var side [2]struct {
			currency                                                  *string
			quantity, amount, count, unpricedQuantity, unpricedEvents *int64
		}
		dest := []any{&k.Account, &k.Bucket, &k.Scene, &k.ResourceID, &k.CustomerID}
		for i := range side {
			s := &side[i]
			dest = append(dest, &s.currency, &s.quantity, &s.amount, &s.count, &s.unpricedQuantity, &s.unpricedEvents)
		}
		var d abacus.RollupDiff
		if err := row.Scan(dest...); err != nil {
			return d, err
		}
		k.Bucket = k.Bucket.UTC()
		for i, out := range []**abacus.Rollup{&d.Stored, &d.Events} {
			if s := side[i]; s.currency != nil {
				r := k
				r.Currency, r.Quantity, r.Amount, r.Events = abacus.Currency(*s.currency), *s.quantity, abacus.AmountFromMicros(*s.amount), *s.count
				r.UnpricedQuantity, r.UnpricedEvents = *s.unpricedQuantity, *s.unpricedEvents
				*out = &r
			}
		}
		return d, nil
	}, fn)
}

func (r *auditReader) BillingZone() (string, error) {
	var zone string
	err := r.tx.QueryRow(r.ctx, `SELECT zone FROM billing_zone`).Scan(&zone)
	return zone, err
}
