package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
)

// TestInterruptedCommandsSaySoAndExitAsTheShellExpects: a command whose
// work an interrupt cut short exits 128 + the signal's number, and where
// its error is only the cancellation says what may have changed and how
// to finish, not "context canceled"; one the signal did not cut short
// exits as it would have.
func TestInterruptedCommandsSaySoAndExitAsTheShellExpects(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"migrate", "--db", db}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "; it was at 0 when this command began\n") {
		t.Fatalf("migrate: %d %s %s", code, stdout.String(), stderr.String())
	}
	for _, c := range []struct {
		sig  syscall.Signal
		args []string
		code int
		want string
	}{
		{syscall.SIGINT, []string{"keys", "create", "--role", "admin", "--db", db}, 130,
			"abacus keys: interrupted before it finished: the key may or may not have been created, and its token was not printed; " +
				"`abacus keys list` shows it, and `abacus keys revoke KEY_ID` takes it back\n"},
		{syscall.SIGTERM, []string{"void", "--db", db, "e-1"}, 143,
			"abacus void: interrupted before it finished: the events it did not print may or may not be voided; run the same command again: " +
				"an event voided already is refused, saying what its void gave back\n"},
		{syscall.SIGINT, []string{"void", "--db", filepath.Join(t.TempDir(), "none.db"), "e-1"}, 130, "no database there"},
	} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(interruption{c.sig})
		stdout.Reset()
		stderr.Reset()
		if code := run(ctx, c.args, &stdout, &stderr); code != c.code || !strings.Contains(stderr.String(), c.want) || strings.Contains(stderr.String(), "context canceled") {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr.String(), c.code, c.want)
		}
	}
	if code := run(t.Context(), []string{"void", "--db", db, "e-1"}, &stdout, &stderr); code != 1 {
		t.Errorf("void of an event not there, uninterrupted: exit %d, want 1", code)
	}
}

// TestKeysListMarksUserKeysOfNoCustomer: a user key made before user keys
// were held to customers' accounts (revenue's, or none) is marked, as the
// API refuses it; a revoked one is not.
func TestKeysListMarksUserKeysOfNoCustomer(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	st, err := openMigrated(t.Context(), db, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for i, acct := range []abacus.AccountID{abacus.SystemRevenue.ID(), ""} {
		k := abacus.NewAPIKeyWithToken(fmt.Sprintf("key_old%d", i), "old", abacus.RoleUser, acct, fmt.Sprintf("abk_old-token-%d-0123456789abcdef", i), time.Now())
		if err := st.APIKeyCreate(t.Context(), k); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"keys", "list", "--db", db}, &stdout, &stderr); code != 0 || strings.Count(stdout.String(), "(no customer's: refused; revoke it)") != 2 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

// TestKeyNamesShowAsText: a name with a character that does not show is
// refused, and one stored before that is quoted by keys list (QA: an
// escape sequence coloured the table, and a newline forged a row); a
// system account or the nil UUID for a user key is a usage error naming
// --account, where it read as the database's answer.
func TestKeyNamesShowAsText(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	st, err := openMigrated(t.Context(), db, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.APIKeyCreate(t.Context(), abacus.NewAPIKeyWithToken("key_old", "a\nkey_forged  admin", abacus.RoleService, "", "abk_old-token-0123456789abcdef", time.Now())); err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--role", "service", "--name", "evil\x1b[31mRED"}, `--name: "evil\x1b[31mRED" holds a control or format character`},
		{[]string{"--role", "service", "--name", "a\tb"}, "--name: "},
		{[]string{"--role", "service", "--name", "a\u200fb"}, "holds a control or format character"},
		{[]string{"--role", "user", "--account", string(abacus.SystemRevenue.ID())}, "--account: 00000000-0000-0000-0000-000000000001 is a system account"},
		{[]string{"--role", "user", "--account", "00000000-0000-0000-0000-000000000000"}, "--account: 00000000-0000-0000-0000-000000000000 is the nil UUID"},
		{[]string{"--role", "user", "--account", "zzz"}, `--account: "zzz" is not a UUID`},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), append([]string{"keys", "create", "--db", db}, c.args...), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: exit %d, %q; want 2 and %q", c.args, code, stderr.String(), c.want)
		}
	}
	// Spaces that show as space, as Chinese input gives, are text
	// (regression QA: U+3000 and U+00A0 were refused).
	if code := run(t.Context(), []string{"keys", "create", "--db", db, "--role", "service", "--name", "张\u3000三\u00a0app"}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("a name with wide and no-break spaces: exit %d", code)
	}
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"keys", "list", "--db", db}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "张\u3000三\u00a0app ") || !strings.Contains(stdout.String(), `"a\nkey_forged  admin"`) || strings.Count(stdout.String(), "\n") != 3 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

// TestEmptyDBIsAUsageError: an empty --db is a command line abacus cannot
// run as written, so it exits 2 like any other bad flag, naming the flag,
// whichever command was given it.
func TestEmptyDBIsAUsageError(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--db", ""},
		{"migrate", "--db", ""},
		{"verify", "--db", ""},
		{"ingest", "--db", "", "x.ndjson"},
		{"prices", "list", "--db", ""},
		{"prices", "import", "--db", "", "p.yaml"},
		{"rerate", "--db", ""},
		{"void", "--db", "", "e-1"},
		{"statement", "--db", "", "acct"},
		{"keys", "list", "--db", ""},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--db is empty") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and --db is empty", args, code, stderr.String())
		}
	}
}

func TestNoCommandIsAUsageErrorAndHelpIsNot(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), nil, &stdout, &stderr); code != 2 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "Usage: abacus") {
		t.Errorf("no command: exit %d, stdout %q, stderr %q; want 2 and the usage on stderr", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	for _, args := range [][]string{{"help"}, {"help", "help"}, {"--help", "-h"}} {
		stdout.Reset()
		if code := run(t.Context(), args, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "Usage: abacus <command>") {
			t.Errorf("%v: exit %d, stdout %q; want 0 and the usage", args, code, stdout.String())
		}
	}
}

// TestHelpShowsWhereFlagsGo: a subcommand's --help puts its flags after
// the subcommand, where they are read (QA: "abacus prices [flags] import
// FILE", which is refused), and a command of subcommands answers --help
// with exit 0, as the others do.
func TestHelpShowsWhereFlagsGo(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"prices", "import", "--help"}, "Usage: abacus prices import [flags] FILE\n"},
		{[]string{"prices", "list", "--help"}, "Usage: abacus prices list [flags]\n"},
		{[]string{"keys", "create", "--help"}, "Usage: abacus keys create [flags]\n"},
		{[]string{"keys", "revoke", "-h"}, "Usage: abacus keys revoke [flags] KEY_ID\n"},
		{[]string{"bench", "ingest", "--help"}, "Usage: abacus bench ingest [flags]\n"},
		{[]string{"ingest", "--help"}, "Usage: abacus ingest [flags] FILE...\n"},
		{[]string{"prices", "--help"}, "abacus prices import [--db DB] [--dry-run] FILE"},
		{[]string{"keys", "help"}, "abacus keys create --role"},
		{[]string{"bench", "--help"}, "abacus bench ledger|ingest [flags]"},
		{[]string{"help", "prices"}, "abacus prices import [--db DB] [--dry-run] FILE"}, // as prices --help
		{[]string{"help", "verify"}, "Usage: abacus verify [flags]\n"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), c.args, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 0 and %q", c.args, code, stderr.String(), c.want)
		}
	}
}

// TestANewDatabaseIsNamed: a command that makes a database says so, once,
// naming it: run from another directory, ingest had made an empty ledger
// and charged a file's events there unpriced without a word (QA).
func TestANewDatabaseIsNamed(t *testing.T) {
	db := filepath.Join(t.TempDir(), "typo.db")
	for i, want := range []bool{true, false} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), []string{"keys", "create", "--db", db, "--role", "service"}, &stdout, &stderr); code != 0 {
			t.Fatalf("run %d: exit %d: %s", i, code, stderr.String())
		}
		if got := strings.Contains(stderr.String(), db+" held no abacus database, so this made a new one"); got != want {
			t.Errorf("run %d: stderr %q; want the notice %v", i, stderr.String(), want)
		}
	}
}
