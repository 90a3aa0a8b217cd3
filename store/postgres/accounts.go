package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/abacus-billing/abacus"
)

// AccountCreate implements abacus.Store.
func (s *Store) AccountCreate(ctx context.Context, a abacus.Account) (abacus.Account, bool, error) {
	created := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var low *int64
		if a.LowBalance != nil {
			v := a.LowBalance.Micros()
			low = &v
		}
		ct, err := tx.Exec(ctx, `INSERT INTO accounts (id, kind, name, currency, overdraft_limit, overdraft_unlimited, low_balance_threshold, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
			string(a.ID), string(a.Kind), a.Name, string(a.Currency), a.Overdraft.Limit.Micros(), a.Overdraft.Unlimited, low, a.CreatedAt)
		if err != nil || ct.RowsAffected() == 0 {
			return err
		}
		created = true
		for _, b := range abacus.CustomerBuckets {
			var floor *int64
			if f, has := a.Overdraft.Floor(b); has {
				m := f.Micros()
				floor = &m
			}
			if _, err := tx.Exec(ctx, `INSERT INTO wallets (account_id, bucket, currency, floor) VALUES ($1, $2, $3, $4)`,
				string(a.ID), string(b), string(a.Currency), floor); err != nil {
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
func ensureSystemWallets(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, c abacus.Currency) error {
	shards := make([]string, 0, abacus.RevenueShards)
	for k := 1; k < abacus.RevenueShards; k++ {
		shards = append(shards, string(abacus.RevenueShard(k)))
	}
	_, err := q.Exec(ctx, `INSERT INTO wallets (account_id, bucket, currency, floor)
		SELECT id, 'main', $1, NULL::bigint FROM accounts WHERE id = ANY($4) AND kind = 'system'
		UNION ALL SELECT $2, b, $1, NULL::bigint FROM unnest($3::text[]) b
		ORDER BY 1, 2
		ON CONFLICT (account_id, bucket, currency) DO NOTHING`, string(c), string(abacus.SystemRevenue.ID()), shards, abacus.SystemAccountIDs())
	return err
}

// AccountGet implements abacus.Store.
func (s *Store) AccountGet(ctx context.Context, id abacus.AccountID) (abacus.Account, error) {
	var a abacus.Account
	var limit int64
	var low *int64
	err := s.pool.QueryRow(ctx, `SELECT id, kind, name, currency, overdraft_limit, overdraft_unlimited, low_balance_threshold, created_at
		FROM accounts WHERE id = $1`, string(id)).Scan(&a.ID, &a.Kind, &a.Name, &a.Currency, &limit, &a.Overdraft.Unlimited, &low, &a.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, notFound("account", id)
	}
	a.Overdraft.Limit, a.CreatedAt = abacus.AmountFromMicros(limit), a.CreatedAt.UTC()
	if low != nil {
		v := abacus.AmountFromMicros(*low)
		a.LowBalance = &v
	}
	return a, err
}

// Wallets implements abacus.Store.
func (s *Store) Wallets(ctx context.Context, accounts []abacus.AccountID) ([]abacus.Wallet, error) {
	return queryWallets(ctx, s.pool, accounts)
}

// queryWallets reads the wallets of accounts, in id order.
func queryWallets(ctx context.Context, q queryer, accounts []abacus.AccountID) ([]abacus.Wallet, error) {
	ids := make([]string, len(accounts))
	for i, a := range accounts {
		ids[i] = string(a)
	}
	rows, err := q.Query(ctx, `SELECT `+walletColumns+` FROM wallets WHERE account_id = ANY($1) ORDER BY id`, ids)
	return collect(rows, err, scanWallet)
}

// SystemWalletsEnsure implements abacus.Store.
func (s *Store) SystemWalletsEnsure(ctx context.Context, c abacus.Currency) ([]abacus.Wallet, error) {
	if err := ensureSystemWallets(ctx, s.pool, c); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+walletColumns+` FROM wallets
		WHERE account_id = ANY($2) AND currency = $1 ORDER BY id`, string(c), abacus.SystemAccountIDs())
	return collect(rows, err, scanWallet)
}
