package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"io"
	"path/filepath"
	"strings"
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
	st := migratedStore(t)
	const token = "abacus-test-admin-token-0123456789abcdef"
	r := &racingKeys{Store: st, token: token}
	if err := ensureAdminKey(t.Context(), r, token, io.Discard); err != nil || !r.raced {
		t.Fatalf("ensureAdminKey: %v (raced %v)", err, r.raced)
	}
	if k, err := st.APIKeyByHash(t.Context(), abacus.HashToken(token)); err != nil || k.Role != abacus.RoleAdmin {
		t.Fatalf("the key: %+v %v", k, err)
	}
}

// TestAdminTokenRotates: a changed ABACUS_ADMIN_TOKEN revokes the key the
// earlier one made, where it had stayed a valid admin key; a token revoked
// so, or one too short to be stored as a plain hash, stops the server
// with the reason.
func TestAdminTokenRotates(t *testing.T) {
	st := migratedStore(t)
	const first, second = "first-admin-token-0123456789abcdef", "second-admin-token-0123456789abcdef"
	revoked := func(token string) bool {
		t.Helper()
		k, err := st.APIKeyByHash(t.Context(), abacus.HashToken(token))
		if err != nil {
			t.Fatal(err)
		}
		return !k.RevokedAt.IsZero()
	}
	if err := ensureAdminKey(t.Context(), st, "short-token", io.Discard); err == nil || !strings.Contains(err.Error(), "ABACUS_ADMIN_TOKEN has 11 characters") {
		t.Fatalf("a short token: %v", err)
	}
	if err := ensureAdminKey(t.Context(), st, strings.Repeat("a", 31), io.Discard); err == nil || !strings.Contains(err.Error(), "only 1 different characters, so it is not random") {
		t.Fatalf("a token of one character (QA): %v", err)
	}
	if err := ensureAdminKey(t.Context(), st, "  "+first+"  ", io.Discard); err == nil || !strings.Contains(err.Error(), "white space") {
		t.Fatalf("a token with spaces around it, which no header carries: %v", err)
	}
	if err := ensureAdminKey(t.Context(), st, first, io.Discard); err != nil || revoked(first) {
		t.Fatalf("the first token: %v", err)
	}
	var out strings.Builder
	if err := ensureAdminKey(t.Context(), st, second, &out); err != nil || revoked(second) || !revoked(first) {
		t.Fatalf("the second token: %v; want it valid and the first revoked", err)
	}
	if !strings.Contains(out.String(), "revoked admin API key key_env_") {
		t.Fatalf("output %q does not say the first was revoked", out.String())
	}
	if err := ensureAdminKey(t.Context(), st, second, io.Discard); err != nil || revoked(second) {
		t.Fatalf("the second token again: %v", err)
	}
	// The token of a service key: refused, and nothing revoked (QA: it
	// stayed a service key, and the admin key before it was revoked).
	const service = "service-token-0123456789abcdef-0123"
	if err := st.APIKeyCreate(t.Context(), abacus.NewAPIKeyWithToken("key_svc", "svc", abacus.RoleService, "", service, time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := ensureAdminKey(t.Context(), st, service, io.Discard); err == nil || !strings.Contains(err.Error(), "is the token of service key key_svc, not an admin one") || revoked(second) {
		t.Fatalf("a service key's token: %v", err)
	}
	if err := ensureAdminKey(t.Context(), st, first, io.Discard); err == nil || !strings.Contains(err.Error(), "was revoked") || revoked(second) {
		t.Fatalf("the first token again: %v; want it refused, the second left valid", err)
	}
}

// rotatingKeys has another instance, started with a new token, store its
// key just before ensureAdminKey lists the keys.
type rotatingKeys struct {
	abacus.Store
	newToken string
	rotated  bool
}

func (r *rotatingKeys) APIKeys(ctx context.Context) ([]abacus.APIKey, error) {
	if !r.rotated {
		r.rotated = true
		hash := abacus.HashToken(r.newToken)
		k := abacus.NewAPIKeyWithToken("key_env_"+hex.EncodeToString(hash[:4]), envKeyName, abacus.RoleAdmin, "", r.newToken, time.Now().UTC())
		if err := r.Store.APIKeyCreate(ctx, k); err != nil {
			return nil, err
		}
	}
	return r.Store.APIKeys(ctx)
}

// TestAdminTokenRotationRace: an instance restarting with the old token
// while one starts with a new token leaves the new token's key in force,
// where each had revoked the other's and neither token could start a
// server again (QA).
func TestAdminTokenRotationRace(t *testing.T) {
	st := migratedStore(t)
	const old, fresh = "old-admin-token-0123456789abcdef", "new-admin-token-0123456789abcdef"
	if err := ensureAdminKey(t.Context(), st, old, io.Discard); err != nil {
		t.Fatal(err)
	}
	r := &rotatingKeys{Store: st, newToken: fresh}
	if err := ensureAdminKey(t.Context(), r, old, io.Discard); err == nil || !strings.Contains(err.Error(), "is newer than this one's") {
		t.Fatalf("the old token beside a newer one: %v", err)
	}
	// Revoked by the instance that stopped, as the newer token's may have
	// listed the keys before it (regression QA: both stayed valid).
	if k, err := st.APIKeyByHash(t.Context(), abacus.HashToken(old)); err != nil || k.RevokedAt.IsZero() {
		t.Fatalf("the old token's key after its instance stopped: %+v %v", k, err)
	}
	if err := ensureAdminKey(t.Context(), st, fresh, io.Discard); err != nil {
		t.Fatalf("the new token: %v", err)
	}
	keys, err := st.APIKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var valid []string
	for _, k := range keys {
		if k.RevokedAt.IsZero() {
			valid = append(valid, k.ID)
		}
	}
	newKey, err := st.APIKeyByHash(t.Context(), abacus.HashToken(fresh))
	if err != nil || len(valid) != 1 || valid[0] != newKey.ID {
		t.Fatalf("valid keys %v, want only the new token's (%v)", valid, err)
	}
}

// TestAdminTokenKeysAreTheTokensOwn: a key of another role that was given
// the tokens' keys' name is neither taken for a newer token's key nor
// revoked (regression QA: it stopped every server), and keys create
// refuses that name.
func TestAdminTokenKeysAreTheTokensOwn(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	st, err := openMigrated(t.Context(), db, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const token, service = "admin-token-0123456789abcdef-xyz", "service-token-0123456789abcdef-xyz"
	if err := ensureAdminKey(t.Context(), st, token, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := st.APIKeyCreate(t.Context(), abacus.NewAPIKeyWithToken("key_named", envKeyName, abacus.RoleService, "", service, time.Now().Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if err := ensureAdminKey(t.Context(), st, token, io.Discard); err != nil {
		t.Fatalf("a service key named as the tokens' keys: %v", err)
	}
	if k, err := st.APIKeyByHash(t.Context(), abacus.HashToken(service)); err != nil || !k.RevokedAt.IsZero() {
		t.Fatalf("the service key: %+v %v", k, err)
	}
	var stderr strings.Builder
	if code := run(t.Context(), []string{"keys", "create", "--db", db, "--role", "service", "--name", envKeyName}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "names the keys ABACUS_ADMIN_TOKEN makes") {
		t.Fatalf("keys create with the tokens' keys' name: exit %d, %s", code, stderr.String())
	}
}

// TestAdminTokenOfAnotherAdminKey: the token of an admin key the first
// start or keys create made is taken as it is, rotating nothing and
// rotated by nothing (regression QA: a newer token's key revoked it, and
// rotating away from it left it valid, unlike a token's key); a token
// key made at a time ahead of this clock is named as a clock error; a
// token whose key's id another key holds is refused saying so.
func TestAdminTokenOfAnotherAdminKey(t *testing.T) {
	st := migratedStore(t)
	first, firstToken, err := abacus.NewAPIKey("first admin", abacus.RoleAdmin, "", time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.APIKeyCreate(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	const t1 = "token-one-0123456789abcdef-xyz"
	for _, token := range []string{firstToken, t1, firstToken} {
		if err := ensureAdminKey(t.Context(), st, token, io.Discard); err != nil {
			t.Fatalf("%.12s…: %v", token, err)
		}
	}
	for _, token := range []string{firstToken, t1} {
		if k, err := st.APIKeyByHash(t.Context(), abacus.HashToken(token)); err != nil || !k.RevokedAt.IsZero() {
			t.Fatalf("%.12s…: %+v %v; want it valid", token, k, err)
		}
	}

	ahead := abacus.NewAPIKeyWithToken("key_env_ahead", envKeyName, abacus.RoleAdmin, "", "token-ahead-0123456789abcdef-xyz", time.Now().Add(time.Hour))
	if err := st.APIKeyCreate(t.Context(), ahead); err != nil {
		t.Fatal(err)
	}
	if err := ensureAdminKey(t.Context(), st, "token-two-0123456789abcdef-xyz", io.Discard); err == nil || !strings.Contains(err.Error(), "after this machine's clock") || !strings.Contains(err.Error(), "abacus keys revoke key_env_ahead") {
		t.Fatalf("a newer key from a clock ahead: %v", err)
	}

	const t3 = "token-three-0123456789abcdef-xyz"
	hash := abacus.HashToken(t3)
	taken := abacus.NewAPIKeyWithToken("key_env_"+hex.EncodeToString(hash[:8]), envKeyName, abacus.RoleAdmin, "", "another-token-0123456789abcdef-xyz", time.Now())
	if err := st.APIKeyCreate(t.Context(), taken); err != nil {
		t.Fatal(err)
	}
	if err := ensureAdminKey(t.Context(), st, t3, io.Discard); err == nil || !strings.Contains(err.Error(), "is another token's key's; choose a new token") {
		t.Fatalf("a token whose key's id is taken: %v", err)
	}
}

// migratedStore is a new SQLite database, closed when the test ends.
func migratedStore(t *testing.T) migrator {
	t.Helper()
	st, err := openMigrated(t.Context(), filepath.Join(t.TempDir(), "a.db"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestServeStoppedWhileWaitingForTheLock: stopped while another process
// holds the write lock it waits for as it starts, serve says so and ends
// as a stop does, not as a database locked past its wait (QA).
func TestServeStoppedWhileWaitingForTheLock(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	if _, err := runCLI(t, "migrate", "--db", db); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	var stderr strings.Builder
	start := time.Now()
	err = runServe(ctx, []string{"--db", db, "--addr", "127.0.0.1:0"}, io.Discard, &stderr)
	if err != nil || time.Since(start) > 5*time.Second || !strings.Contains(stderr.String(), "stopped while opening the database") {
		t.Fatalf("after %s: %v\n%s", time.Since(start), err, stderr.String())
	}
}
