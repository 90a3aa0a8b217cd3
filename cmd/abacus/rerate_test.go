package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ingestEvent charges one event from a file, creating its account with
// the given extra ingest flags.
func ingestEvent(t *testing.T, dsn, event string, flags ...string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(file, []byte(event+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"ingest", "--db", dsn}, flags...)
	if out, err := runCLI(t, append(args, file)...); err != nil || !strings.Contains(out, "accepted 1 (1 unpriced)") {
		t.Fatalf("ingest: %v\n%s", err, out)
	}
}

// TestRerateReportsRefusedEvents: an event the account's floor refuses is
// counted as refused, not as charged or as still without a price, and the
// command fails so that scripts notice; it stays unpriced for a later run.
func TestRerateReportsRefusedEvents(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	ingestEvent(t, dsn, usageEvent("floored", account(21), 4), "--new-account-overdraft", "none")
	ingestEvent(t, dsn, usageEvent("open", account(22), 4))

	out, err := runCLI(t, "rerate", "--db", dsn)
	if err != nil || !strings.Contains(out, "charged 0 events (0 in all); 2 still have no price; 0 refused\n") {
		t.Fatalf("rerate without prices: %v\n%s", err, out)
	}
	importPrices(t, dsn)
	for run, want := range []string{
		"charged 1 event (1 in all); 0 still have no price; 1 refused\n",
		"charged 0 events (0 in all); 0 still have no price; 1 refused\n",
	} {
		out, err := runCLI(t, "rerate", "--db", dsn)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("run %d: a refused event must fail the command: %v\n%s", run+1, err, out)
		}
		for _, w := range []string{want, "event floored: ", "1 event was refused (listed above); it is still unpriced"} {
			if !strings.Contains(out, w) {
				t.Fatalf("run %d: missing %q in\n%s", run+1, w, out)
			}
		}
	}
}
