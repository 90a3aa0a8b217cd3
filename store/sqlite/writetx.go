package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/mattn/go-sqlite3"

	"github.com/abacus-billing/abacus"
)

// writeTx runs inside BEGIN IMMEDIATE: it holds the database's one write
// lock from the start, so nothing it reads can change under it and its
// lock methods need not lock rows one by one.
type writeTx struct {
	tx    *sql.Tx
	cache *walletCache
	// read and written are the wallets this transaction read from the
	// database and wrote; the cache learns them once it commits.
	read, written []abacus.Wallet
}

const walletColumns = `id, account_id, bucket, currency, balance, held, version, floor`

func scanWallet(sc interface{ Scan(...any) error }) (abacus.Wallet, error) {
	var w abacus.Wallet
	var bal, held int64
	var floor sql.NullInt64
	if err := sc.Scan(&w.ID, &w.Account, &w.Bucket, &w.Currency, &bal, &held, &w.Version, &floor); err != nil {
		return w, err
	}
	w.Balance, w.Held = abacus.AmountFromMicros(bal), abacus.AmountFromMicros(held)
	w.Floor, w.HasFloor = abacus.AmountFromMicros(floor.Int64), floor.Valid
	return w, nil
}

func (t *writeTx) idempotencyGet(ctx context.Context, keys []string) ([]abacus.IdempotencyRecord, error) {
	var out []abacus.IdempotencyRecord
	err := chunks(sortedUnique(keys), func(ks []string) error {
		rows, err := t.tx.QueryContext(ctx, `SELECT key, request_hash, tx_id, hold_id, created_at
			FROM idempotency_keys WHERE key IN (`+placeholders(len(ks))+`)`, anys(ks)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanIdempotency(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}

func scanIdempotency(sc interface{ Scan(...any) error }) (abacus.IdempotencyRecord, error) {
	var r abacus.IdempotencyRecord
	var tx, hold sql.NullInt64
	var at int64
	err := sc.Scan(&r.Key, &r.Hash, &tx, &hold, &at)
	r.TxID, r.HoldID, r.CreatedAt = tx.Int64, hold.Int64, fromMicros(at)
	return r, err
}

func (t *writeTx) HoldsLock(ctx context.Context, ids []int64) ([]abacus.Hold, error) {
	return queryHolds(ctx, t.tx, ids)
}

// walletsLock needs to lock nothing: BEGIN IMMEDIATE holds the database's
// one write lock already.
func (t *writeTx) walletsLock(ctx context.Context, _, read []int64) ([]abacus.Wallet, error) {
	out, missing := t.cache.get(sortedUnique(read))
	from := len(out)
	err := chunks(missing, func(c []int64) error {
		rows, err := t.tx.QueryContext(ctx, `SELECT `+walletColumns+` FROM wallets WHERE id IN (`+placeholders(len(c))+`) ORDER BY id`, anys(c)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			w, err := scanWallet(rows)
			if err != nil {
				return err
			}
			out = append(out, w)
		}
		return rows.Err()
	})
	t.read = append(t.read, out[from:]...)
	slices.SortFunc(out, func(x, y abacus.Wallet) int { return cmp.Compare(x.ID, y.ID) })
	return out, err
}

func (t *writeTx) reversals(ctx context.Context, txIDs []int64) (map[int64]int64, error) {
	out := map[int64]int64{}
	err := chunks(sortedUnique(txIDs), func(c []int64) error {
		rows, err := t.tx.QueryContext(ctx, `SELECT reverts, id FROM transactions WHERE reverts IN (`+placeholders(len(c))+`)`, anys(c)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var orig, id int64
			if err := rows.Scan(&orig, &id); err != nil {
				return err
			}
			out[orig] = id
		}
		return rows.Err()
	})
	return out, err
}

// reserveIDs draws from the sequences table, like PostgreSQL's sequences:
// ids are fresh and increasing across calls, in one transaction or many.
func (t *writeTx) reserveIDs(ctx context.Context, ntx, nholds int) ([]int64, []int64, error) {
	txIDs, err := t.nextIDs(ctx, "transaction_ids", ntx)
	if err != nil {
		return nil, nil, err
	}
	holdIDs, err := t.nextIDs(ctx, "hold_ids", nholds)
	return txIDs, holdIDs, err
}

func (t *writeTx) nextIDs(ctx context.Context, seq string, n int) ([]int64, error) {
	if n <= 0 {
		return nil, nil
	}
	var last int64
	if err := t.tx.QueryRowContext(ctx, `UPDATE sequences SET last = last + ? WHERE name = ? RETURNING last`, n, seq).Scan(&last); err != nil {
		return nil, fmt.Errorf("sqlite: reserving %s: %w", seq, err)
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = last - int64(n) + int64(i) + 1
	}
	return ids, nil
}

// ReadBatch implements abacus.WriteTx. SQLite has no round trips to save:
// it reads one thing after another, locking first.
func (t *writeTx) ReadBatch(ctx context.Context, r abacus.BatchReads) (st abacus.BatchState, err error) {
	if st.Wallets, err = t.walletsLock(ctx, r.Lock, r.Read); err != nil {
		return st, err
	}
	if st.TxIDs, st.HoldIDs, err = t.reserveIDs(ctx, r.TxIDs, r.HoldIDs); err != nil {
		return st, err
	}
	if len(r.Keys) > 0 {
		if st.Records, err = t.idempotencyGet(ctx, r.Keys); err != nil {
			return st, err
		}
	}
	if len(r.Reverted) > 0 {
		if st.Reversals, err = t.reversals(ctx, r.Reverted); err != nil {
			return st, err
		}
	}
	err = t.readUsage(ctx, r, &st) // before the return reads st: Go leaves that order open
	return st, err
}

// Commit applies c; Write commits when fn returns, which costs SQLite
// nothing more.
func (t *writeTx) Commit(ctx context.Context, c *abacus.Changes) error {
	return t.Apply(ctx, c)
}

func (t *writeTx) Apply(ctx context.Context, c *abacus.Changes) error {
	err := insertRows(ctx, t.tx, `INSERT INTO transactions (id, type, memo, reverts, hold_id, created_at)`, 6, len(c.Transactions),
		func(i int, a []any) []any {
			x := &c.Transactions[i]
			return append(a, x.ID, string(x.Type), x.Memo, nullID(x.Reverts), nullID(x.HoldID), micros(x.CreatedAt))
		})
	if err != nil {
		// UNIQUE (not PRIMARY KEY): a reversal or a hold's posting is taken.
		return raced(err, sqlite3.ErrConstraintUnique)
	}
	type ref struct{ tx, p int }
	var ps []ref
	for i := range c.Transactions {
		for j := range c.Transactions[i].Postings {
			ps = append(ps, ref{i, j})
		}
	}
	// In primary-key order, each insert lands next to the one before:
	// fewer pages visited, fewer splits.
	slices.SortFunc(ps, func(x, y ref) int {
		a, b := &c.Transactions[x.tx].Postings[x.p], &c.Transactions[y.tx].Postings[y.p]
		return cmp.Or(cmp.Compare(a.WalletID, b.WalletID), cmp.Compare(a.TxID, b.TxID))
	})
	err = insertRows(ctx, t.tx, `INSERT INTO postings (wallet_id, tx_id, amount, balance_after, version)`, 5, len(ps),
		func(i int, a []any) []any {
			p := &c.Transactions[ps[i].tx].Postings[ps[i].p]
			return append(a, p.WalletID, p.TxID, p.Amount.Micros(), p.BalanceAfter.Micros(), p.Version)
		})
	if err != nil {
		return err
	}
	err = insertRows(ctx, t.tx, `INSERT INTO holds (id, account_id, currency, amount, status, memo, counter_wallet_id, expires_at, created_at)`, 9, len(c.Holds),
		func(i int, a []any) []any {
			h := &c.Holds[i]
			return append(a, h.ID, string(h.Account), string(h.Currency), h.Amount.Micros(), string(h.Status), h.Memo,
				h.CounterWallet, nullMicros(h.ExpiresAt), micros(h.CreatedAt))
		})
	if err != nil {
		return err
	}
	type legRef struct{ h, l int }
	var legs []legRef
	for i := range c.Holds {
		for j := range c.Holds[i].Legs {
			legs = append(legs, legRef{i, j})
		}
	}
	err = insertRows(ctx, t.tx, `INSERT INTO hold_legs (hold_id, seq, wallet_id, amount)`, 4, len(legs),
		func(i int, a []any) []any {
			h := &c.Holds[legs[i].h]
			l := h.Legs[legs[i].l]
			return append(a, h.ID, legs[i].l, l.WalletID, l.Amount.Micros())
		})
	if err != nil {
		return err
	}
	for _, h := range c.Resolutions {
		res, err := t.tx.ExecContext(ctx, `UPDATE holds SET status = ?, resolved_at = ?, posted_amount = ?, tx_id = ?
			WHERE id = ? AND status = 'open'`, string(h.Status), micros(h.ResolvedAt), h.PostedAmount.Micros(), nullID(h.TxID), h.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: sqlite: hold %d was not open when resolving it", abacus.ErrRetry, h.ID)
		}
	}
	if err := t.updateWallets(ctx, c.Wallets); err != nil {
		return err
	}
	t.written = append(t.written, c.Wallets...)
	err = insertRows(ctx, t.tx, `INSERT INTO idempotency_keys (key, request_hash, tx_id, hold_id, created_at)`, 5, len(c.Keys),
		func(i int, a []any) []any {
			k := &c.Keys[i]
			return append(a, k.Key, k.Hash, nullID(k.TxID), nullID(k.HoldID), micros(k.CreatedAt))
		})
	if err != nil {
		return raced(err, sqlite3.ErrConstraintPrimaryKey) // the key is taken
	}
	return t.applyUsage(ctx, c)
}

// raced marks err as ErrRetry if it is the constraint violation code,
// which only a concurrent batch taking the same unique value can cause.
// Under SQLite's one writer that cannot happen to the ledger engine, which
// reads keys and reversals under the write lock; the mapping keeps the
// contract the same as PostgreSQL's.
func raced(err error, code sqlite3.ErrNoExtended) error {
	var se sqlite3.Error
	if errors.As(err, &se) && se.ExtendedCode == code {
		return fmt.Errorf("%w: %w", abacus.ErrRetry, err)
	}
	return err
}

// updateWallets writes every touched wallet with one UPDATE … FROM per
// few hundred wallets.
func (t *writeTx) updateWallets(ctx context.Context, ws []abacus.Wallet) error {
	return chunks(ws, func(c []abacus.Wallet) error {
		args := make([]any, 0, 4*len(c))
		for _, w := range c {
			args = append(args, w.ID, w.Balance.Micros(), w.Held.Micros(), w.Version)
		}
		q := `UPDATE wallets SET balance = u.column2, held = u.column3, version = u.column4
			FROM (VALUES ` + tuples(len(c), 4) + `) AS u WHERE wallets.id = u.column1`
		res, err := t.tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("sqlite: updating wallets: %w", err)
		}
		if n, _ := res.RowsAffected(); n != int64(len(c)) {
			return fmt.Errorf("sqlite: updated %d wallets, expected %d", n, len(c))
		}
		return nil
	})
}

// sortedUnique returns vals sorted and without repeats, leaving vals as
// they were.
func sortedUnique[T cmp.Ordered](vals []T) []T {
	s := slices.Clone(vals)
	slices.Sort(s)
	return slices.Compact(s)
}
