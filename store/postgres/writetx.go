package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/abacus-billing/abacus"
)

// writeTx is a transaction opened lazily: its BEGIN rides in the first
// pipeline and, when the engine ends with Commit, its COMMIT in the last,
// so a batch pays no round trip for either.
type writeTx struct {
	conn      *pgx.Conn
	locks     *lockKeys
	begun     bool // BEGIN has been sent
	committed bool // Commit's pipeline, COMMIT included, succeeded
}

const beginSQL = `BEGIN ISOLATION LEVEL READ COMMITTED`

// keyedPlansSQL makes the transaction's statements find rows through their
// indexes. Every statement of a write batch looks rows up by key, joined to
// the batch's arrays, so probing an index per key is the right plan at any
// table size. Left to itself the planner may pick a sequential scan and a
// hash join while a table is small or its statistics are stale (a new
// database, a bulk load: autoanalyze comes a minute later at best), and a
// generic plan made then is kept as the table grows, so every batch would
// read the whole table. No statement here needs a scan; where one has no
// index (the one-row price_book) it still gets its scan.
const keyedPlansSQL = `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true),
	set_config('enable_mergejoin', 'off', true)`

var errAfterCommit = errors.New("postgres: a statement after Commit")

// send runs b as one pipeline, opening the transaction ahead of it if no
// statement has yet.
func (t *writeTx) send(ctx context.Context, b *pgx.Batch) error {
	if t.committed {
		return errAfterCommit
	}
	if !t.begun {
		b.QueuedQueries = slices.Insert(b.QueuedQueries, 0, &pgx.QueuedQuery{SQL: beginSQL}, &pgx.QueuedQuery{SQL: keyedPlansSQL})
		t.begun = true
	}
	return t.conn.SendBatch(ctx, b).Close()
}

// query runs one statement and returns its rows, for reads that are not
// queued in a pipeline.
func (t *writeTx) query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if !t.begun || t.committed {
		// An empty pipeline: send opens the transaction, or refuses.
		if err := t.send(ctx, &pgx.Batch{}); err != nil {
			return nil, err
		}
	}
	return t.conn.Query(ctx, sql, args...)
}

const walletColumns = `id, account_id, bucket, currency, balance, held, version, floor`

func scanWallet(row pgx.Row) (abacus.Wallet, error) {
	var w abacus.Wallet
	var bal, held int64
	var floor *int64
	if err := row.Scan(&w.ID, &w.Account, &w.Bucket, &w.Currency, &bal, &held, &w.Version, &floor); err != nil {
		return w, err
	}
	w.Balance, w.Held = abacus.AmountFromMicros(bal), abacus.AmountFromMicros(held)
	if floor != nil {
		w.Floor, w.HasFloor = abacus.AmountFromMicros(*floor), true
	}
	return w, nil
}

func collect[T any](rows pgx.Rows, err error, scan func(pgx.Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}

// collectCapped is collect that stops after the row that brings the
// rows' size to max (0: no cap); the rest are read and dropped.
func collectCapped[T any](rows pgx.Rows, err error, scan func(pgx.Row) (T, error), size func(*T) int, max int) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	n := 0
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if n += size(&v); max > 0 && n >= max {
			break
		}
	}
	rows.Close()
	return out, rows.Err()
}

func queueKeys(b *pgx.Batch, keys []string, out *[]abacus.IdempotencyRecord) {
	queueRows(b, out, scanIdempotency, `SELECT key, request_hash, tx_id, hold_id, created_at FROM idempotency_keys WHERE key = ANY($1)`, keys)
}

func scanIdempotency(row pgx.Row) (abacus.IdempotencyRecord, error) {
	var r abacus.IdempotencyRecord
	var tx, hold *int64
	err := row.Scan(&r.Key, &r.Hash, &tx, &hold, &r.CreatedAt)
	if tx != nil {
		r.TxID = *tx
	}
	if hold != nil {
		r.HoldID = *hold
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return r, err
}

func (t *writeTx) HoldsLock(ctx context.Context, ids []int64) ([]abacus.Hold, error) {
	rows, err := t.query(ctx, `SELECT `+holdColumns+` FROM holds WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
	hs, err := collect(rows, err, scanHold)
	if err != nil || len(hs) == 0 {
		return hs, err
	}
	return hs, attachLegs(ctx, t.conn, hs)
}

// queueWallets locks with FOR NO KEY UPDATE, which does not block the
// key-share locks of foreign keys, and reads in a second statement of the
// same round trip: at READ COMMITTED it sees what the lock holders before
// it committed.
func queueWallets(b *pgx.Batch, lock, read []int64, out *[]abacus.Wallet) {
	if len(lock) > 0 {
		b.Queue(`SELECT id FROM wallets WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, lock)
	}
	queueRows(b, out, scanWallet, `SELECT `+walletColumns+` FROM wallets WHERE id = ANY($1) ORDER BY id`, read)
}

// queueRows adds a query to b whose rows, scanned, go into out.
func queueRows[T any](b *pgx.Batch, out *[]T, scan func(pgx.Row) (T, error), sql string, args ...any) {
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		var err error
		*out, err = collect(rows, nil, scan)
		return err
	})
}

func queueReversals(b *pgx.Batch, txIDs []int64, out map[int64]int64) {
	b.Queue(`SELECT reverts, id FROM transactions WHERE reverts = ANY($1)`, txIDs).Query(func(rows pgx.Rows) error {
		var orig, id int64
		_, err := pgx.ForEachRow(rows, []any{&orig, &id}, func() error { out[orig] = id; return nil })
		return err
	})
}

// ReadBatch implements abacus.WriteTx: every statement goes in one
// pipeline, so a batch's reads cost one round trip. PostgreSQL runs them in
// order, so the reads and ids after the lock see what its holders committed.
func (t *writeTx) ReadBatch(ctx context.Context, r abacus.BatchReads) (abacus.BatchState, error) {
	var st abacus.BatchState
	b := &pgx.Batch{}
	if r.Book { // first, so that a batch waiting for it holds no row locks yet
		b.Queue(`SELECT pg_advisory_xact_lock_shared($1)`, t.locks.book)
	}
	queueWallets(b, r.Lock, r.Read, &st.Wallets)
	queueIDs(b, "transaction_ids", r.TxIDs, &st.TxIDs)
	queueIDs(b, "hold_ids", r.HoldIDs, &st.HoldIDs)
	if len(r.Keys) > 0 {
		queueKeys(b, r.Keys, &st.Records)
	}
	if len(r.Reverted) > 0 {
		st.Reversals = map[int64]int64{}
		queueReversals(b, r.Reverted, st.Reversals)
	}
	queueUsageReads(b, r, &st)
	// The callbacks fill st while the batch is closed: close it first.
	err := t.send(ctx, b)
	return st, err
}

// queueIDs adds to b the drawing of n ids from a sequence, in increasing
// order, into dst.
func queueIDs(b *pgx.Batch, seq string, n int, dst *[]int64) {
	if n == 0 {
		return
	}
	b.Queue(`SELECT nextval('`+seq+`') FROM generate_series(1, $1)`, n).Query(func(rows pgx.Rows) error {
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		slices.Sort(ids)
		*dst = ids
		return err
	})
}

// Apply sends every write of the batch in one pipelined round trip.
func (t *writeTx) Apply(ctx context.Context, c *abacus.Changes) error {
	return t.send(ctx, queueChanges(c, t.locks))
}

// Commit sends the writes and the COMMIT in one pipeline. If a write
// fails, PostgreSQL skips the rest, COMMIT included, and Write rolls back.
func (t *writeTx) Commit(ctx context.Context, c *abacus.Changes) error {
	b := queueChanges(c, t.locks)
	b.Queue(`COMMIT`)
	if err := t.send(ctx, b); err != nil {
		return err
	}
	t.committed = true
	return nil
}

// queueChanges queues every write of c. Commit sends COMMIT in the same
// pipeline, so nothing here may check a result in Go: an update that must
// touch every row it names says so to abacus_expect_rows, in the server.
func queueChanges(c *abacus.Changes, locks *lockKeys) *pgx.Batch {
	b := &pgx.Batch{}
	if n := len(c.Transactions); n > 0 {
		ids, reverts, holds := make([]int64, n), make([]int64, n), make([]int64, n)
		types, memos := make([]string, n), make([]string, n)
		ats := make([]time.Time, n)
		var pw, ptx, pamt, pbal, pver []int64
		for i, x := range c.Transactions {
			ids[i], reverts[i], holds[i], types[i], memos[i], ats[i] = x.ID, x.Reverts, x.HoldID, string(x.Type), x.Memo, x.CreatedAt
			for _, p := range x.Postings {
				pw, ptx = append(pw, p.WalletID), append(ptx, p.TxID)
				pamt, pbal, pver = append(pamt, p.Amount.Micros()), append(pbal, p.BalanceAfter.Micros()), append(pver, p.Version)
			}
		}
		b.Queue(`INSERT INTO transactions (id, type, memo, reverts, hold_id, created_at)
			SELECT id, type, memo, NULLIF(reverts, 0), NULLIF(hold_id, 0), created_at
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::timestamptz[])
			AS u(id, type, memo, reverts, hold_id, created_at)`, ids, types, memos, reverts, holds, ats)
		b.Queue(`INSERT INTO postings (wallet_id, tx_id, amount, balance_after, version)
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])`, pw, ptx, pamt, pbal, pver)
	}
	if n := len(c.Holds); n > 0 {
		ids, amts, counters := make([]int64, n), make([]int64, n), make([]int64, n)
		accts, curs, statuses, memos := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		exps, ats := make([]*time.Time, n), make([]time.Time, n)
		var lh, lw, lamt []int64
		var lseq []int32
		for i, h := range c.Holds {
			ids[i], amts[i], counters[i] = h.ID, h.Amount.Micros(), h.CounterWallet
			accts[i], curs[i], statuses[i], memos[i] = string(h.Account), string(h.Currency), string(h.Status), h.Memo
			exps[i], ats[i] = nullTime(h.ExpiresAt), h.CreatedAt
			for j, l := range h.Legs {
				lh, lseq, lw, lamt = append(lh, h.ID), append(lseq, int32(j)), append(lw, l.WalletID), append(lamt, l.Amount.Micros())
			}
		}
		b.Queue(`INSERT INTO holds (id, account_id, currency, amount, status, memo, counter_wallet_id, expires_at, created_at)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::timestamptz[], $9::timestamptz[])`,
			ids, accts, curs, amts, statuses, memos, counters, exps, ats)
		b.Queue(`INSERT INTO hold_legs (hold_id, seq, wallet_id, amount)
			SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::bigint[])`, lh, lseq, lw, lamt)
	}
	if n := len(c.Resolutions); n > 0 {
		ids, posted, txs := make([]int64, n), make([]int64, n), make([]int64, n)
		statuses, ats := make([]string, n), make([]time.Time, n)
		for i, h := range c.Resolutions {
			ids[i], posted[i], txs[i], statuses[i], ats[i] = h.ID, h.PostedAmount.Micros(), h.TxID, string(h.Status), h.ResolvedAt
		}
		b.Queue(`WITH resolved AS (UPDATE holds h SET status = u.status, resolved_at = u.at, posted_amount = u.posted, tx_id = NULLIF(u.tx, 0)
			FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[]) AS u(id, status, at, posted, tx)
			WHERE h.id = u.id AND h.status = 'open' RETURNING 1)
			SELECT abacus_expect_rows(count(*), $6, 'open holds resolved (one was resolved by a concurrent batch)', true) FROM resolved`,
			ids, statuses, ats, posted, txs, n)
	}
	if n := len(c.Wallets); n > 0 {
		ids, bals, helds, vers := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		for i, w := range c.Wallets {
			ids[i], bals[i], helds[i], vers[i] = w.ID, w.Balance.Micros(), w.Held.Micros(), w.Version
		}
		b.Queue(`WITH updated AS (UPDATE wallets w SET balance = u.balance, held = u.held, version = u.version
			FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) AS u(id, balance, held, version)
			WHERE w.id = u.id RETURNING 1)
			SELECT abacus_expect_rows(count(*), $5, 'wallets updated', false) FROM updated`, ids, bals, helds, vers, n)
	}
	if n := len(c.Keys); n > 0 {
		keys, hashes, txs, holds := make([]string, n), make([][]byte, n), make([]int64, n), make([]int64, n)
		ats := make([]time.Time, n)
		for i, k := range c.Keys {
			keys[i], hashes[i], txs[i], holds[i], ats[i] = k.Key, k.Hash, k.TxID, k.HoldID, k.CreatedAt
		}
		b.Queue(`INSERT INTO idempotency_keys (key, request_hash, tx_id, hold_id, created_at)
			SELECT key, hash, NULLIF(tx, 0), NULLIF(hold, 0), at
			FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::bigint[], $5::timestamptz[]) AS u(key, hash, tx, hold, at)`,
			keys, hashes, txs, holds, ats)
	}
	queueUsage(b, c, locks)
	return b
}
