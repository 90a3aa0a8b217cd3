package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/store"
)

const eventColumns = `seq, id, account_id, scene, value_type, value, op_uid, resource_id, resource_name, customer_id,
	event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, tx_id, void_tx_id, refunded, cost, drawn_estimated, uncommitted`

func scanEvent(row pgx.Row) (abacus.StoredEvent, error) {
	var e abacus.StoredEvent
	var charged, cash, bonus, voucher, refunded int64
	var prices string
	var tx, void *int64
	var cost *string
	err := row.Scan(&e.Seq, &e.ID, &e.Account, &e.Scene, &e.ValueType, &e.Value, &e.OpUID, &e.ResourceID, &e.ResourceName, &e.CustomerID,
		&e.Time, &e.ReceivedAt, &e.Extra, &e.Status, &e.Currency, &charged, &cash, &bonus, &voucher, &prices, &tx, &void, &refunded, &cost, &e.DrawnEstimated, &e.Uncommitted)
	if err != nil {
		return e, err
	}
	e.Time, e.ReceivedAt = e.Time.UTC(), e.ReceivedAt.UTC()
	e.Charged, e.Refunded = abacus.AmountFromMicros(charged), abacus.AmountFromMicros(refunded)
	e.Drawn = store.Drawn(cash, bonus, voucher)
	if tx != nil {
		e.TxID = *tx
	}
	if void != nil {
		e.VoidTxID = *void
	}
	if e.PriceIDs, err = store.ParseIDs(prices); err != nil {
		return e, err
	}
	return e, store.ParseCost(&e, cost)
}

// queueUsageReads adds the usage half of ReadBatch to b.
func queueUsageReads(b *pgx.Batch, r abacus.BatchReads, st *abacus.BatchState) {
	if len(r.EventIDs) > 0 {
		queueRows(b, &st.Seen, scanEvent, `SELECT `+eventColumns+` FROM usage_events WHERE id = ANY($1)`, r.EventIDs)
	}
	if len(r.Targets) > 0 {
		queueRows(b, &st.Stored, scanEvent, `SELECT `+eventColumns+` FROM usage_events WHERE id = ANY($1) ORDER BY seq`, r.Targets)
	}
	if n := len(r.Slots); n > 0 {
		scenes, customers, minutes := make([]int32, n), make([]string, n), make([]time.Time, n)
		for i, s := range r.Slots {
			scenes[i], customers[i], minutes[i] = int32(s.Scene), s.CustomerID, s.Minute
		}
		queueRows(b, &st.Taken, scanSlot, `SELECT m.scene, m.customer_id, m.minute, m.event_id FROM usage_minutes m
			JOIN unnest($1::int[], $2::text[], $3::timestamptz[]) AS u(scene, customer_id, minute)
			ON m.scene = u.scene AND m.customer_id = u.customer_id AND m.minute = u.minute`, scenes, customers, minutes)
	}
	if r.Book {
		b.Queue(`SELECT version FROM price_book`).QueryRow(func(row pgx.Row) error { return row.Scan(&st.BookVersion) })
	}
	if n := len(r.Counters); n > 0 {
		accts, keys, curs, periods := make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n)
		for i, c := range r.Counters {
			accts[i], keys[i], curs[i], periods[i] = string(c.Account), c.Key, string(c.Currency), c.Period
		}
		queueRows(b, &st.Counters, scanCounter, `SELECT c.account_id, c.price_key, c.currency, c.period, c.quantity, COALESCE(c.price_id, 0) FROM usage_counters c
			JOIN unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS u(account_id, price_key, currency, period)
			ON c.account_id = u.account_id AND c.price_key = u.price_key AND c.currency = u.currency AND c.period = u.period`, accts, keys, curs, periods)
	}
	if n := len(r.Carries); n > 0 {
		accts, periods := make([]string, n), make([]time.Time, n)
		for i, c := range r.Carries {
			accts[i], periods[i] = string(c.Account), c.Period
		}
		queueRows(b, &st.Carries, scanCarry, `SELECT `+carryColumns+` FROM usage_carry_periods
			JOIN unnest($1::text[], $2::timestamptz[]) AS k(acct, start) ON account_id = k.acct AND period = k.start`, accts, periods)
	}
}

func scanSlot(row pgx.Row) (abacus.MinuteSlot, error) {
	var s abacus.MinuteSlot
	err := row.Scan(&s.Scene, &s.CustomerID, &s.Minute, &s.EventID)
	s.Minute = s.Minute.UTC()
	return s, err
}

func scanCounter(row pgx.Row) (abacus.UsageCounter, error) {
	var c abacus.UsageCounter
	err := row.Scan(&c.Account, &c.Key, &c.Currency, &c.Period, &c.Quantity, &c.PriceID)
	c.Period = c.Period.UTC()
	return c, err
}

const carryColumns = `account_id, period, residue, shared`

func scanCarry(row pgx.Row) (abacus.Carry, error) {
	var c abacus.Carry
	err := row.Scan(&c.Account, &c.Period, &c.Residue, &c.Shared)
	c.Period = c.Period.UTC()
	return c, err
}

// queueUsage adds the usage half of a batch's writes to the pipeline.
func queueUsage(b *pgx.Batch, c *abacus.Changes, locks *lockKeys) {
	if n := len(c.Events); n > 0 {
		ids, accts, ops, res, names, custs, extras, statuses, curs, prices := make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		scenes, vtypes := make([]int32, n), make([]int32, n)
		values, charged, cash, bonus, voucher, txs := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		times, recv := make([]time.Time, n), make([]time.Time, n)
		costs := make([]*string, n)
		uncommitted := make([]bool, n)
		for i, e := range c.Events {
			costs[i], uncommitted[i] = store.FormatCost(&e), e.Uncommitted
			ids[i], accts[i], ops[i], res[i], names[i], custs[i], extras[i] = e.ID, string(e.Account), e.OpUID, e.ResourceID, e.ResourceName, e.CustomerID, e.Extra
			statuses[i], curs[i], prices[i] = string(e.Status), string(e.Currency), store.FormatIDs(e.PriceIDs)
			scenes[i], vtypes[i], values[i] = int32(e.Scene), int32(e.ValueType), e.Value
			charged[i], cash[i], bonus[i], voucher[i], txs[i] = e.Charged.Micros(), e.Drawn.Cash.Micros(), e.Drawn.Bonus.Micros(), e.Drawn.Voucher.Micros(), e.TxID
			times[i], recv[i] = e.Time, e.ReceivedAt
		}
		b.Queue(`INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name, customer_id,
			event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, tx_id, cost, uncommitted)
			SELECT id, account_id, scene, value_type, value, op_uid, resource_id, resource_name, customer_id,
				event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, NULLIF(tx_id, 0), cost, uncommitted
			FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[],
				$10::timestamptz[], $11::timestamptz[], $12::text[], $13::text[], $14::text[], $15::bigint[], $16::bigint[], $17::bigint[],
				$18::bigint[], $19::text[], $20::bigint[], $21::text[], $22::bool[])
			AS u(id, account_id, scene, value_type, value, op_uid, resource_id, resource_name, customer_id, event_time, received_at, extra,
				status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, tx_id, cost, uncommitted)`,
			ids, accts, scenes, vtypes, values, ops, res, names, custs, times, recv, extras, statuses, curs, charged, cash, bonus, voucher, prices, txs, costs,
			uncommitted)
	}
	if n := len(c.EventUpdates); n > 0 {
		ids, statuses, prices := make([]string, n), make([]string, n), make([]string, n)
		charged, cash, bonus, voucher, txs, voids, refunded := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n),
			make([]int64, n), make([]int64, n)
		costs := make([]*string, n)
		uncommitted := make([]bool, n)
		for i, e := range c.EventUpdates {
			costs[i], uncommitted[i] = store.FormatCost(&e), e.Uncommitted
			ids[i], statuses[i], prices[i] = e.ID, string(e.Status), store.FormatIDs(e.PriceIDs)
			charged[i], cash[i], bonus[i], voucher[i], txs[i], voids[i] = e.Charged.Micros(), e.Drawn.Cash.Micros(), e.Drawn.Bonus.Micros(), e.Drawn.Voucher.Micros(), e.TxID, e.VoidTxID
			refunded[i] = e.Refunded.Micros()
		}
		b.Queue(`WITH updated AS (UPDATE usage_events e SET status = u.status, charged = u.charged, drawn_cash = u.cash, drawn_bonus = u.bonus,
			drawn_voucher = u.voucher, price_ids = u.prices, tx_id = NULLIF(u.tx, 0), void_tx_id = NULLIF(u.void, 0), refunded = u.refunded,
			cost = u.cost, uncommitted = u.uncommitted
			FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[],
				$11::text[], $12::bool[])
			AS u(id, status, charged, cash, bonus, voucher, prices, tx, void, refunded, cost, uncommitted) WHERE e.id = u.id RETURNING 1)
			SELECT abacus_expect_rows(count(*), $13, 'usage events updated', false) FROM updated`,
			ids, statuses, charged, cash, bonus, voucher, prices, txs, voids, refunded, costs, uncommitted, n)
	}
	if n := len(c.Counters); n > 0 {
		accts, keys, curs, periods := make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n)
		qs, versions := make([]int64, n), make([]int64, n)
		for i, u := range c.Counters {
			accts[i], keys[i], curs[i], periods[i], qs[i], versions[i] = string(u.Account), u.Key, string(u.Currency), u.Period, u.Quantity, u.PriceID
		}
		b.Queue(`INSERT INTO usage_counters (account_id, price_key, currency, period, quantity, price_id)
			SELECT a, k, c, p, q, NULLIF(v, 0) FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[], $6::bigint[]) AS u(a, k, c, p, q, v)
			ON CONFLICT (account_id, price_key, currency, period) DO UPDATE SET quantity = usage_counters.quantity + excluded.quantity,
				price_id = COALESCE(excluded.price_id, usage_counters.price_id)`,
			accts, keys, curs, periods, qs, versions)
	}
	if n := len(c.Paid); n > 0 {
		// In the order of c.Paid, as the counters: batches that race for
		// the same rows lock them in one order.
		accts, curs, periods, resources := make([]string, n), make([]string, n), make([]time.Time, n), make([]string, n)
		cash, bonus, voucher := make([]int64, n), make([]int64, n), make([]int64, n)
		for i, p := range c.Paid {
			accts[i], curs[i], periods[i], resources[i] = string(p.Account), string(p.Currency), p.Period, p.ResourceID
			cash[i], bonus[i], voucher[i] = p.Paid.Cash.Micros(), p.Paid.Bonus.Micros(), p.Paid.Voucher.Micros()
		}
		b.Queue(`INSERT INTO usage_paid (account_id, currency, period, resource_id, cash, bonus, voucher)
			SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[])
			ON CONFLICT (account_id, currency, period, resource_id) DO UPDATE SET cash = usage_paid.cash + excluded.cash,
				bonus = usage_paid.bonus + excluded.bonus, voucher = usage_paid.voucher + excluded.voucher`,
			accts, curs, periods, resources, cash, bonus, voucher)
	}
	if n := len(c.Carries); n > 0 {
		accts, periods, residues := make([]string, n), make([]time.Time, n), make([]string, n)
		for i, cr := range c.Carries {
			accts[i], periods[i], residues[i] = string(cr.Account), cr.Period, cr.Residue
		}
		b.Queue(`INSERT INTO usage_carry_periods (account_id, period, residue) SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[])
			ON CONFLICT (account_id, period) DO UPDATE SET residue = excluded.residue`, accts, periods, residues)
	}
	if n := len(c.Rollups); n > 0 {
		accts, res, custs, curs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		buckets, scenes := make([]time.Time, n), make([]int32, n)
		qs, amounts, events := make([]int64, n), make([]int64, n), make([]int64, n)
		unpricedQs, unpricedEvents := make([]int64, n), make([]int64, n)
		for i, r := range c.Rollups {
			accts[i], res[i], custs[i], curs[i], buckets[i], scenes[i] = string(r.Account), r.ResourceID, r.CustomerID, string(r.Currency), r.Bucket, int32(r.Scene)
			qs[i], amounts[i], events[i], unpricedQs[i], unpricedEvents[i] = r.Quantity, r.Amount.Micros(), r.Events, r.UnpricedQuantity, r.UnpricedEvents
		}
		b.Queue(`INSERT INTO usage_rollups (`+rollupColumns+`)
			SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::int[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[],
				$10::bigint[], $11::bigint[])
			ON CONFLICT (account_id, bucket, scene, resource_id, customer_id) DO UPDATE SET quantity = usage_rollups.quantity + excluded.quantity,
				amount = usage_rollups.amount + excluded.amount, events = usage_rollups.events + excluded.events,
				unpriced_quantity = usage_rollups.unpriced_quantity + excluded.unpriced_quantity,
				unpriced_events = usage_rollups.unpriced_events + excluded.unpriced_events`,
			accts, buckets, scenes, res, custs, curs, qs, amounts, events, unpricedQs, unpricedEvents)
	}
	if n := len(c.FreedMinutes); n > 0 {
		scenes, custs, ids, minutes := make([]int32, n), make([]string, n), make([]string, n), make([]time.Time, n)
		for i, m := range c.FreedMinutes {
			scenes[i], custs[i], ids[i], minutes[i] = int32(m.Scene), m.CustomerID, m.EventID, m.Minute
		}
		b.Queue(`DELETE FROM usage_minutes m USING unnest($1::int[], $2::text[], $3::timestamptz[], $4::text[]) AS u(scene, customer_id, minute, event_id)
			WHERE m.scene = u.scene AND m.customer_id = u.customer_id AND m.minute = u.minute AND m.event_id = u.event_id`,
			scenes, custs, minutes, ids)
	}
	if n := len(c.Minutes); n > 0 {
		scenes, custs, ids, minutes := make([]int32, n), make([]string, n), make([]string, n), make([]time.Time, n)
		for i, m := range c.Minutes {
			scenes[i], custs[i], ids[i], minutes[i] = int32(m.Scene), m.CustomerID, m.EventID, m.Minute
		}
		b.Queue(`INSERT INTO usage_minutes (scene, customer_id, minute, event_id) SELECT * FROM unnest($1::int[], $2::text[], $3::timestamptz[], $4::text[])`,
			scenes, custs, minutes, ids)
	}
	if n := len(c.PriceUses); n > 0 {
		ids, shards, latest := make([]int64, n), make([]int32, n), make([]time.Time, n)
		for i, u := range c.PriceUses {
			ids[i], shards[i], latest[i] = u.PriceID, int32(u.Shard), u.Latest
		}
		b.Queue(`INSERT INTO price_uses (price_id, shard, latest) SELECT * FROM unnest($1::bigint[], $2::int[], $3::timestamptz[])
			ON CONFLICT (price_id, shard) DO UPDATE SET latest = excluded.latest WHERE price_uses.latest < excluded.latest`, ids, shards, latest)
	}
	if n := len(c.Reprices); n > 0 {
		seqs, eventTxs, txs, amounts := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		accts, curs, prices, ats := make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n)
		for i, r := range c.Reprices {
			seqs[i], eventTxs[i], txs[i], amounts[i] = r.EventSeq, r.EventTxID, r.TxID, r.Amount.Micros()
			accts[i], curs[i], prices[i], ats[i] = string(r.Account), string(r.Currency), store.FormatIDs(r.PriceIDs), r.CreatedAt
		}
		// WITH ORDINALITY: ids are handed out in the order of c.Reprices.
		b.Queue(`INSERT INTO usage_reprices (event_seq, account_id, currency, event_tx_id, tx_id, amount, price_ids, created_at)
			SELECT seq, account_id, currency, NULLIF(event_tx, 0), NULLIF(tx, 0), amount, price_ids, created_at
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::timestamptz[]) WITH ORDINALITY
			AS u(seq, account_id, currency, event_tx, tx, amount, price_ids, created_at, n) ORDER BY n`,
			seqs, accts, curs, eventTxs, txs, amounts, prices, ats)
	}
	if n := len(c.Outbox); n > 0 {
		kinds, accts, payloads, ats := make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n)
		for i, o := range c.Outbox {
			kinds[i], accts[i], payloads[i], ats[i] = o.Kind, string(o.Account), o.Payload, o.CreatedAt
		}
		// Last, once every row lock of the batch is held: the lock orders
		// the messages' ids before their listing (see Outbox).
		b.Queue(`SELECT pg_advisory_xact_lock_shared($1)`, locks.outbox)
		b.Queue(`INSERT INTO outbox (kind, account_id, payload, created_at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])`,
			kinds, accts, payloads, ats)
	}
}

const repriceColumns = `event_seq, account_id, currency, event_tx_id, tx_id, amount, price_ids, created_at`

func scanReprice(row pgx.Row) (abacus.Reprice, error) {
	var r abacus.Reprice
	var eventTx, tx *int64
	var amount int64
	var prices string
	if err := row.Scan(&r.EventSeq, &r.Account, &r.Currency, &eventTx, &tx, &amount, &prices, &r.CreatedAt); err != nil {
		return r, err
	}
	if eventTx != nil {
		r.EventTxID = *eventTx
	}
	if tx != nil {
		r.TxID = *tx
	}
	r.Amount, r.CreatedAt = abacus.AmountFromMicros(amount), r.CreatedAt.UTC()
	var err error
	r.PriceIDs, err = store.ParseIDs(prices)
	return r, err
}

// MonthPaid implements abacus.WriteTx: the rows of usage_paid of an
// account's month, by resource.
func (t *writeTx) MonthPaid(ctx context.Context, account abacus.AccountID, currency abacus.Currency, period time.Time) (map[string]abacus.Drawn, error) {
	rows, err := t.query(ctx, `SELECT resource_id, cash, bonus, voucher FROM usage_paid WHERE account_id = $1 AND currency = $2 AND period = $3`,
		string(account), string(currency), period)
	ps, err := collect(rows, err, scanResourcePaid)
	if err != nil {
		return nil, err
	}
	paid := make(map[string]abacus.Drawn, len(ps))
	for _, p := range ps {
		paid[p.resource] = p.paid
	}
	return paid, nil
}

type resourcePaid struct {
	resource string
	paid     abacus.Drawn
}

func scanResourcePaid(row pgx.Row) (resourcePaid, error) {
	var p resourcePaid
	var cash, bonus, voucher int64
	err := row.Scan(&p.resource, &cash, &bonus, &voucher)
	p.paid = store.Drawn(cash, bonus, voucher)
	return p, err
}

const monthPaidColumns = `account_id, currency, period, resource_id, cash, bonus, voucher`

func scanMonthPaid(row pgx.Row) (abacus.MonthPaid, error) {
	var p abacus.MonthPaid
	var cash, bonus, voucher int64
	err := row.Scan(&p.Account, &p.Currency, &p.Period, &p.ResourceID, &cash, &bonus, &voucher)
	p.Period, p.Paid = p.Period.UTC(), store.Drawn(cash, bonus, voucher)
	return p, err
}
