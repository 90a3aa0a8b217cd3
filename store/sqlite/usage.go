package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/store"
)

const eventColumns = `seq, id, account_id, scene, value_type, value, op_uid, resource_id, resource_name, customer_id,
	event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, tx_id, void_tx_id, refunded, cost, drawn_estimated, uncommitted`

func scanEvent(sc interface{ Scan(...any) error }) (abacus.StoredEvent, error) {
	var e abacus.StoredEvent
	var at, recv, charged, cash, bonus, voucher, refunded int64
	var key any
	var prices string
	var tx, void sql.NullInt64
	var cost *string
	err := sc.Scan(&e.Seq, &key, &e.Account, &e.Scene, &e.ValueType, &e.Value, &e.OpUID, &e.ResourceID, &e.ResourceName, &e.CustomerID,
		&at, &recv, &e.Extra, &e.Status, &e.Currency, &charged, &cash, &bonus, &voucher, &prices, &tx, &void, &refunded, &cost, &e.DrawnEstimated, &e.Uncommitted)
	if err != nil {
		return e, err
	}
	e.ID = eventID(key)
	e.Time, e.ReceivedAt = fromMicros(at), fromMicros(recv)
	e.Charged, e.Refunded = abacus.AmountFromMicros(charged), abacus.AmountFromMicros(refunded)
	e.Drawn = store.Drawn(cash, bonus, voucher)
	e.TxID, e.VoidTxID = tx.Int64, void.Int64
	if e.PriceIDs, err = store.ParseIDs(prices); err != nil {
		return e, err
	}
	return e, store.ParseCost(&e, cost)
}

// readUsage reads the usage half of ReadBatch into st.
func (t *writeTx) readUsage(ctx context.Context, r abacus.BatchReads, st *abacus.BatchState) (err error) {
	if len(r.EventIDs) > 0 {
		if st.Seen, err = t.eventsGet(ctx, r.EventIDs); err != nil {
			return err
		}
	}
	if len(r.Targets) > 0 {
		if st.Stored, err = t.eventsGet(ctx, r.Targets); err != nil {
			return err
		}
	}
	if len(r.Slots) > 0 {
		if st.Taken, err = t.minutesTaken(ctx, r.Slots); err != nil {
			return err
		}
	}
	if r.Book {
		if st.BookVersion, err = t.priceBookVersion(ctx); err != nil {
			return err
		}
	}
	if len(r.Counters) > 0 {
		if st.Counters, err = t.counters(ctx, r.Counters); err != nil {
			return err
		}
	}
	if len(r.Carries) > 0 {
		st.Carries, err = t.carries(ctx, r.Carries)
	}
	return err
}

// eventsGet returns the stored events with the given ids.
func (t *writeTx) eventsGet(ctx context.Context, ids []string) ([]abacus.StoredEvent, error) {
	var out []abacus.StoredEvent
	err := chunks(sortedUnique(ids), func(c []string) error {
		rows, err := t.tx.QueryContext(ctx, `SELECT `+eventColumns+` FROM usage_events WHERE id IN (`+placeholders(len(c))+`) ORDER BY seq`, eventKeys(c)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanEvent(rows)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// minutesTaken returns those of the slots that are taken already.
func (t *writeTx) minutesTaken(ctx context.Context, slots []abacus.MinuteSlot) ([]abacus.MinuteSlot, error) {
	var out []abacus.MinuteSlot
	err := chunks(slots, func(c []abacus.MinuteSlot) error {
		args := make([]any, 0, 3*len(c))
		for _, s := range c {
			args = append(args, s.Scene, s.CustomerID, micros(s.Minute))
		}
		rows, err := t.tx.QueryContext(ctx, `SELECT scene, customer_id, minute, event_id FROM usage_minutes
			WHERE (scene, customer_id, minute) IN (VALUES `+tuples(len(c), 3)+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s abacus.MinuteSlot
			var minute int64
			if err := rows.Scan(&s.Scene, &s.CustomerID, &minute, &s.EventID); err != nil {
				return err
			}
			s.Minute = fromMicros(minute)
			out = append(out, s)
		}
		return rows.Err()
	})
	return out, err
}

func (t *writeTx) priceBookVersion(ctx context.Context) (int64, error) {
	var v int64
	err := t.tx.QueryRowContext(ctx, `SELECT version FROM price_book`).Scan(&v)
	return v, err
}

const counterColumns = `account_id, price_key, currency, period, quantity, COALESCE(price_id, 0)`

func scanCounter(rows *sql.Rows) (abacus.UsageCounter, error) {
	var c abacus.UsageCounter
	var period int64
	err := rows.Scan(&c.Account, &c.Key, &c.Currency, &period, &c.Quantity, &c.PriceID)
	c.Period = fromMicros(period)
	return c, err
}

// counters returns the stored quantities of the counters ever written.
func (t *writeTx) counters(ctx context.Context, cs []abacus.UsageCounter) ([]abacus.UsageCounter, error) {
	var out []abacus.UsageCounter
	err := chunks(cs, func(c []abacus.UsageCounter) error {
		args := make([]any, 0, 4*len(c))
		for _, u := range c {
			args = append(args, string(u.Account), u.Key, string(u.Currency), micros(u.Period))
		}
		rows, err := t.tx.QueryContext(ctx, `SELECT `+counterColumns+` FROM usage_counters
			WHERE (account_id, price_key, currency, period) IN (VALUES `+tuples(len(c), 4)+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			u, err := scanCounter(rows)
			if err != nil {
				return err
			}
			out = append(out, u)
		}
		return rows.Err()
	})
	return out, err
}

// carries returns those of the account periods that have a carry stored.
func (t *writeTx) carries(ctx context.Context, keys []abacus.Carry) ([]abacus.Carry, error) {
	var out []abacus.Carry
	err := chunks(keys, func(c []abacus.Carry) error {
		args := make([]any, 0, 2*len(c))
		for _, k := range c {
			args = append(args, string(k.Account), micros(k.Period))
		}
		rows, err := t.tx.QueryContext(ctx, `SELECT `+carryColumns+` FROM usage_carry_periods WHERE (account_id, period) IN (VALUES `+tuples(len(c), 2)+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanCarry(rows)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

const carryColumns = `account_id, period, residue, shared`

func scanCarry(rows *sql.Rows) (abacus.Carry, error) {
	var c abacus.Carry
	var period int64
	err := rows.Scan(&c.Account, &period, &c.Residue, &c.Shared)
	c.Period = fromMicros(period)
	return c, err
}

// applyUsage writes the usage half of a batch's changes.
func (t *writeTx) applyUsage(ctx context.Context, c *abacus.Changes) error {
	err := insertRows(ctx, t.tx, `INSERT INTO usage_events (id, account_id, scene, value_type, value, op_uid, resource_id, resource_name,
		customer_id, event_time, received_at, extra, status, currency, charged, drawn_cash, drawn_bonus, drawn_voucher, price_ids, tx_id, cost, uncommitted)`, 22, len(c.Events),
		func(i int, a []any) []any {
			e := &c.Events[i]
			return append(a, eventKey(e.ID), string(e.Account), e.Scene, e.ValueType, e.Value, e.OpUID, e.ResourceID, e.ResourceName,
				e.CustomerID, micros(e.Time), micros(e.ReceivedAt), e.Extra, string(e.Status), string(e.Currency), e.Charged.Micros(),
				e.Drawn.Cash.Micros(), e.Drawn.Bonus.Micros(), e.Drawn.Voucher.Micros(), store.FormatIDs(e.PriceIDs), nullID(e.TxID), store.FormatCost(e), e.Uncommitted)
		})
	if err != nil {
		return raced(err, sqlite3.ErrConstraintUnique)
	}
	for _, e := range c.EventUpdates {
		res, err := t.tx.ExecContext(ctx, `UPDATE usage_events SET status = ?, charged = ?, drawn_cash = ?, drawn_bonus = ?, drawn_voucher = ?,
			price_ids = ?, tx_id = ?, void_tx_id = ?, refunded = ?, cost = ?, uncommitted = ? WHERE id = ?`, string(e.Status), e.Charged.Micros(), e.Drawn.Cash.Micros(),
			e.Drawn.Bonus.Micros(), e.Drawn.Voucher.Micros(), store.FormatIDs(e.PriceIDs), nullID(e.TxID), nullID(e.VoidTxID), e.Refunded.Micros(),
			store.FormatCost(&e), e.Uncommitted, eventKey(e.ID))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("sqlite: event %s to update is missing", e.ID)
		}
	}
	err = insertRows(ctx, t.tx, `INSERT INTO usage_counters (account_id, price_key, currency, period, quantity, price_id)`, 6, len(c.Counters),
		func(i int, a []any) []any {
			u := &c.Counters[i]
			return append(a, string(u.Account), u.Key, string(u.Currency), micros(u.Period), u.Quantity, nullID(u.PriceID))
		}, ` ON CONFLICT (account_id, price_key, currency, period) DO UPDATE SET quantity = quantity + excluded.quantity,
			price_id = COALESCE(excluded.price_id, price_id)`)
	if err != nil {
		return err
	}
	err = insertRows(ctx, t.tx, `INSERT INTO usage_paid (account_id, currency, period, resource_id, cash, bonus, voucher)`, 7, len(c.Paid),
		func(i int, a []any) []any {
			p := &c.Paid[i]
			return append(a, string(p.Account), string(p.Currency), micros(p.Period), p.ResourceID, p.Paid.Cash.Micros(), p.Paid.Bonus.Micros(), p.Paid.Voucher.Micros())
		}, ` ON CONFLICT (account_id, currency, period, resource_id) DO UPDATE SET
			cash = cash + excluded.cash, bonus = bonus + excluded.bonus, voucher = voucher + excluded.voucher`)
	if err != nil {
		return err
	}
	err = insertRows(ctx, t.tx, `INSERT INTO usage_carry_periods (account_id, period, residue)`, 3, len(c.Carries),
		func(i int, a []any) []any {
			return append(a, string(c.Carries[i].Account), micros(c.Carries[i].Period), c.Carries[i].Residue)
		}, ` ON CONFLICT (account_id, period) DO UPDATE SET residue = excluded.residue`)
	if err != nil {
		return err
	}
	err = insertRows(ctx, t.tx, `INSERT INTO usage_rollups (`+rollupColumns+`)`, 11, len(c.Rollups),
		func(i int, a []any) []any {
			r := &c.Rollups[i]
			return append(a, string(r.Account), micros(r.Bucket), r.Scene, r.ResourceID, r.CustomerID, string(r.Currency), r.Quantity, r.Amount.Micros(), r.Events,
				r.UnpricedQuantity, r.UnpricedEvents)
		}, ` ON CONFLICT (account_id, bucket, scene, resource_id, customer_id) DO UPDATE SET
			quantity = quantity + excluded.quantity, amount = amount + excluded.amount, events = events + excluded.events,
			unpriced_quantity = unpriced_quantity + excluded.unpriced_quantity, unpriced_events = unpriced_events + excluded.unpriced_events`)
	if err != nil {
		return err
	}
	for _, m := range c.FreedMinutes {
		if _, err := t.tx.ExecContext(ctx, `DELETE FROM usage_minutes WHERE scene = ? AND customer_id = ? AND minute = ? AND event_id = ?`,
			m.Scene, m.CustomerID, micros(m.Minute), m.EventID); err != nil {
			return err
		}
	}
	err = insertRows(ctx, t.tx, `INSERT INTO usage_minutes (scene, customer_id, minute, event_id)`, 4, len(c.Minutes),
		func(i int, a []any) []any {
			m := &c.Minutes[i]
			return append(a, m.Scene, m.CustomerID, micros(m.Minute), m.EventID)
		})
	if err != nil {
		return raced(err, sqlite3.ErrConstraintPrimaryKey)
	}
	err = insertRows(ctx, t.tx, `INSERT INTO outbox (kind, account_id, payload, created_at)`, 4, len(c.Outbox),
		func(i int, a []any) []any {
			o := &c.Outbox[i]
			return append(a, o.Kind, string(o.Account), o.Payload, micros(o.CreatedAt))
		})
	if err != nil {
		return err
	}
	err = insertRows(ctx, t.tx, `INSERT INTO price_uses (price_id, shard, latest)`, 3, len(c.PriceUses),
		func(i int, a []any) []any {
			u := &c.PriceUses[i]
			return append(a, u.PriceID, u.Shard, micros(u.Latest))
		}, ` ON CONFLICT (price_id, shard) DO UPDATE SET latest = excluded.latest WHERE latest < excluded.latest`)
	if err != nil {
		return err
	}
	return insertRows(ctx, t.tx, `INSERT INTO usage_reprices (event_seq, account_id, currency, event_tx_id, tx_id, amount, price_ids, created_at)`, 8,
		len(c.Reprices), func(i int, a []any) []any {
			r := &c.Reprices[i]
			return append(a, r.EventSeq, string(r.Account), string(r.Currency), nullID(r.EventTxID), nullID(r.TxID), r.Amount.Micros(),
				store.FormatIDs(r.PriceIDs), micros(r.CreatedAt))
		})
}

const repriceColumns = `event_seq, account_id, currency, event_tx_id, tx_id, amount, price_ids, created_at`

func scanReprice(sc interface{ Scan(...any) error }) (abacus.Reprice, error) {
	var r abacus.Reprice
	var eventTx, tx sql.NullInt64
	var amount, at int64
	var prices string
	if err := sc.Scan(&r.EventSeq, &r.Account, &r.Currency, &eventTx, &tx, &amount, &prices, &at); err != nil {
		return r, err
	}
	r.EventTxID, r.TxID, r.Amount, r.CreatedAt = eventTx.Int64, tx.Int64, abacus.AmountFromMicros(amount), fromMicros(at)
	var err error
	r.PriceIDs, err = store.ParseIDs(prices)
	return r, err
}

// MonthPaid implements abacus.WriteTx: the rows of usage_paid of an
// account's month, by resource.
func (t *writeTx) MonthPaid(ctx context.Context, account abacus.AccountID, currency abacus.Currency, period time.Time) (map[string]abacus.Drawn, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT resource_id, cash, bonus, voucher FROM usage_paid WHERE account_id = ? AND currency = ? AND period = ?`,
		string(account), string(currency), micros(period))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	paid := map[string]abacus.Drawn{}
	for rows.Next() {
		var resource string
		var cash, bonus, voucher int64
		if err := rows.Scan(&resource, &cash, &bonus, &voucher); err != nil {
			return nil, err
		}
		paid[resource] = store.Drawn(cash, bonus, voucher)
	}
	return paid, rows.Err()
}

const monthPaidColumns = `account_id, currency, period, resource_id, cash, bonus, voucher`

func scanMonthPaid(sc interface{ Scan(...any) error }) (abacus.MonthPaid, error) {
	var p abacus.MonthPaid
	var period, cash, bonus, voucher int64
	err := sc.Scan(&p.Account, &p.Currency, &period, &p.ResourceID, &cash, &bonus, &voucher)
	p.Period, p.Paid = fromMicros(period), store.Drawn(cash, bonus, voucher)
	return p, err
}
