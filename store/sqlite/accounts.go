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
	created, err := s.AccountsCreate(ctx, []abacus.Account{a})
	if err != nil {
		return abacus.Account{}, false, err
	}
	stored, err := s.AccountGet(ctx, a.ID)
	return stored, len(created) == 1, err
}

// AccountsCreate implements abacus.Store.
func (s *Store) AccountsCreate(ctx context.Context, accounts []abacus.Account) ([]abacus.AccountID, error) {
	var created []abacus.AccountID
	err := s.inWrite(ctx, func(tx *sql.Tx) error {
		created = created[:0]
		insert, err := tx.PrepareContext(ctx, `INSERT INTO accounts (id, kind, name, currency, overdraft_limit, overdraft_unlimited, low_balance_threshold, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer insert.Close()
		wallet, err := tx.PrepareContext(ctx, `INSERT INTO wallets (account_id, bucket, currency, floor) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer wallet.Close()
		currencies := map[abacus.Currency]bool{}
		for _, a := range accounts {
			var low sql.NullInt64
			if a.LowBalance != nil {
				low = sql.NullInt64{Int64: a.LowBalance.Micros(), Valid: true}
			}
			res, err := insert.ExecContext(ctx, string(a.ID), string(a.Kind), a.Name, string(a.Currency), a.Overdraft.Limit.Micros(), a.Overdraft.Unlimited, low, micros(a.CreatedAt))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue
			}
			created = append(created, a.ID)
			for _, b := range abacus.CustomerBuckets {
				floor, has := a.Overdraft.Floor(b)
				if _, err := wallet.ExecContext(ctx, string(a.ID), string(b), string(a.Currency), sql.NullInt64{Int64: floor.Micros(), Valid: has}); err != nil {
					return err
				}
			}
			if !currencies[a.Currency] {
				currencies[a.Currency] = true
				if err := ensureSystemWallets(ctx, tx, a.Currency); err != nil {
					return err
				}
			}
		}
		return nil
	})
	slices.Sort(created)
	return created, err
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
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// beginWrite takes the write lock (the writer's BEGIN is IMMEDIATE).
// While another process holds it past the busy timeout (a long import or
// correction) it asks again, as the engine does with its batches, for up
// to busyAttempts timeouts, and then gives up with an error that
// store.Unavailable knows: 503 over HTTP (QA: an account created beside a
// 15 s correction was a 500, and a new currency's first event failed).
// Only BEGIN is asked again: fn has not run.
func (s *Store) beginWrite(ctx context.Context) (*sql.Tx, error) {
	for attempt := 1; ; attempt++ {
		tx, err := s.begin(ctx)
		switch {
		case err == nil, !IsBusy(err), ctx.Err() != nil:
			return tx, err
		case attempt == busyAttempts:
			return nil, busyError{err}
		}
	}
}

// busyAttempts is how many busy timeouts beginWrite waits: a minute.
const busyAttempts = 6

// busyError is SQLite's busy error once beginWrite stopped waiting.
type busyError struct{ err error }

func (e busyError) Error() string { return e.err.Error() }
func (e busyError) Unwrap() error { return e.err }

// Busy tells store.Unavailable that the database is held by another.
func (busyError) Busy() bool { return true }

// AccountGet implements abacus.Store.
func (s *Store) AccountGet(ctx context.Context, id abacus.AccountID) (abacus.Account, error) {
	a, err := scanAccount(s.read.QueryRowContext(ctx, `SELECT `+accountColumns+`
		FROM accounts WHERE id = ?`, string(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return abacus.Account{}, notFound("account", id)
	}
	return a, err
}

// Accounts implements abacus.Store.
func (s *Store) Accounts(ctx context.Context, ids []abacus.AccountID) ([]abacus.Account, error) {
	var out []abacus.Account
	err := chunks(sortedUnique(ids), func(c []abacus.AccountID) error {
		rows, err := s.read.QueryContext(ctx, `SELECT `+accountColumns+`
			FROM accounts WHERE id IN (`+placeholders(len(c))+`) ORDER BY id`, anys(c)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanAccount(rows)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	return out, err
}

const accountColumns = `id, kind, name, currency, overdraft_limit, overdraft_unlimited, low_balance_threshold, created_at`

func scanAccount(row interface{ Scan(...any) error }) (abacus.Account, error) {
	var a abacus.Account
	var limit, at int64
	var low sql.NullInt64
	err := row.Scan(&a.ID, &a.Kind, &a.Name, &a.Currency, &limit, &a.Overdraft.Unlimited, &low, &at)
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

// SystemWalletsEnsure implements abacus.Store. It reads first: once a
// currency's system wallets exist, as they do for every call but the
// first, no write lock is needed to find them (QA: `abacus void` beside a
// long writer gave up after the busy timeout, where serve, which had them
// cached, waited its turn).
func (s *Store) SystemWalletsEnsure(ctx context.Context, c abacus.Currency) ([]abacus.Wallet, error) {
	if out, err := systemWallets(ctx, s.read, c); err != nil || len(out) == len(abacus.SystemAccounts)+abacus.RevenueShards-1 {
		return out, err
	}
	var out []abacus.Wallet
	err := s.inWrite(ctx, func(tx *sql.Tx) error {
		if err := ensureSystemWallets(ctx, tx, c); err != nil {
			return err
		}
		var err error
		out, err = systemWallets(ctx, tx, c)
		return err
	})
	return out, err
}

func systemWallets(ctx context.Context, q querier, c abacus.Currency) ([]abacus.Wallet, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+walletColumns+` FROM wallets
		WHERE currency = ? AND account_id IN (`+placeholders(len(abacus.SystemAccounts))+`) ORDER BY id`,
		append([]any{string(c)}, anys(abacus.SystemAccountIDs())...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []abacus.Wallet
	for rows.Next() {
		w, err := scanWallet(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}
