package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus/ledger"
)

// TestMinuteDedupeScenes: --minute-dedupe takes only scenes an event can
// have (0 to 999); any other is refused naming the flag.
func TestMinuteDedupeScenes(t *testing.T) {
	for value, want := range map[string][]int{"10,11, 12": {10, 11, 12}, "0,999": {0, 999}, "1000": nil, "10,1000": nil, "-1": nil, "x": nil} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		read := usageFlags(fs)
		if err := fs.Parse([]string{"--minute-dedupe", value}); err != nil {
			t.Fatal(err)
		}
		cfg, err := read()
		c := cfg.Usage
		if want == nil {
			if err == nil || !strings.HasPrefix(err.Error(), "--minute-dedupe: ") {
				t.Errorf("%q: %v, want an error naming --minute-dedupe", value, err)
			}
			continue
		}
		if err != nil || len(c.MinuteDedupe) != len(want) {
			t.Errorf("%q: %v %v", value, c.MinuteDedupe, err)
		}
		for _, s := range want {
			if !c.MinuteDedupe[s] {
				t.Errorf("%q: scene %d missing from %v", value, s, c.MinuteDedupe)
			}
		}
	}
}

// TestServeRefusesSceneOver999: serve stops at startup, before it creates
// the database, with an error naming the flag.
func TestServeRefusesSceneOver999(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a serve that starts would never return
	defer cancel()
	outb, err := exec.CommandContext(ctx, binary, "serve", "--db", db, "--addr", "127.0.0.1:0", "--minute-dedupe", "10,1000").CombinedOutput()
	out := string(outb)
	if err == nil || !strings.Contains(out, `--minute-dedupe: "1000" is not a scene number`) {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("serve created the database before refusing: %v", err)
	}
}

// TestServeRefusesAnExponentBurstStep: --burst-step is a plain decimal, as
// every decimal abacus takes; 1e1 is refused, not read as 10.
func TestServeRefusesAnExponentBurstStep(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	outb, err := exec.CommandContext(ctx, binary, "serve", "--db", db, "--addr", "127.0.0.1:0", "--burst-step", "1e1").CombinedOutput()
	if err == nil || !strings.Contains(string(outb), `--burst-step: "1e1" is not a positive decimal`) {
		t.Fatalf("%v\n%s", err, outb)
	}
}

// TestUsageFlagsFromEnvironment: the rules that decide a charge come from
// the environment when no flag is given, so serve, ingest, rerate and void
// share them; a flag still wins.
func TestUsageFlagsFromEnvironment(t *testing.T) {
	t.Setenv("ABACUS_DRAW_ORDER", "bonus,cash,voucher")
	t.Setenv("ABACUS_MINUTE_DEDUPE", "11,15")
	t.Setenv("ABACUS_NEW_ACCOUNT_OVERDRAFT", "none")
	read := func(args ...string) ledger.Config {
		t.Helper()
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		usage := usageFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		c, err := usage()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cfg := read()
	c := cfg.Usage
	if fmt.Sprint(cfg.DrawOrder) != "[bonus cash voucher]" || len(c.MinuteDedupe) != 2 || !c.MinuteDedupe[11] || !c.MinuteDedupe[15] ||
		c.NewAccountOverdraft.Unlimited || !c.NewAccountOverdraft.Limit.IsZero() {
		t.Fatalf("from the environment: order %v, minute dedupe %v, overdraft %+v", cfg.DrawOrder, c.MinuteDedupe, *c.NewAccountOverdraft)
	}
	if cfg = read("--draw-order", "cash,bonus,voucher"); fmt.Sprint(cfg.DrawOrder) != "[cash bonus voucher]" {
		t.Fatalf("a flag over the environment: %v", cfg.DrawOrder)
	}
	if c.MaxAhead != ledger.DefaultMaxAhead {
		t.Fatalf("max event ahead by default: %s", c.MaxAhead)
	}
	t.Setenv("ABACUS_MAX_EVENT_AHEAD", "1h")
	if c = read().Usage; c.MaxAhead != time.Hour {
		t.Fatalf("max event ahead from the environment: %s", c.MaxAhead)
	}
	if c = read("--max-event-ahead", "0").Usage; c.MaxAhead >= 0 {
		t.Fatalf("--max-event-ahead 0 is no bound, not %s", c.MaxAhead)
	}
	for _, bad := range []string{"soon", "-1m", "5"} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		usage := usageFlags(fs)
		if err := fs.Parse([]string{"--max-event-ahead", bad}); err != nil {
			t.Fatal(err)
		}
		if _, err := usage(); err == nil || !strings.HasPrefix(err.Error(), "--max-event-ahead: ") {
			t.Errorf("%q: %v, want an error naming --max-event-ahead", bad, err)
		}
	}
	if c.MaxAge != 0 {
		t.Fatalf("max event age by default: %s, want no bound", c.MaxAge)
	}
	t.Setenv("ABACUS_MAX_EVENT_AGE", "35d")
	if c = read().Usage; c.MaxAge != 35*24*time.Hour {
		t.Fatalf("max event age from the environment: %s", c.MaxAge)
	}
	if c = read("--max-event-age", "72h").Usage; c.MaxAge != 72*time.Hour {
		t.Fatalf("--max-event-age 72h: %s", c.MaxAge)
	}
	if c = read("--max-event-age", "0").Usage; c.MaxAge != 0 {
		t.Fatalf("--max-event-age 0 is no bound, not %s", c.MaxAge)
	}
	for _, bad := range []string{"a month", "-1d", "-2h", "35", "1.5d", "d"} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		usage := usageFlags(fs)
		if err := fs.Parse([]string{"--max-event-age", bad}); err != nil {
			t.Fatal(err)
		}
		if _, err := usage(); err == nil || !strings.HasPrefix(err.Error(), "--max-event-age: ") {
			t.Errorf("%q: %v, want an error naming --max-event-age", bad, err)
		}
	}
}

// TestSQLiteCacheFromEnvironment: ABACUS_SQLITE_CACHE sizes the SQLite
// writer's page cache; a value that is not a positive number of MiB is
// refused, naming the variable, before anything is opened.
func TestSQLiteCacheFromEnvironment(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	for _, bad := range []string{"x", "0", "-5", "1.5", "100000000"} {
		t.Setenv("ABACUS_SQLITE_CACHE", bad)
		if st, err := openStore(context.Background(), db); err == nil || !strings.HasPrefix(err.Error(), "ABACUS_SQLITE_CACHE: ") {
			if st != nil {
				st.Close()
			}
			t.Fatalf("ABACUS_SQLITE_CACHE=%s: %v, want an error naming the variable", bad, err)
		}
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("a refused setting created the database: %v", err)
	}
	t.Setenv("ABACUS_SQLITE_CACHE", "128")
	st, err := openStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}

// TestCacheAccountsFromEnvironment: ABACUS_CACHE_ACCOUNTS bounds the
// accounts the engine caches, and the wallets the SQLite writer keeps; a
// value that is not a positive number is refused, naming the variable,
// before anything is opened (soak QA: both were constants).
func TestCacheAccountsFromEnvironment(t *testing.T) {
	usage := func() (ledger.Config, error) {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		read := usageFlags(fs)
		if err := fs.Parse(nil); err != nil {
			t.Fatal(err)
		}
		return read()
	}
	if c, err := usage(); err != nil || c.CacheAccounts != ledger.DefaultCacheAccounts {
		t.Fatalf("by default: %d %v", c.CacheAccounts, err)
	}
	t.Setenv("ABACUS_CACHE_ACCOUNTS", "20000")
	if c, err := usage(); err != nil || c.CacheAccounts != 20000 {
		t.Fatalf("ABACUS_CACHE_ACCOUNTS=20000: %d %v", c.CacheAccounts, err)
	}
	db := filepath.Join(t.TempDir(), "a.db")
	for _, bad := range []string{"x", "0", "-5", "1e5", "10000001"} {
		t.Setenv("ABACUS_CACHE_ACCOUNTS", bad)
		if _, err := usage(); err == nil || !strings.HasPrefix(err.Error(), "ABACUS_CACHE_ACCOUNTS: ") {
			t.Errorf("%q: %v, want an error naming the variable", bad, err)
		}
		for _, dsn := range []string{db, "postgres://postgres@127.0.0.1:1/never?sslmode=disable"} { // refused before any connection
			if st, err := openStore(context.Background(), dsn); err == nil || !strings.HasPrefix(err.Error(), "ABACUS_CACHE_ACCOUNTS: ") {
				if st != nil {
					st.Close()
				}
				t.Errorf("openStore(%s) with %q: %v, want an error naming the variable", dsn, bad, err)
			}
		}
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("a refused setting created the database: %v", err)
	}
}

// TestServeRefusesSettingsBeforeOpening: serve refuses each setting that
// had been taken as a default without a word, or failed only once it ran
// (QA), naming it, before it opens or makes any database.
func TestServeRefusesSettingsBeforeOpening(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "never.db")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--expire-every", "0"}, "--expire-every: 0s is not a positive duration"},
		{[]string{"--expire-every", "-1s"}, "--expire-every: -1s is not a positive duration"},
		{[]string{"--addr", ""}, "--addr is empty"},
		{[]string{"--max-batch", "0"}, "--max-batch: 0 is not from 1 to 1000000"},
		{[]string{"--max-batch", "2000000000"}, "--max-batch: 2000000000 is not from 1 to 1000000"},
		{[]string{"--workers", "-1"}, "--workers: -1 is not from 1 to 256"},
		{[]string{"--nats", "nats://127.0.0.1:1", "--nats-stream", ""}, "--nats-stream is empty"},
		{[]string{"--nats-stream", "usage"}, "--nats-stream goes with --nats"},
		{[]string{"--burst-step", ".5"}, `--burst-step: ".5" is not a positive decimal`},
		{[]string{"--burst-max", "0"}, "--burst-max: 0 is not a level from 1"},
		{[]string{"--log-level", "verbose"}, `--log-level: "verbose" is not one of debug, info, warn, error`},
		{[]string{"--nats-fetch-memory", "64"}, "--nats-fetch-memory goes with --nats"},
	} {
		var stdout, stderr strings.Builder
		err := runServe(t.Context(), append([]string{"--db", db}, c.args...), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.args, err, c.want)
		}
	}
	t.Setenv("ABACUS_ADMIN_TOKEN", "short")
	if err := runServe(t.Context(), []string{"--db", db, "--addr", "127.0.0.1:0"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "ABACUS_ADMIN_TOKEN has 5 characters") {
		t.Errorf("a short admin token: %v", err)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("a refused serve made its database: %v", err)
	}
}

// TestReadingCommandsDoNotMigrate: the commands that read or correct what
// is stored check the schema instead of migrating it: a newer binary's
// prices list had upgraded a database older servers wrote to, and made
// abacus tables in one that was not abacus's (QA).
func TestReadingCommandsDoNotMigrate(t *testing.T) {
	other := filepath.Join(t.TempDir(), "other.db")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"prices", "list", "--db", other}, {"keys", "list", "--db", other}, {"rerate", "--db", other},
		{"void", "--db", other, "e-1"}, {"keys", "revoke", "--db", other, "key_x"}, {"verify", "--db", other},
	} {
		var stdout, stderr strings.Builder
		if code := run(t.Context(), args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "holds no abacus database") {
			t.Errorf("%q: exit %d, %q", args, code, stderr.String())
		}
	}
	st, err := openStore(t.Context(), other)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if have, _, err := st.SchemaVersion(t.Context()); err != nil || have != 0 {
		t.Fatalf("schema version %d, %v: a reading command migrated it", have, err)
	}
}

// TestDescribeDBHidesPasswords: a PostgreSQL password is never printed,
// in the URL's user part or its query (QA: printed whole), nor in a
// key=value string; a PostgreSQL URL is one whatever the case of its
// scheme (QA: taken for a SQLite path, it made directories of that name).
func TestDescribeDBHidesPasswords(t *testing.T) {
	for _, db := range []string{"postgres://u:secret@h/db", "postgres://u@h/db?password=secret", "POSTGRES://u:secret@h/db", "host=h user=u password=secret dbname=db"} {
		if !isPostgres(db) {
			t.Errorf("%q: not taken for PostgreSQL", db)
		}
		if got := describeDB(db); strings.Contains(got, "secret") {
			t.Errorf("%q described as %q", db, got)
		}
	}
	if isPostgres("./data/abacus.db") || isPostgres("/var/lib/postgres-backups/abacus.db") {
		t.Error("a SQLite path taken for PostgreSQL")
	}
}
