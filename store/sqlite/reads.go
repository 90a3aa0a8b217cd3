package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/store"
)

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const postingColumns = `p.tx_id, p.wallet_id, w.account_id, w.bucket, w.currency, p.amount, p.balance_after, p.version`

func scanPosting(sc interface{ Scan(...any) error }, extra ...any) (abacus.Posting, error) {
	var p abacus.Posting
	var amt, bal int64
	dest := append([]any{&p.TxID, &p.WalletID, &p.Account, &p.Bucket, &p.Currency, &amt, &bal, &p.Version}, extra...)
	err := sc.Scan(dest...)
	p.Amount, p.BalanceAfter = abacus.AmountFromMicros(amt), abacus.AmountFromMicros(bal)
	return p, err
}

// Transactions implements abacus.Store.
func (s *Store) Transactions(ctx context.Context, ids []int64) ([]abacus.Transaction, error) {
	var out []abacus.Transaction
	// Sorted ids make the chunks, and so the whole answer, come in id order.
	err := chunks(sortedUnique(ids), func(c []int64) error {
		rows, err := s.read.QueryContext(ctx, `SELECT id, type, memo, reverts, hold_id, created_at
			FROM transactions WHERE id IN (`+placeholders(len(c))+`) ORDER BY id`, anys(c)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		start := len(out)
		byID := map[int64]int{}
		for rows.Next() {
			t, err := scanTransaction(rows)
			if err != nil {
				return err
			}
			byID[t.ID] = len(out)
			out = append(out, t)
		}
		if err := rows.Err(); err != nil || len(out) == start {
			return err
		}
		prows, err := s.read.QueryContext(ctx, `SELECT `+postingColumns+` FROM postings p JOIN wallets w ON w.id = p.wallet_id
			WHERE p.tx_id IN (`+placeholders(len(c))+`) ORDER BY p.tx_id, p.wallet_id`, anys(c)...)
		if err != nil {
			return err
		}
		defer prows.Close()
		for prows.Next() {
			p, err := scanPosting(prows)
			if err != nil {
				return err
			}
			t := &out[byID[p.TxID]]
			t.Postings = append(t.Postings, p)
		}
		return prows.Err()
	})
	return out, err
}

func scanTransaction(sc interface{ Scan(...any) error }) (abacus.Transaction, error) {
	var t abacus.Transaction
	var reverts, hold sql.NullInt64
	var at int64
	err := sc.Scan(&t.ID, &t.Type, &t.Memo, &reverts, &hold, &at)
	t.Reverts, t.HoldID, t.CreatedAt = reverts.Int64, hold.Int64, fromMicros(at)
	return t, err
}

// Entries implements abacus.Store. The wallets and each wallet's page
// are read in one read transaction, which in WAL mode is one snapshot.
func (s *Store) Entries(ctx context.Context, q abacus.EntryQuery) ([]abacus.Entry, error) {
	if err := store.CheckLimit(q.Limit); err != nil {
		return nil, err
	}
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	ws, err := queryWallets(ctx, tx, []abacus.AccountID{q.Account})
	if err != nil {
		return nil, err
	}
	return store.PageEntries(ws, q, func(w abacus.Wallet, maxTx int64, inclusive bool, limit int) ([]abacus.Entry, error) {
		op := "<"
		if inclusive {
			op = "<="
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+postingColumns+`, t.type, t.memo, t.created_at
			FROM postings p JOIN wallets w ON w.id = p.wallet_id JOIN transactions t ON t.id = p.tx_id
			WHERE p.wallet_id = ? AND p.tx_id `+op+` ? ORDER BY p.tx_id DESC LIMIT ?`, w.ID, maxTx, limit)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []abacus.Entry
		for rows.Next() {
			var e abacus.Entry
			var at int64
			if e.Posting, err = scanPosting(rows, &e.Type, &e.Memo, &at); err != nil {
				return nil, err
			}
			e.CreatedAt = fromMicros(at)
			out = append(out, e)
		}
		return out, rows.Err()
	})
}

// Hold implements abacus.Store.
func (s *Store) Hold(ctx context.Context, id int64) (abacus.Hold, error) {
	hs, err := queryHolds(ctx, s.read, []int64{id})
	if err != nil {
		return abacus.Hold{}, err
	}
	if len(hs) == 0 {
		return abacus.Hold{}, notFound("hold", id)
	}
	return hs[0], nil
}

// HoldsDue implements abacus.Store.
func (s *Store) HoldsDue(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	if err := store.CheckLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id FROM holds WHERE status = 'open' AND expires_at IS NOT NULL AND expires_at <= ?
		ORDER BY expires_at, id LIMIT ?`, micros(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

const holdColumns = `id, account_id, currency, amount, status, memo, counter_wallet_id, expires_at, created_at, resolved_at, posted_amount, tx_id`

func scanHold(sc interface{ Scan(...any) error }) (abacus.Hold, error) {
	var h abacus.Hold
	var amt, posted, at int64
	var exp, resolved, tx sql.NullInt64
	err := sc.Scan(&h.ID, &h.Account, &h.Currency, &amt, &h.Status, &h.Memo, &h.CounterWallet, &exp, &at, &resolved, &posted, &tx)
	h.Amount, h.PostedAmount = abacus.AmountFromMicros(amt), abacus.AmountFromMicros(posted)
	h.ExpiresAt, h.CreatedAt, h.ResolvedAt = fromNullMicros(exp), fromMicros(at), fromNullMicros(resolved)
	h.TxID = tx.Int64
	return h, err
}

// queryHolds reads holds with their legs, in id order.
func queryHolds(ctx context.Context, q querier, ids []int64) ([]abacus.Hold, error) {
	var out []abacus.Hold
	err := chunks(sortedUnique(ids), func(c []int64) error {
		rows, err := q.QueryContext(ctx, `SELECT `+holdColumns+` FROM holds WHERE id IN (`+placeholders(len(c))+`) ORDER BY id`, anys(c)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		start := len(out)
		byID := map[int64]int{}
		for rows.Next() {
			h, err := scanHold(rows)
			if err != nil {
				return err
			}
			byID[h.ID] = len(out)
			out = append(out, h)
		}
		if err := rows.Err(); err != nil || len(out) == start {
			return err
		}
		lrows, err := q.QueryContext(ctx, `SELECT l.hold_id, l.wallet_id, w.bucket, l.amount FROM hold_legs l JOIN wallets w ON w.id = l.wallet_id
			WHERE l.hold_id IN (`+placeholders(len(c))+`) ORDER BY l.hold_id, l.seq`, anys(c)...)
		if err != nil {
			return err
		}
		defer lrows.Close()
		for lrows.Next() {
			var hid, amt int64
			var l abacus.HoldLeg
			if err := lrows.Scan(&hid, &l.WalletID, &l.Bucket, &amt); err != nil {
				return err
			}
			l.Amount = abacus.AmountFromMicros(amt)
			h := &out[byID[hid]]
			h.Legs = append(h.Legs, l)
		}
		return lrows.Err()
	})
	return out, err
}
