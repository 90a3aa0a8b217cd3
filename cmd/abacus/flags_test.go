package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagsAfterArgumentsAreRefused: a flag written after an argument, an
// argument to a command that takes none, and a bool flag's value after a
// space are refused before anything is opened: Go's flag package had
// taken them for arguments, and `abacus void ID --db X` voided ID in the
// default database (QA).
func TestFlagsAfterArgumentsAreRefused(t *testing.T) {
	t.Chdir(t.TempDir()) // where the default database would be made
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"void", "ev-1", "--db", "x.db"}, `"--db" comes after an argument, where it is no flag`},
		{[]string{"ingest", "ev.ndjson", "--db", "x.db"}, `"--db" comes after an argument`},
		{[]string{"migrate", "extra", "--db", "x.db"}, `abacus migrate takes no arguments, and "extra" is one`},
		{[]string{"serve", "extra", "--addr", "127.0.0.1:0"}, `abacus serve takes no arguments, and "extra" is one`},
		{[]string{"keys", "create", "--role", "service", "extra"}, `takes no arguments, and "extra" is one`},
		{[]string{"serve", "--auto-create", "false", "--addr", "127.0.0.1:0"}, "--auto-create false: write --auto-create=false"},
		{[]string{"ingest", "--auto-create", "false", "ev.ndjson"}, "--auto-create false: write --auto-create=false"},
		// The other command lines abacus cannot run as written exit 2 too.
		{[]string{"verify", "--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"void", "--db", "x.db"}, "name the events to void"},
		{[]string{"ingest", "--db", "x.db"}, "name at least one file"},
		{[]string{"prices", "import", "--db", "x.db"}, "name one price file"},
		{[]string{"keys", "frobnicate"}, `unknown subcommand "frobnicate"`},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), c.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2, saying %q", c.args, code, stderr.String(), c.want)
		}
	}
	if _, err := os.Stat("abacus-data"); !os.IsNotExist(err) {
		t.Fatalf("a refused command made the default database: %v", err)
	}
	// After --, an argument may start with -.
	var stdout, stderr bytes.Buffer
	run(t.Context(), []string{"void", "--db", "none.db", "--", "-odd-id"}, &stdout, &stderr)
	if strings.Contains(stderr.String(), "comes after an argument") || !strings.Contains(stderr.String(), "no database there") {
		t.Errorf("void -- -odd-id: %q", stderr.String())
	}
}

// TestBenchRefusesWhatItWouldNotMeasure: an unknown path, design or
// workload, or no duration, is refused; it had run as another and
// labelled its rows with the typo (QA).
func TestBenchRefusesWhatItWouldNotMeasure(t *testing.T) {
	for args, want := range map[string]string{
		"ingest --paths nope":      `--paths: "nope" is not one of in-process, http`,
		"ingest --stores mysql":    `--stores: "mysql" is not one of sqlite, postgres`,
		"ingest --duration 0s":     "--duration: 0s is not a positive duration",
		"ledger --designs bogus":   `--designs: "bogus" is not one of batched, per-op`,
		"ledger --workloads warm":  `--workloads: "warm" is not one of spread, hot`,
		"ledger --duration -1s":    "--duration: -1s is not a positive duration",
		"ledger --stores sqlite,x": `--stores: "x" is not one of sqlite, postgres`,
		// Counts it cannot measure with: they divided by zero, hung or
		// measured nothing (QA).
		"ledger --accounts 0":     "--accounts: 0 is not a positive number",
		"ledger --per-op-conns 0": "--per-op-conns: 0 is not a positive number",
		"ingest --skus 0":         "--skus: 0 is not a positive number",
		"ingest --batch -1":       "--batch: -1 is not a positive number",
		"ingest --batch 10001":    "--batch: 10001 is more than the 10,000 events a request may hold",
		"ingest --duplicates -1":  "--duplicates: -1 is not a percent from 0 to 99",
		"ingest --workers 0":      "--workers: 0 is not a positive number",
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), append([]string{"bench"}, strings.Fields(args)...), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), want) {
			t.Errorf("bench %s: exit %d, %q", args, code, stderr.String())
		}
	}
}

// TestBadFlagValuesAreUsageErrors: a flag's value a command cannot take
// is a command line it cannot run as written, and exits 2 naming the
// flag, whichever command it is; some had exited 1, as a command that ran
// and failed does, while statement's exited 2 (QA).
func TestBadFlagValuesAreUsageErrors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"rerate", "--db", db, "--max-event-age", "5x"}, "--max-event-age"},
		{[]string{"ingest", "--db", db, "--chunk", "0", "x.ndjson"}, "--chunk"},
		{[]string{"ingest", "--db", db, "--format", "xml", "x.ndjson"}, "--format"},
		{[]string{"ingest", "--db", db, "--max-usage-batch", "0", "x.csv"}, "--max-usage-batch"},
		{[]string{"ingest", "--db", db, "--minute-dedupe", "x", "x.csv"}, "--minute-dedupe"},
		{[]string{"void", "--db", db, "--draw-order", "cash", "e-1"}, "--draw-order"},
		{[]string{"keys", "create", "--db", db, "--role", "boss"}, "--role"},
		{[]string{"serve", "--db", db, "--workers", "999"}, "--workers"},
		{[]string{"serve", "--db", db, "--addr="}, "--addr"},
		{[]string{"serve", "--db", db, "--addr", "nonsense"}, "--addr"},
		{[]string{"serve", "--db", db, "--addr", "127.0.0.1:99999"}, "--addr"},
		{[]string{"migrate", "--db", "postgres://u@127.0.0.1:notaport/x"}, "--db: postgres: malformed connection string"},
		{[]string{"verify", "--db", "host=127.0.0.1 port=abc"}, "--db: postgres: malformed connection string"},
		{[]string{"migrate", "--db", filepath.Join(t.TempDir(), "x.db?mode=ro")}, "--db: sqlite: bad database path"},
		{[]string{"statement", "--db", db, "--period", "fortnight", account(1)}, "--period"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), c.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), c.flag) {
			t.Errorf("%v: exit %d, %q; want 2 naming %s", c.args, code, stderr.String(), c.flag)
		}
	}
}

// TestBadEnvironmentValuesNameTheVariable: a value from an ABACUS_
// variable that a command cannot take is refused naming the variable, not
// a flag the operator never gave (QA); the flag, when given, is named.
func TestBadEnvironmentValuesNameTheVariable(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	for _, c := range []struct {
		env, value string
		args       []string
	}{
		{"ABACUS_DEFAULT_CURRENCY", "XX", []string{"ingest", "--db", db, "x.ndjson"}},
		{"ABACUS_DRAW_ORDER", "cash", []string{"void", "--db", db, "e-1"}},
		{"ABACUS_MAX_EVENT_AGE", "5x", []string{"rerate", "--db", db}},
		{"ABACUS_INGEST_MEMORY", "lots", []string{"serve", "--db", db}},
		{"ABACUS_NATS_FETCH_MEMORY", "0", []string{"serve", "--db", db}},
	} {
		t.Setenv(c.env, c.value)
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), c.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), c.env+": ") {
			t.Errorf("%s=%s: exit %d, %q; want 2 naming %s", c.env, c.value, code, stderr.String(), c.env)
		}
		flag := "--" + strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(c.env, "ABACUS_"), "_", "-"))
		stderr.Reset()
		if code := run(t.Context(), append([]string{c.args[0], flag + "=" + c.value}, c.args[1:]...), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), flag+": ") {
			t.Errorf("%s=%s: exit %d, %q; want 2 naming %s", flag, c.value, code, stderr.String(), flag)
		}
		os.Unsetenv(c.env)
	}
}
