package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
)

// TestTokenKeyRevokedIsLogged: an instance whose ABACUS_ADMIN_TOKEN's key
// is revoked while it runs says so in its log, once, where it had refused
// the token without a word (QA).
func TestTokenKeyRevokedIsLogged(t *testing.T) {
	st := migratedStore(t)
	const token = "watched-admin-token-0123456789abcdef"
	if err := ensureAdminKey(t.Context(), st, token, io.Discard); err != nil {
		t.Fatal(err)
	}
	k, err := st.APIKeyByHash(t.Context(), abacus.HashToken(token))
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchTokenKey(t.Context(), st, token, 10*time.Millisecond, slog.New(slog.NewTextHandler(&out, nil)))
	}()
	time.Sleep(50 * time.Millisecond)
	if out.String() != "" {
		t.Fatalf("a key in force was logged: %s", out.String())
	}
	if err := st.APIKeyRevoke(t.Context(), k.ID, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the revocation was not seen within 5 s")
	}
	if got := out.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "the key of ABACUS_ADMIN_TOKEN was revoked") || !strings.Contains(got, "key="+k.ID) {
		t.Fatalf("logged %q", got)
	}
}
