package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/abacus-billing/abacus"
)

// APIKeyCreate implements abacus.Store.
func (s *Store) APIKeyCreate(ctx context.Context, k abacus.APIKey) error {
	return s.inWrite(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, name, role, account_id, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			k.ID, k.Name, string(k.Role), sql.NullString{String: string(k.Account), Valid: k.Account != ""}, k.Hash, micros(k.CreatedAt))
		if isUnique(err) {
			return abacus.Errorf(abacus.CodeConflict, "", "an API key with this id or token exists already")
		}
		return err
	})
}

const apiKeyColumns = `id, name, role, account_id, hash, created_at, revoked_at`

func scanAPIKey(sc interface{ Scan(...any) error }) (abacus.APIKey, error) {
	var k abacus.APIKey
	var acct sql.NullString
	var at int64
	var revoked sql.NullInt64
	err := sc.Scan(&k.ID, &k.Name, &k.Role, &acct, &k.Hash, &at, &revoked)
	k.Account, k.CreatedAt, k.RevokedAt = abacus.AccountID(acct.String), fromMicros(at), fromNullMicros(revoked)
	return k, err
}

// APIKeyByHash implements abacus.Store.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (abacus.APIKey, error) {
	k, err := scanAPIKey(s.read.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return k, abacus.Errorf(abacus.CodeNotFound, "", "no such API key")
	}
	return k, err
}

// APIKeys implements abacus.Store.
func (s *Store) APIKeys(ctx context.Context) ([]abacus.APIKey, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []abacus.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// APIKeyRevoke implements abacus.Store.
func (s *Store) APIKeyRevoke(ctx context.Context, id string, at time.Time) error {
	return s.inWrite(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, micros(at), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("API key", id)
		}
		return nil
	})
}

// isUnique reports whether err violates a UNIQUE or PRIMARY KEY
// constraint. SQLite reports the two with different extended codes: a
// taken api_keys.id is a PRIMARY KEY violation, a taken hash a UNIQUE one.
func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
}
