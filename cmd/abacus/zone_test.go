package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBillingZone: --billing-zone (or ABACUS_BILLING_ZONE) sets the zone
// of the billing months before the first event; a name that is not a zone
// is a usage error; once usage is stored another zone is refused and
// nothing is ingested; a statement's periods default to the zone.
func TestBillingZone(t *testing.T) {
	t.Parallel()
	dsn := filepath.Join(t.TempDir(), "a.db")
	out, err := runCLI(t, "migrate", "--db", dsn, "--billing-zone", "Mars/Olympus_Mons")
	if code := exitCode(err); code != 2 || !strings.Contains(out, `--billing-zone: "Mars/Olympus_Mons" is not an IANA time zone name`) {
		t.Fatalf("an unknown zone: exit %d\n%s", code, out)
	}
	cmd := exec.Command(binary, "migrate", "--db", dsn)
	cmd.Env = append(os.Environ(), "ABACUS_BILLING_ZONE=Local")
	if b, err := cmd.CombinedOutput(); exitCode(err) != 2 || !strings.Contains(string(b), "ABACUS_BILLING_ZONE: ") {
		t.Fatalf("ABACUS_BILLING_ZONE=Local: exit %d\n%s", exitCode(err), b)
	}
	// A change is said (QA: it was not).
	if out, err := runCLI(t, "migrate", "--db", dsn, "--billing-zone", "Asia/Shanghai"); err != nil || !strings.Contains(out, "the billing zone was UTC and is now Asia/Shanghai\nits billing months are the calendar months of Asia/Shanghai\n") {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := runCLI(t, "migrate", "--db", dsn, "--billing-zone", "Asia/Shanghai"); err != nil || strings.Contains(out, "the billing zone was") {
		t.Fatalf("the same zone again: %v\n%s", err, out)
	}
	if s := startServer(t, dsn); !strings.Contains(s.output(), "billing months: the calendar months of Asia/Shanghai\n") {
		t.Fatalf("serve does not say the billing months:\n%s", s.output())
	} else {
		s.cmd.Process.Kill()
		<-s.exited
	}
	importPrices(t, dsn)
	acct := account(41)
	event := func(id, value, at string) string {
		return `{"uuid":"` + id + `","user_uuid":"` + acct + `","value":` + value + `,"value_type":0,"scene":11,"resource_id":"gpu","customer_id":"s1","created_at":"` + at + `"}` + "\n"
	}
	file := filepath.Join(t.TempDir(), "events.ndjson")
	os.WriteFile(file, []byte(event("a", "4", "2026-10-31T15:00:00Z")+ // 31 October, 23:00, in Shanghai
		event("b", "8", "2026-10-31T16:30:00Z")), 0o600) // 1 November, 00:30
	if out, err := runCLI(t, "ingest", "--db", dsn, "--billing-zone", "Asia/Shanghai", file); err != nil || !strings.Contains(out, "accepted 2") {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err = runCLI(t, "statement", "--db", dsn, "--from", "2026-10-01", "--to", "2026-12-01", acct)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rows := statementRows(out)
	want := []string{
		"account " + acct + ", 2026-10-01T00:00:00+08:00 to 2026-12-01T00:00:00+08:00 (Asia/Shanghai), by month, in USD",
		"period events amount unpriced",
		"2026-10-01T00:00:00+08:00 1 1",
		"2026-11-01T00:00:00+08:00 1 2",
		"total 3",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}

	// With usage stored, another zone is refused, and nothing is ingested.
	more := filepath.Join(t.TempDir(), "more.ndjson")
	os.WriteFile(more, []byte(event("c", "1", "2026-11-02T10:00:00Z")), 0o600)
	out, err = runCLI(t, "ingest", "--db", dsn, "--billing-zone", "Europe/Berlin", more)
	if code := exitCode(err); code != 1 || !strings.Contains(out, "--billing-zone: this database bills by the calendar months of Asia/Shanghai and holds usage events already") {
		t.Fatalf("another zone after usage: exit %d\n%s", code, out)
	}
	if out, err := runCLI(t, "ingest", "--db", dsn, more); err != nil || !strings.Contains(out, "accepted 1") {
		t.Fatalf("the event was ingested by the refused run: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "verify", "--db", dsn); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	// Another name of the zone is taken with usage stored, and said.
	if out, err := runCLI(t, "migrate", "--db", dsn, "--billing-zone", "PRC"); err != nil || !strings.Contains(out, "the billing zone was Asia/Shanghai and is now PRC\n") {
		t.Fatalf("another name of the zone: %v\n%s", err, out)
	}
}

// exitCode is a command's exit status: 0 for no error, -1 if it did not
// run to an exit.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
