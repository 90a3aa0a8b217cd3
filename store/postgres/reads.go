package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/store"
)

const postingColumns = `p.tx_id, p.wallet_id, w.account_id, w.bucket, w.currency, p.amount, p.balance_after, p.version`

func scanPosting(row pgx.Row, extra ...any) (abacus.Posting, error) {
	var p abacus.Posting
	var amt, bal int64
	err := row.Scan(append([]any{&p.TxID, &p.WalletID, &p.Account, &p.Bucket, &p.Currency, &amt, &bal, &p.Version}, extra...)...)
	p.Amount, p.BalanceAfter = abacus.AmountFromMicros(amt), abacus.AmountFromMicros(bal)
	return p, err
}

func scanPostingRow(row pgx.Row) (abacus.Posting, error) { return scanPosting(row) }

func scanTransaction(row pgx.Row) (abacus.Transaction, error) {
	var t abacus.Transaction
	var reverts, hold *int64
	err := row.Scan(&t.ID, &t.Type, &t.Memo, &reverts, &hold, &t.CreatedAt)
	if reverts != nil {
		t.Reverts = *reverts
	}
	if hold != nil {
		t.HoldID = *hold
	}
	t.CreatedAt = t.CreatedAt.UTC()
	return t, err
}

// Transactions implements abacus.Store.
func (s *Store) Transactions(ctx context.Context, ids []int64) ([]abacus.Transaction, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, type, memo, reverts, hold_id, created_at FROM transactions WHERE id = ANY($1) ORDER BY id`, ids)
	txs, err := collect(rows, err, scanTransaction)
	if err != nil || len(txs) == 0 {
		return txs, err
	}
	byID := make(map[int64]int, len(txs))
	for i, t := range txs {
		byID[t.ID] = i
	}
	rows, err = s.pool.Query(ctx, `SELECT `+postingColumns+` FROM postings p JOIN wallets w ON w.id = p.wallet_id
		WHERE p.tx_id = ANY($1) ORDER BY p.tx_id, p.wallet_id`, ids)
	ps, err := collect(rows, err, scanPostingRow)
	for _, p := range ps {
		t := &txs[byID[p.TxID]]
		t.Postings = append(t.Postings, p)
	}
	return txs, err
}

// Entries implements abacus.Store. The wallets and each wallet's page are
// read in one REPEATABLE READ transaction, so in one snapshot.
func (s *Store) Entries(ctx context.Context, q abacus.EntryQuery) ([]abacus.Entry, error) {
	if err := store.CheckLimit(q.Limit); err != nil {
		return nil, err
	}
	var out []abacus.Entry
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		ws, err := queryWallets(ctx, tx, []abacus.AccountID{q.Account})
		if err != nil {
			return err
		}
		out, err = store.PageEntries(ws, q, func(w abacus.Wallet, maxTx int64, inclusive bool, limit int) ([]abacus.Entry, error) {
			// An operator, not maxTx-1, which would wrap for the smallest id.
			op := "<"
			if inclusive {
				op = "<="
			}
			rows, err := tx.Query(ctx, `SELECT `+postingColumns+`, t.type, t.memo, t.created_at
				FROM postings p JOIN wallets w ON w.id = p.wallet_id JOIN transactions t ON t.id = p.tx_id
				WHERE p.wallet_id = $1 AND p.tx_id `+op+` $2 ORDER BY p.tx_id DESC LIMIT $3`, w.ID, maxTx, limit)
			return collect(rows, err, func(row pgx.Row) (abacus.Entry, error) {
				var e abacus.Entry
				var err error
				e.Posting, err = scanPosting(row, &e.Type, &e.Memo, &e.CreatedAt)
				e.CreatedAt = e.CreatedAt.UTC()
				return e, err
			})
		})
		return err
	})
	return out, err
}

const holdColumns = `id, account_id, currency, amount, status, memo, counter_wallet_id, expires_at, created_at, resolved_at, posted_amount, tx_id`

func scanHold(row pgx.Row) (abacus.Hold, error) {
	var h abacus.Hold
	var amt, posted int64
	var exp, resolved *time.Time
	var tx *int64
	err := row.Scan(&h.ID, &h.Account, &h.Currency, &amt, &h.Status, &h.Memo, &h.CounterWallet, &exp, &h.CreatedAt, &resolved, &posted, &tx)
	h.Amount, h.PostedAmount = abacus.AmountFromMicros(amt), abacus.AmountFromMicros(posted)
	h.ExpiresAt, h.CreatedAt, h.ResolvedAt = fromNullTime(exp), h.CreatedAt.UTC(), fromNullTime(resolved)
	if tx != nil {
		h.TxID = *tx
	}
	return h, err
}

type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// attachLegs reads the legs of hs, which must be in id order.
func attachLegs(ctx context.Context, q queryer, hs []abacus.Hold) error {
	ids := make([]int64, len(hs))
	byID := make(map[int64]int, len(hs))
	for i, h := range hs {
		ids[i], byID[h.ID] = h.ID, i
	}
	rows, err := q.Query(ctx, `SELECT l.hold_id, l.wallet_id, w.bucket, l.amount FROM hold_legs l JOIN wallets w ON w.id = l.wallet_id
		WHERE l.hold_id = ANY($1) ORDER BY l.hold_id, l.seq`, ids)
	if err != nil {
		return err
	}
	var hid, amt int64
	var l abacus.HoldLeg
	_, err = pgx.ForEachRow(rows, []any{&hid, &l.WalletID, &l.Bucket, &amt}, func() error {
		l.Amount = abacus.AmountFromMicros(amt)
		h := &hs[byID[hid]]
		h.Legs = append(h.Legs, l)
		return nil
	})
	return err
}

// Hold implements abacus.Store.
func (s *Store) Hold(ctx context.Context, id int64) (abacus.Hold, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+holdColumns+` FROM holds WHERE id = $1`, id)
	hs, err := collect(rows, err, scanHold)
	if err != nil {
		return abacus.Hold{}, err
	}
	if len(hs) == 0 {
		return abacus.Hold{}, notFound("hold", id)
	}
	return hs[0], attachLegs(ctx, s.pool, hs)
}

// HoldsDue implements abacus.Store.
func (s *Store) HoldsDue(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	if err := store.CheckLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT id FROM holds WHERE status = 'open' AND expires_at IS NOT NULL AND expires_at <= $1
		ORDER BY expires_at, id LIMIT $2`, now, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}
