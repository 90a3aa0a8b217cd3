package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/abacus-billing/abacus"
)

// tokenWatchEvery is how often a running serve looks whether its
// ABACUS_ADMIN_TOKEN's key was revoked.
const tokenWatchEvery = 30 * time.Second

// watchTokenKey logs, once, that the key of ABACUS_ADMIN_TOKEN was
// revoked while this instance runs: by an instance started with a newer
// token, or by keys revoke. Requests with the token are then refused here
// too, and this instance's log had said nothing of why (QA).
func watchTokenKey(ctx context.Context, st abacus.Store, token string, every time.Duration, log *slog.Logger) {
	hash := abacus.HashToken(token)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// A database out of reach is told by the requests that need it.
		if k, err := st.APIKeyByHash(ctx, hash); err == nil && !k.RevokedAt.IsZero() {
			log.Warn("the key of ABACUS_ADMIN_TOKEN was revoked, so requests with that token are refused (401); restart this instance with the token of the admin key in force, or a new one",
				"key", k.ID, "revoked_at", k.RevokedAt.Format(time.RFC3339))
			return
		}
	}
}
