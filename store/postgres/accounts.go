package postgres

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/abacus-billing/abacus"
)

// AccountCreate implements abacus.Store.
func (s *Store) AccountCreate(ctx context.Context, a abacus.Account) (abacus.Account, bool, error) {
	created, err := s.AccountsCreate(ctx, []abacus.Account{a})
	if err != nil {
		return abacus.Account{}, false, err
	}
	stored, err := s.AccountGet(ctx, a.ID)
	return stored, len(created) == 1, err
}

// AccountsCreate implements abacus.Store. The accounts go in in id order,
// so that two processes creating overlapping sets wait for each other's
// keys in one order and never deadlock.
func (s *Store) AccountsCreate(ctx context.Context, accounts []abacus.Account) ([]abacus.AccountID, error) {
	sorted := slices.SortedFunc(slices.Values(accounts), func(x, y abacus.Account) int { return cmp.Compare(x.ID, y.ID) })
	n := len(sorted)
	ids, kinds, names, currencies := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	limits, lows, unlimited, at := make([]int64, n), make([]*int64, n), make([]bool, n), make([]time.Time, n)
	byID := make(map[abacus.AccountID]*abacus.Account, n)
	for i := range sorted {
		a := &sorted[i]
		ids[i], kinds[i], names[i], currencies[i] = string(a.ID), string(a.Kind), a.Name, string(a.Currency)
		limits[i], unlimited[i], at[i] = a.Overdraft.Limit.Micros(), a.Overdraft.Unlimited, a.CreatedAt
		if a.LowBalance != nil {
			v := a.LowBalance.Micros()
			lows[i] = &v
		}
		byID[a.ID] = a
	}
	var created []abacus.AccountID
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `INSERT INTO accounts (id, kind, name, currency, overdraft_limit, overdraft_unlimited, low_balance_threshold, created_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bool[], $7::bigint[], $8::timestamptz[])
			ON CONFLICT (id) DO NOTHING RETURNING id`, ids, kinds, names, currencies, limits, unlimited, lows, at)
		created, err = collect(rows, err, func(r pgx.Row) (abacus.AccountID, error) {
			var id abacus.AccountID
			return id, r.Scan(&id)
		})
		if err != nil || len(created) == 0 {
			return err
		}
		slices.Sort(created)
		var wAccounts, wBuckets, wCurrencies []string
		var wFloors []*int64
		fresh := map[abacus.Currency]bool{}
		for _, id := range created {
			a := byID[id]
			fresh[a.Currency] = true
			for _, b := range abacus.CustomerBuckets {
				var floor *int64
				if f, has := a.Overdraft.Floor(b); has {
					m := f.Micros()
					floor = &m
				}
				wAccounts, wBuckets, wCurrencies, wFloors = append(wAccounts, string(id)), append(wBuckets, string(b)), append(wCurrencies, string(a.Currency)), append(wFloors, floor)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO wallets (account_id, bucket, currency, floor)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])`, wAccounts, wBuckets, wCurrencies, wFloors); err != nil {
			return err
		}
		for _, c := range slices.Sorted(maps.Keys(fresh)) {
			if err := ensureSystemWallets(ctx, tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	return created, err
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
	a, err := scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, string(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return abacus.Account{}, notFound("account", id)
	}
	return a, err
}

// Accounts implements abacus.Store.
func (s *Store) Accounts(ctx context.Context, ids []abacus.AccountID) ([]abacus.Account, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = string(id)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = ANY($1) ORDER BY id`, keys)
	return collect(rows, err, scanAccount)
}

const accountColumns = `id, kind, name, currency, overdraft_limit, overdraft_unlimited, low_balance_threshold, created_at`

func scanAccount(row pgx.Row) (abacus.Account, error) {
	var a abacus.Account
	var limit int64
	var low *int64
	err := row.Scan(&a.ID, &a.Kind, &a.Name, &a.Currency, &limit, &a.Overdraft.Unlimited, &low, &a.CreatedAt)
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
