package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
)

// racingKeys lets another instance store the admin key between
// ensureAdminKey's look and its insert, as two instances started together
// with one ABACUS_ADMIN_TOKEN may.
type racingKeys struct {
	abacus.Store
	token string
	raced bool
}

func (r *racingKeys) APIKeyByHash(ctx context.Context, hash []byte) (abacus.APIKey, error) {
	if !r.raced {
		r.raced = true
		other := abacus.NewAPIKeyWithToken("key_other", "the other instance", abacus.RoleAdmin, "", r.token, time.Now())
		if err := r.Store.APIKeyCreate(ctx, other); err != nil {
			return abacus.APIKey{}, err
		}
		return abacus.APIKey{}, abacus.Errorf(abacus.CodeNotFound, "", "no such key")
	}
	return r.Store.APIKeyByHash(ctx, hash)
}

// TestAdminKeyRace: an admin key from the token that another instance
// stored first is the one wanted, not an error that stops the server.
func TestAdminKeyRace(t *testing.T) {
	st, err := openMigrated(t.Context(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const token = "abacus-test-admin-token-0123456789abcdef"
	r := &racingKeys{Store: st, token: token}
	if err := ensureAdminKey(t.Context(), r, token, io.Discard); err != nil || !r.raced {
		t.Fatalf("ensureAdminKey: %v (raced %v)", err, r.raced)
	}
	if k, err := st.APIKeyByHash(t.Context(), abacus.HashToken(token)); err != nil || k.Role != abacus.RoleAdmin {
		t.Fatalf("the key: %+v %v", k, err)
	}
}
