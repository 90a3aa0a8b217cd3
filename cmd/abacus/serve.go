package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/abacus-billing/abacus"
	abacushttp "github.com/abacus-billing/abacus/http"
	"github.com/abacus-billing/abacus/ledger"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "", stderr)
	db := dbFlag(fs)
	addr := fs.String("addr", envOr("ABACUS_ADDR", "127.0.0.1:8086"), "address to listen on (env ABACUS_ADDR)")
	maxBatch := fs.Int("max-batch", 4000, "most ledger operations committed in one database transaction")
	workers := fs.Int("workers", 0, "batches in flight at once (default 1 on SQLite, 4 on PostgreSQL)")
	expireEvery := fs.Duration("expire-every", 10*time.Second, "how often holds past their expiry are released")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	st, err := openMigrated(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := ensureAdminKey(ctx, st, os.Getenv("ABACUS_ADMIN_TOKEN"), stdout); err != nil {
		return err
	}
	if *workers == 0 {
		*workers = 1
		if isPostgres(*db) {
			*workers = 4
		}
	}
	engine := ledger.New(st, ledger.Config{MaxBatch: *maxBatch, Workers: *workers, Logger: log})
	api := abacushttp.NewServer(engine, log)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		engine.Close()
		return err
	}
	srv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	fmt.Fprintf(stdout, "abacus %s listening on http://%s\n", version, ln.Addr())
	fmt.Fprintf(stdout, "data: %s\n", describeDB(*db))

	loopCtx, stopLoops := context.WithCancel(context.Background())
	go engine.ExpireLoop(loopCtx, *expireEvery)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err = <-served:
	case <-ctx.Done():
		fmt.Fprintln(stdout, "shutting down: finishing requests in flight")
	}
	// Stop taking requests and wait for those in flight: each waits for
	// its batch to commit or roll back. Then stop the engine, which drains
	// what is still queued.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		log.Error("http shutdown", "err", serr)
	}
	stopLoops()
	engine.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	fmt.Fprintln(stdout, "stopped")
	return err
}

// ensureAdminKey makes sure somebody can administer abacus: with
// ABACUS_ADMIN_TOKEN set, that token is an admin key; otherwise a database
// without keys gets one admin key, printed once.
func ensureAdminKey(ctx context.Context, st abacus.Store, token string, stdout io.Writer) error {
	now := time.Now().UTC()
	if token != "" {
		hash := abacus.HashToken(token)
		_, err := st.APIKeyByHash(ctx, hash)
		if abacus.ErrorCodeOf(err) != abacus.CodeNotFound {
			return err
		}
		id := "key_env_" + hex.EncodeToString(hash[:4])
		err = st.APIKeyCreate(ctx, abacus.NewAPIKeyWithToken(id, "from ABACUS_ADMIN_TOKEN", abacus.RoleAdmin, "", token, now))
		if err == nil {
			fmt.Fprintf(stdout, "admin API key %s: the token in ABACUS_ADMIN_TOKEN\n", id)
		}
		return err
	}
	keys, err := st.APIKeys(ctx)
	if err != nil || len(keys) > 0 {
		return err
	}
	k, tok, err := abacus.NewAPIKey("first admin", abacus.RoleAdmin, "", now)
	if err != nil {
		return err
	}
	if err := st.APIKeyCreate(ctx, k); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created admin API key %s; it is shown only this once:\n\n    %s\n\n", k.ID, tok)
	return nil
}
