package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	abacushttp "github.com/abacus-billing/abacus/http"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/metering"
	"github.com/abacus-billing/abacus/rating"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "", stderr)
	db := dbFlag(fs)
	addr := fs.String("addr", envOr("ABACUS_ADDR", "127.0.0.1:8086"), "address to listen on (env ABACUS_ADDR)")
	maxBatch := fs.Int("max-batch", 4000, "most ledger operations committed in one database transaction")
	workers := fs.Int("workers", 0, "batches in flight at once (default 1 on SQLite, 4 on PostgreSQL)")
	ingestMemory := fs.String("ingest-memory", envOr("ABACUS_INGEST_MEMORY", strconv.Itoa(abacushttp.DefaultIngestMemory>>20)),
		"MiB of usage request bodies the ingestion endpoint holds at once; more requests wait their turn (env ABACUS_INGEST_MEMORY)")
	requestMemory := fs.String("request-memory", envOr("ABACUS_REQUEST_MEMORY", strconv.Itoa(abacushttp.DefaultRequestMemory>>20)),
		"MiB the API's other requests (bodies, pages of listings) hold at once; more wait their turn, up to 10 s, then get 503 (env ABACUS_REQUEST_MEMORY)")
	connectionsPerKey := fs.String("connections-per-key", envOr("ABACUS_CONNECTIONS_PER_KEY", strconv.Itoa(abacushttp.DefaultConnectionsPerKey)),
		"connections one API key keeps open between requests; its others are closed after their answer (env ABACUS_CONNECTIONS_PER_KEY)")
	expireEvery := fs.Duration("expire-every", 10*time.Second, "how often holds past their expiry are released")
	usage := usageFlags(fs)
	checkZone, applyZone := billingZoneFlag(fs)
	burstStep := fs.String("burst-step", "5", "burst levels: one level per this many percent of utilisation")
	burstMax := fs.Int("burst-max", 20, "burst levels: the highest level")
	natsURL := fs.String("nats", os.Getenv("ABACUS_NATS_URL"), "consume usage events from this NATS JetStream server, e.g. nats://127.0.0.1:4222 (env ABACUS_NATS_URL)")
	natsStream := fs.String("nats-stream", "meteringEventStream", "the JetStream stream of usage events (created if missing)")
	natsSubject := fs.String("nats-subject", metering.DefaultSubjects,
		"the subjects usage events are published to: subjects or wildcard filters (accounting.metering.>), comma separated; by default those the stream does not capture are only logged")
	natsDurable := fs.String("nats-durable", "abacus-metering", "the durable consumer's name")
	natsDeadLetters := fs.String("nats-dead-letter-subject", metering.DefaultDeadLetterSubject,
		"where messages that cannot be charged are published, with the reason; not within --nats-subject")
	natsFetchMemory := fs.String("nats-fetch-memory", envOr("ABACUS_NATS_FETCH_MEMORY", strconv.Itoa(metering.DefaultMaxBytes>>20)),
		"MiB of messages one pull from NATS fetches at most (two are held at once); never below the server's max_payload (env ABACUS_NATS_FETCH_MEMORY)")
	logLevel := fs.String("log-level", envOr("ABACUS_LOG_LEVEL", "info"), "debug, info, warn or error; debug also logs each NATS message's way by its stream sequence (env ABACUS_LOG_LEVEL)")
	natsStatsEvery := fs.Duration("nats-stats-every", time.Minute, "how often the NATS consumer's counters are logged, when they changed (0: only on shutdown)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	ecfg, err := usage()
	if err != nil {
		return err
	}
	if err := checkZone(); err != nil {
		return err
	}
	ingestBytes, err := mebibytes(fs, "ingest-memory", *ingestMemory)
	if err != nil {
		return err
	}
	requestBytes, err := mebibytes(fs, "request-memory", *requestMemory)
	if err != nil {
		return err
	}
	natsFetchBytes, err := mebibytes(fs, "nats-fetch-memory", *natsFetchMemory)
	if err != nil {
		return err
	}
	keptPerKey, err := strconv.Atoi(*connectionsPerKey)
	if err != nil || keptPerKey < 1 || keptPerKey > maxConnectionsPerKey {
		return usagef("%s: %q is not a number of connections from 1 to %d", flagOrEnv(fs, "connections-per-key"), *connectionsPerKey, maxConnectionsPerKey)
	}
	if *natsURL == "" { // a consumer's settings without a server to consume from (QA: started without a word)
		var given string
		fs.Visit(func(f *flag.Flag) {
			if given == "" && strings.HasPrefix(f.Name, "nats-") {
				given = f.Name
			}
		})
		if given != "" {
			return usagef("--%s goes with --nats (or ABACUS_NATS_URL), which is not set: without it nothing is consumed from NATS", given)
		}
	}
	if *natsURL != "" {
		if err := metering.CheckURL(*natsURL); err != nil {
			return usagef("%s: %w", givenAs(fs, "nats", "ABACUS_NATS_URL"), err)
		}
		for flag, v := range map[string]string{"nats-stream": *natsStream, "nats-subject": *natsSubject, "nats-durable": *natsDurable, "nats-dead-letter-subject": *natsDeadLetters} {
			if strings.TrimSpace(v) == "" { // the defaults were used, and the banner named none (QA)
				return usagef("--%s is empty", flag)
			}
		}
	}
	if *natsStatsEvery < 0 {
		return usagef("--nats-stats-every: %s is negative", *natsStatsEvery)
	}
	// Checked before anything is opened: each of these had been taken as a
	// default without a word, or failed only once the server ran (QA).
	switch {
	case strings.TrimSpace(*addr) == "":
		return usagef("--addr is empty: give host:port, such as 127.0.0.1:8086 (an empty one listened on every interface)")
	case !hostPort(*addr):
		return usagef("%s: %q is not host:port with a port from 0 to 65535, such as 127.0.0.1:8086", flagOrEnv(fs, "addr"), *addr)
	case *expireEvery <= 0:
		return usagef("--expire-every: %s is not a positive duration", *expireEvery)
	case *maxBatch < 1 || *maxBatch > maxLedgerBatch:
		return usagef("--max-batch: %d is not from 1 to %d operations", *maxBatch, maxLedgerBatch)
	case *workers < 0 || *workers > maxWorkers:
		return usagef("--workers: %d is not from 1 to %d (0: the store's default)", *workers, maxWorkers)
	}
	if err := checkAdminToken(os.Getenv("ABACUS_ADMIN_TOKEN")); err != nil {
		return err
	}
	step, err := decimal.NewFromString(*burstStep)
	if err != nil || !abacus.PlainDecimal(*burstStep) || !step.IsPositive() { // "1e1" is not 10 here
		return usagef("--burst-step: %q is not a positive decimal such as 5 or 2.5", *burstStep)
	}
	if *burstMax < 1 { // QA: one message had named both flags, and neither value
		return usagef("--burst-max: %d is not a level from 1", *burstMax)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil || strings.ContainsAny(*logLevel, "+-") {
		return usagef("%s: %q is not one of debug, info, warn, error", flagOrEnv(fs, "log-level"), *logLevel)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	// Listening first: a port taken had ended serve after the first admin
	// key was made and printed "only this once" (QA).
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	st, err := openMigrated(ctx, *db, stderr)
	if err != nil {
		ln.Close()
		if ctx.Err() != nil { // stopped waiting for the database, another writer's lock say
			fmt.Fprintln(stderr, "abacus serve: stopped while opening the database, before it served (each migration commits alone: run it again to apply the rest)")
			return nil
		}
		return err
	}
	defer st.Close()
	if err := applyZone(ctx, st, stdout); err != nil {
		ln.Close()
		return err
	}
	zone, err := storedZone(ctx, st)
	if err != nil {
		ln.Close()
		return err
	}
	if err := ensureAdminKey(ctx, st, os.Getenv("ABACUS_ADMIN_TOKEN"), stdout); err != nil {
		ln.Close()
		return err
	}
	if *workers == 0 {
		*workers = 1
		if isPostgres(*db) {
			*workers = 4
		}
	}
	ecfg.MaxBatch, ecfg.Workers, ecfg.Logger = *maxBatch, *workers, log
	engine := ledger.New(st, ecfg)
	api := abacushttp.NewServer(engine, abacushttp.Config{Logger: log, IngestMemory: ingestBytes, RequestMemory: requestBytes,
		ConnectionsPerKey: keptPerKey})

	srv := api.HTTPServer(slog.NewLogLogger(log.Handler(), slog.LevelWarn))

	loopCtx, stopLoops := context.WithCancel(context.Background())
	go engine.ExpireLoop(loopCtx, *expireEvery)
	go engine.BurstLoop(loopCtx, rating.LevelRule{Step: step, Max: *burstMax})
	if token := os.Getenv("ABACUS_ADMIN_TOKEN"); token != "" {
		go watchTokenKey(loopCtx, st, token, tokenWatchEvery, log)
	}
	var consumer *metering.Consumer
	var consumerFailed <-chan struct{} // nil, never ready, without a consumer
	var statsLogged chan struct{}
	if *natsURL != "" {
		subject := "" // the default: the subjects of it the stream does not capture are logged, not refused
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "nats-subject" {
				subject = *natsSubject
			}
		})
		consumer = metering.NewConsumer(metering.ConsumerConfig{URL: *natsURL, Stream: *natsStream, Subject: subject,
			Durable: *natsDurable, DeadLetterSubject: strings.TrimSpace(*natsDeadLetters), MaxBytes: int(natsFetchBytes), Logger: log}, &metering.Pipeline{Engine: engine}, st)
		if err := consumer.Start(loopCtx); err != nil {
			ln.Close()
			stopLoops()
			engine.Close()
			var bad *metering.ConfigError
			if errors.As(err, &bad) {
				return usagef("--%s: %w", natsFlags[bad.Field], bad.Err)
			}
			return fmt.Errorf("the NATS consumer: %w", err)
		}
		// What the stream captures of the subjects, not all of them (QA:
		// it named subjects that the log said the stream did not capture).
		subjects := *natsSubject + ", as far as the stream captures them (NATS is not reachable yet: the log says which once it is)"
		if takes := consumer.Takes(); takes != nil {
			subjects = strings.Join(takes, ",")
		}
		fmt.Fprintf(stdout, "consuming usage events from %s (stream %s, subjects %s)\n", metering.RedactURL(*natsURL), *natsStream, subjects)
		consumerFailed = consumer.Failed()
		statsLogged = make(chan struct{})
		go func() {
			defer close(statsLogged)
			logConsumerStats(loopCtx, *natsStatsEvery, consumer.Stats, log)
		}()
	}
	// Said once everything has started: a consumer that cannot start ends
	// serve before it claims to listen.
	fmt.Fprintf(stdout, "billing months: the calendar months of %s\n", zone)
	fmt.Fprintf(stdout, "abacus %s listening on http://%s\n", version, ln.Addr())
	fmt.Fprintf(stdout, "data: %s\n", describeDB(*db))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err = <-served:
	case <-ctx.Done():
		fmt.Fprintln(stdout, "shutting down: finishing requests in flight")
	case <-consumerFailed:
		// Going on would answer requests and /healthz while usage on NATS
		// is no longer charged: better to exit and be restarted.
		err = fmt.Errorf("%s: the consumer stopped, so abacus exits: %w", givenAs(fs, "nats", "ABACUS_NATS_URL"), consumer.Err())
		fmt.Fprintln(stdout, "shutting down: the NATS consumer stopped")
	}
	// Stop taking requests and wait for those in flight: each waits for
	// its batch to commit or roll back. Then stop the engine, which drains
	// what is still queued.
	// As long as a request may take: an admitted one has that to be
	// answered. (It had been 30 s, and requests still at work were cut off
	// without an answer, with exit status 0 (QA).)
	wait := abacushttp.RequestDeadline() + 10*time.Second
	shutdownCtx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var cut error
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		srv.Close()
		log.Error("http shutdown: requests still in flight were cut off", "waited", wait.String(), "err", serr)
		cut = fmt.Errorf("requests still in flight after %s were cut off without an answer; their events may have been charged: sending them again is safe", wait)
	}
	if consumer != nil {
		consumer.Stop() // commits and acks its batch in flight
	}
	stopLoops()
	if statsLogged != nil {
		<-statsLogged // the last counters, after Stop settled the last batch
	}
	engine.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	fmt.Fprintln(stdout, "stopped")
	return errors.Join(err, cut)
}

// logConsumerStats logs the NATS consumer's counters every so often when
// they changed, and once more when ctx is done: they are how an operator
// sees that dead letters pile up or that nothing arrives. With every 0 it
// logs only at the end.
func logConsumerStats(ctx context.Context, every time.Duration, stats func() metering.ConsumerStats, log *slog.Logger) {
	var logged metering.ConsumerStats
	flush := func() {
		if s := stats(); s != logged {
			logged = s
			log.Info("NATS consumer", "received", s.Received, "redelivered", s.Redelivered, "accepted", s.Accepted,
				"duplicate", s.Duplicate, "rejected", s.Rejected, "dead_lettered", s.DeadLettered, "retried", s.Retried)
		}
	}
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			flush()
		case <-ctx.Done():
			flush()
			return
		}
	}
}

// envKeyName names the admin keys ABACUS_ADMIN_TOKEN made.
const envKeyName = "from ABACUS_ADMIN_TOKEN"

// minAdminToken is the shortest ABACUS_ADMIN_TOKEN taken: keys are stored
// as plain SHA-256 hashes, which only a long random token keeps from being
// guessed from a copy of the database.
const minAdminToken = 24

// minAdminTokenDistinct is the fewest different characters it may have.
const minAdminTokenDistinct = 8

// maxLedgerBatch and maxWorkers bound --max-batch and --workers: the
// engine's queues are sized by them, and --max-batch 2000000000 asked for
// 64 GB at start (QA).
const (
	maxLedgerBatch = 1_000_000
	maxWorkers     = 256
)

// checkAdminToken checks ABACUS_ADMIN_TOKEN before anything is opened:
// refused once the database was made, it had left one behind (QA).
func checkAdminToken(token string) error {
	if token == "" {
		return nil
	}
	if strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		// A key no Authorization header can carry as it is: starting with
		// it would revoke the key of the token before, and lock everyone out.
		return usagef("ABACUS_ADMIN_TOKEN holds white space or a character other than printable ASCII; use one like openssl rand -hex 24 makes")
	}
	if n := len(token); n < minAdminToken {
		return usagef("ABACUS_ADMIN_TOKEN has %d characters; it needs at least %d random ones (openssl rand -hex 24 makes one)", n, minAdminToken)
	}
	distinct := map[rune]bool{}
	for _, r := range token {
		distinct[r] = true
	}
	if len(distinct) < minAdminTokenDistinct {
		// Keys are stored as plain hashes, safe only for random tokens (QA:
		// 31 times "a" was taken).
		return usagef("ABACUS_ADMIN_TOKEN has only %d different characters, so it is not random; use one like openssl rand -hex 24 makes", len(distinct))
	}
	return nil
}

// ensureAdminKey makes sure somebody can administer abacus: with
// ABACUS_ADMIN_TOKEN set, that token is an admin key, and the keys earlier
// values of it made are revoked, so that changing it rotates it;
// otherwise a database without keys gets one admin key, printed once.
func ensureAdminKey(ctx context.Context, st abacus.Store, token string, stdout io.Writer) error {
	if token == "" {
		return ensureFirstAdminKey(ctx, st, time.Now().UTC(), stdout)
	}
	if err := checkAdminToken(token); err != nil {
		return err
	}
	own, err := tokenKey(ctx, st, token, stdout)
	if err != nil || !isTokenKey(own) {
		// The token of an admin key keys create or the first start made
		// is taken as it is: it rotates nothing and is rotated by nothing
		// (regression QA: a newer token's key revoked it, an older one's
		// never did). keys revoke ends it.
		return err
	}
	keys, err := st.APIKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.ID == own.ID {
			own = k // its time as stored, which the other instances compare
		}
	}
	// Of the tokens' keys, the one made last is in force, and only keys
	// made before it are revoked. Every instance reads the same order, so
	// two started together with different tokens agree on which wins,
	// where each had revoked the other's key, and neither token could
	// start a server again (QA).
	for _, k := range keys {
		if isTokenKey(k) && k.ID != own.ID && k.RevokedAt.IsZero() && madeAfter(k, own) {
			// This token's key is revoked here, as the newer token's
			// instance may have listed the keys before it was made (QA:
			// both stayed valid).
			if err := st.APIKeyRevoke(ctx, own.ID, time.Now().UTC()); err != nil {
				return err
			}
			if now := time.Now(); k.CreatedAt.After(now) {
				// A clock ahead made it: every new token would lose to it
				// until this clock passes it (regression QA).
				return fmt.Errorf("ABACUS_ADMIN_TOKEN: the key of another token, %s, was made at %s, after this machine's clock (%s): a clock is wrong; this token's key (%s) is revoked. Set the clocks right, or revoke %s (abacus keys revoke %s), then start with a new token",
					k.ID, k.CreatedAt.Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano), own.ID, k.ID, k.ID)
			}
			return fmt.Errorf("ABACUS_ADMIN_TOKEN: the key of another token, %s, made at %s, is newer than this one's (%s, made at %s), so it replaces it, and this one's is revoked; start with that token, or a new one (the times are the machines' clocks: they must agree)",
				k.ID, k.CreatedAt.Format(time.RFC3339Nano), own.ID, own.CreatedAt.Format(time.RFC3339Nano))
		}
	}
	for _, k := range keys {
		if isTokenKey(k) && k.ID != own.ID && k.RevokedAt.IsZero() {
			if err := st.APIKeyRevoke(ctx, k.ID, time.Now().UTC()); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "revoked admin API key %s: an earlier ABACUS_ADMIN_TOKEN\n", k.ID)
		}
	}
	return nil
}

// tokenKey finds the key of ABACUS_ADMIN_TOKEN's token, making it the
// first time, and refuses a token whose key was revoked or is not an
// admin's.
func tokenKey(ctx context.Context, st abacus.Store, token string, stdout io.Writer) (abacus.APIKey, error) {
	hash := abacus.HashToken(token)
	k, err := st.APIKeyByHash(ctx, hash)
	if abacus.ErrorCodeOf(err) == abacus.CodeNotFound {
		// 64 bits of the hash name it: with 32, two tokens of 65,000
		// shared an id (regression QA).
		k = abacus.NewAPIKeyWithToken("key_env_"+hex.EncodeToString(hash[:8]), envKeyName, abacus.RoleAdmin, "", token, time.Now().UTC())
		err = st.APIKeyCreate(ctx, k)
		if abacus.ErrorCodeOf(err) != abacus.CodeConflict {
			if err == nil {
				fmt.Fprintf(stdout, "admin API key %s: the token in ABACUS_ADMIN_TOKEN\n", k.ID)
			}
			return k, err
		}
		// Another instance, started with the same token, made it first.
		if k, err = st.APIKeyByHash(ctx, hash); abacus.ErrorCodeOf(err) == abacus.CodeNotFound {
			return k, fmt.Errorf("ABACUS_ADMIN_TOKEN: the id its key would have, key_env_%s, is another token's key's; choose a new token", hex.EncodeToString(hash[:8]))
		}
	}
	switch {
	case err != nil:
		return k, err
	case !k.RevokedAt.IsZero():
		return k, fmt.Errorf("ABACUS_ADMIN_TOKEN: its key %s was revoked at %s; choose a new token", k.ID, k.RevokedAt.Format(time.RFC3339))
	case k.Role != abacus.RoleAdmin:
		// Taken as it was, it stayed a key of that role, and the admin keys of
		// earlier tokens were revoked: nobody could administer (QA).
		return k, fmt.Errorf("ABACUS_ADMIN_TOKEN is the token of %s key %s, not an admin one; choose a new token", k.Role, k.ID)
	}
	return k, nil
}

// isTokenKey reports whether k is a key an ABACUS_ADMIN_TOKEN made: an
// admin key of its id and name. The name alone also matched a key of
// another role that keys create was given it (regression QA: it stopped
// every server).
func isTokenKey(k abacus.APIKey) bool {
	return k.Name == envKeyName && k.Role == abacus.RoleAdmin && strings.HasPrefix(k.ID, "key_env_")
}

// madeAfter reports whether key a was made after key b, ids ordering keys
// made at one instant.
func madeAfter(a, b abacus.APIKey) bool {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c > 0
	}
	return a.ID > b.ID
}

// ensureFirstAdminKey gives a database without keys one admin key, and
// prints its token once.
func ensureFirstAdminKey(ctx context.Context, st abacus.Store, now time.Time, stdout io.Writer) error {
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

// mebibytes reads a flag's number of MiB, from 1 MiB to 1 TiB, as bytes.
func mebibytes(fs *flag.FlagSet, name, v string) (int64, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1<<20 {
		return 0, usagef("%s: %q is not a number of MiB from 1 to 1048576", flagOrEnv(fs, name), v)
	}
	return int64(n) << 20, nil
}

// maxConnectionsPerKey is the most --connections-per-key takes: more
// than a process may have files open.
const maxConnectionsPerKey = 1 << 20

// natsFlags names the flag of each field of metering.ConsumerConfig.
var natsFlags = map[string]string{"Subject": "nats-subject", "DeadLetterSubject": "nats-dead-letter-subject", "Stream": "nats-stream", "Durable": "nats-durable"}

// hostPort says whether addr is one the server can listen on as far as its
// spelling goes, so that a mistyped one is a usage error, not a failure
// to listen.
func hostPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	_, err = net.LookupPort("tcp", port)
	return err == nil
}
