package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/abacus-billing/abacus"
)

// APIKeyCreate implements abacus.Store.
func (s *Store) APIKeyCreate(ctx context.Context, k abacus.APIKey) error {
	var acct *string
	if k.Account != "" {
		a := string(k.Account)
		acct = &a
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO api_keys (id, name, role, account_id, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, k.Name, string(k.Role), acct, k.Hash, k.CreatedAt)
	if pgCode(err) == "23505" {
		return abacus.Errorf(abacus.CodeConflict, "", "an API key with this id or token exists already")
	}
	return err
}

const apiKeyColumns = `id, name, role, account_id, hash, created_at, revoked_at`

func scanAPIKey(row pgx.Row) (abacus.APIKey, error) {
	var k abacus.APIKey
	var acct *string
	var revoked *time.Time
	err := row.Scan(&k.ID, &k.Name, &k.Role, &acct, &k.Hash, &k.CreatedAt, &revoked)
	if acct != nil {
		k.Account = abacus.AccountID(*acct)
	}
	k.CreatedAt, k.RevokedAt = k.CreatedAt.UTC(), fromNullTime(revoked)
	return k, err
}

// APIKeyByHash implements abacus.Store.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (abacus.APIKey, error) {
	k, err := scanAPIKey(s.pool.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return k, abacus.Errorf(abacus.CodeNotFound, "", "no such API key")
	}
	return k, err
}

// APIKeys implements abacus.Store.
func (s *Store) APIKeys(ctx context.Context) ([]abacus.APIKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY created_at, id`)
	return collect(rows, err, scanAPIKey)
}

// APIKeyRevoke implements abacus.Store.
func (s *Store) APIKeyRevoke(ctx context.Context, id string, at time.Time) error {
	ct, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, at, id)
	if err == nil && ct.RowsAffected() == 0 {
		return notFound("API key", id)
	}
	return err
}
