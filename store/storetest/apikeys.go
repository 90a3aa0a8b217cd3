package storetest

import (
	"testing"

	"github.com/abacus-billing/abacus"
)

func mustAPIKeys(t testing.TB, st abacus.Store) []abacus.APIKey {
	t.Helper()
	ks, err := st.APIKeys(t.Context())
	if err != nil {
		t.Fatalf("APIKeys: %v", err)
	}
	return ks
}

func mustKeyByHash(t testing.TB, st abacus.Store, hash []byte) abacus.APIKey {
	t.Helper()
	k, err := st.APIKeyByHash(t.Context(), hash)
	if err != nil {
		t.Fatalf("APIKeyByHash(%x): %v", hash, err)
	}
	return k
}

func testAPIKeys(t *testing.T, st abacus.Store) {
	ctx := t.Context()
	same(t, "APIKeys of a new store", mustAPIKeys(t, st), []abacus.APIKey(nil))
	admin := abacus.NewAPIKeyWithToken("key_admin", "ops ✓", abacus.RoleAdmin, "", "tok-admin", at(2))
	service := abacus.NewAPIKeyWithToken("key_svc", "hub backend", abacus.RoleService, "", "tok-svc", at(1))
	user := abacus.NewAPIKeyWithToken("key_a_user", "", abacus.RoleUser, accountID(7), "tok-user", at(2))
	odd := abacus.APIKey{ID: "key_odd", Name: "binary hash", Role: abacus.RoleService, Hash: []byte{0, 0xff, 0, 1}, CreatedAt: at(3)}
	for _, k := range []abacus.APIKey{admin, service, user, odd} {
		if err := st.APIKeyCreate(ctx, k); err != nil {
			t.Fatalf("APIKeyCreate(%s): %v", k.ID, err)
		}
	}
	for _, k := range []abacus.APIKey{admin, service, user, odd} {
		same(t, "APIKeyByHash("+k.ID+")", mustKeyByHash(t, st, k.Hash), k)
	}
	// Listed by creation time, then id.
	listed := []abacus.APIKey{service, user, admin, odd}
	same(t, "APIKeys", mustAPIKeys(t, st), listed)

	dupID := abacus.NewAPIKeyWithToken("key_admin", "again", abacus.RoleAdmin, "", "tok-other", at(5))
	wantCode(t, "APIKeyCreate with a taken id", st.APIKeyCreate(ctx, dupID), abacus.CodeConflict)
	dupHash := abacus.NewAPIKeyWithToken("key_new", "again", abacus.RoleAdmin, "", "tok-svc", at(5))
	wantCode(t, "APIKeyCreate with a taken token", st.APIKeyCreate(ctx, dupHash), abacus.CodeConflict)
	same(t, "APIKeys after conflicts", mustAPIKeys(t, st), listed)
	same(t, "the key whose token was reused", mustKeyByHash(t, st, service.Hash), service)

	for _, h := range [][]byte{abacus.HashToken("nope"), {}, admin.Hash[:31]} {
		_, err := st.APIKeyByHash(ctx, h)
		wantCode(t, "APIKeyByHash of an unknown token", err, abacus.CodeNotFound)
	}
}

func testAPIKeyRevoke(t *testing.T, st abacus.Store) {
	ctx := t.Context()
	k := abacus.NewAPIKeyWithToken("key_1", "k", abacus.RoleService, "", "tok-1", at(1))
	other := abacus.NewAPIKeyWithToken("key_2", "k", abacus.RoleService, "", "tok-2", at(1))
	for _, x := range []abacus.APIKey{k, other} {
		if err := st.APIKeyCreate(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.APIKeyRevoke(ctx, k.ID, at(10)); err != nil {
		t.Fatalf("APIKeyRevoke: %v", err)
	}
	revoked := k
	revoked.RevokedAt = at(10)
	same(t, "revoked key", mustKeyByHash(t, st, k.Hash), revoked)
	same(t, "the other key", mustKeyByHash(t, st, other.Hash), other)

	// Revoking again succeeds and keeps the first revocation time.
	for _, when := range []int{20, 5} {
		if err := st.APIKeyRevoke(ctx, k.ID, at(when)); err != nil {
			t.Fatalf("APIKeyRevoke again: %v", err)
		}
		same(t, "key revoked twice", mustKeyByHash(t, st, k.Hash), revoked)
	}
	same(t, "APIKeys after revoking", mustAPIKeys(t, st), []abacus.APIKey{revoked, other})

	wantCode(t, "APIKeyRevoke of an unknown key", st.APIKeyRevoke(ctx, "key_nope", at(30)), abacus.CodeNotFound)
	same(t, "APIKeys after revoking an unknown key", mustAPIKeys(t, st), []abacus.APIKey{revoked, other})
}
