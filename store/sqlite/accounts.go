package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/abacus-billing/abacus"
)

// AccountCreate implements abacus.Store.
func (s *Store) AccountCreate(ctx context.Context, a abacus.Account) (abacus.Account, bool, error) {
	created := false
	err := s.inWrite(ctx, func(tx *sql.Tx) error {
		var low sql.NullInt64
		if a.LowBalance != nil {
			low = sql.NullInt64{Int64: a.LowBalance.Micros(), Valid: true}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, kind, name, currency, overdraft_limit, overdraft_unlimited, low_balance_threshold, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			string(a.ID), string(a.Kind), a.Name, string(a.Currency), a.Overdraft.Limit.Micros(), a.Overdraft.Unlimited, low, micros(a.CreatedAt))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		created = true
		for _, b := range abacus.CustomerBuckets {
			floor, has := a.Overdraft.Floor(b)
			if _, err := tx.ExecContext(ctx, `INSERT INTO wallets (account_id, bucket, currency, floor) VALUES (?, ?, ?, ?)`,
				string(a.ID), string(b), string(a.Currency), sql.NullInt64{Int64: floor.Micros(), Valid: has}); err != nil {
				return err
			}
		}
		return ensureSystemWallets(ctx, tx, a.Currency)
	})
	if err != nil {
		return abacus.Account{}, false, err
	}
	stored, err := s.AccountGet(ctx, a.ID)
	return stored, created, err
}

// ensureSystemWallets creates the main wallet of every system account in
// a currency, and revenue's shards. It names the system accounts by id:
// it runs for every account created, which must not read all accounts.
func ensureSystemWallets(ctx context.Context, tx *sql.Tx, c abacus.Currency) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO wallets (account_id, bucket, currency, floor)
		SELECT id, 'main', ?, NULL FROM accounts WHERE id IN (`+placeholders(len(abacus.SystemAccounts))+`) AND kind = 'system' ORDER BY id
		ON CONFLICT (account_id, bucket, currency) DO NOTHING`, append([]any{string(c)}, anys(abacus.SystemAccountIDs())...)...)
	for k := 1; k < abacus.RevenueShards && err == nil; k++ {
		_, err = tx.ExecContext(ctx, `INSERT INTO wallets (account_id, bucket, currency, floor) VALUES (?, ?, ?, NULL)
			ON CONFLICT (account_id, bucket, currency) DO NOTHING`, string(abacus.SystemRevenue.ID()), string(abacus.RevenueShard(k)), string(c))
	}
	return err
}

// inWrite runs fn in a write transaction outside the ledger engine.
func (s *Store) inWrite(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// AccountGet implements abacus.Store.
func (s *Store) AccountGet(ctx context.Context, id abacus.AccountID) (abacus.Account, error) {
	var a abacus.Account
	var limit, at int64
	var low sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT id, kind, name, currency, overdraft_limit, overdraft_unlimited, low_balance_threshold, created_at
		FROM accounts WHERE id = ?`, string(id)).Scan(&a.ID, &a.Kind, &a.Name, &a.Currency, &limit, &a.Overdraft.Unlimited, &low, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("account", id)
	}
	a.Overdraft.Limit, a.CreatedAt = abacus.AmountFromMicros(limit), fromMicros(at)
	if low.Valid {
		v := abacus.AmountFromMicros(low.Int64)
		a.LowBalance = &v
	}
	return a, err
}

// Wallets implements abacus.Store.
func (s *Store) Wallets(ctx context.Context, accounts []abacus.AccountID) ([]abacus.Wallet, error) {
	return queryWallets(ctx, s.read, accounts)
}

// queryWallets reads the wallets of accounts, in id order.
func queryWallets(ctx context.Context, q querier, accounts []abacus.AccountID) ([]abacus.Wallet, error) {
	var out []abacus.Wallet
	err := chunks(sortedUnique(accounts), func(c []abacus.AccountID) error {
		rows, err := q.QueryContext(ctx, `SELECT `+walletColumns+` FROM wallets WHERE account_id IN (`+placeholders(len(c))+`) ORDER BY id`, anys(c)...)
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
	// Each chunk of accounts comes in id order; the whole answer must too.
	slices.SortFunc(out, func(x, y abacus.Wallet) int { return cmp.Compare(x.ID, y.ID) })
	return out, err
}

// SystemWalletsEnsure implements abacus.Store.
func (s *Store) SystemWalletsEnsure(ctx context.Context, c abacus.Currency) ([]abacus.Wallet, error) {
	var out []abacus.Wallet
	err := s.inWrite(ctx, func(tx *sql.Tx) error {
		if err := ensureSystemWallets(ctx, tx, c); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+walletColumns+` FROM wallets
			WHERE currency = ? AND account_id IN (`+placeholders(len(abacus.SystemAccounts))+`) ORDER BY id`,
			append([]any{string(c)}, anys(abacus.SystemAccountIDs())...)...)
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
	return out, err
}
