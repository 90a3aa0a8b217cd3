package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"
)

// TestStatement: a statement per local day and resource, from the
// rollups: lines, the total, and unpriced usage said to be left out of it.
func TestStatement(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn)
	acct := account(31)
	event := func(id, resource, value, at string) string {
		return `{"uuid":"` + id + `","user_uuid":"` + acct + `","value":` + value + `,"value_type":0,"scene":11,"resource_id":"` + resource + `","customer_id":"s1","created_at":"` + at + `"}` + "\n"
	}
	file := filepath.Join(t.TempDir(), "events.ndjson")
	os.WriteFile(file, []byte(event("a", "gpu", "4", "2026-11-02T10:00:00Z")+ // 2 Nov in Berlin
		event("b", "gpu", "8", "2026-11-02T23:30:00Z")+ // 3 Nov, 00:30, in Berlin
		event("c", "cpu", "3", "2026-11-03T01:00:00Z")), 0o600) // no price
	if out, err := runCLI(t, "ingest", "--db", dsn, file); err != nil || !strings.Contains(out, "accepted 3 (1 unpriced)") {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := runCLI(t, "statement", "--db", dsn, "--from", "2026-11-02", "--to", "2026-11-04", "--period", "day", "--tz", "Europe/Berlin", "--by", "resource", strings.ToUpper(acct))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rows := statementRows(out)
	want := []string{
		"account " + acct + ", 2026-11-02T00:00:00+01:00 to 2026-11-04T00:00:00+01:00 (Europe/Berlin), by day, in USD",
		"period resource quantity events amount unpriced",
		"2026-11-02T00:00:00+01:00 gpu 4 1 1",
		"2026-11-03T00:00:00+01:00 cpu 3 1 0 3 in 1 event",
		"2026-11-03T00:00:00+01:00 gpu 8 1 2",
		"total 3",
		"unpriced events: 1 (counted in the lines' usage, not in the total: abacus rerate charges them once a price exists, as far as the account's floor allows)",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}

	// A resource with a space at its end is quoted, not shown as another.
	spaced := filepath.Join(t.TempDir(), "spaced.ndjson")
	os.WriteFile(spaced, []byte(event("d", "gpu ", "1", "2026-11-05T10:00:00Z")), 0o600)
	if out, err := runCLI(t, "ingest", "--db", dsn, spaced); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := runCLI(t, "statement", "--db", dsn, "--from", "2026-11-05", "--to", "2026-11-06", "--by", "resource", acct); err != nil || !strings.Contains(out, `"gpu "`) {
		t.Fatalf("%v\n%s", err, out)
	}

	// An account that does not exist is refused, not shown without usage.
	if out, err := runCLI(t, "statement", "--db", dsn, account(99)); err == nil || !strings.Contains(out, "account "+account(99)+" does not exist") {
		t.Fatalf("an account that does not exist: %v\n%s", err, out)
	}

	// A span without usage still names the account's currency.
	if out, err := runCLI(t, "statement", "--db", dsn, "--from", "2026-01-01", acct); err != nil || !strings.Contains(out, "(UTC), by month, in USD\n") {
		t.Fatalf("a span without usage: %v\n%s", err, out)
	}

	// Not by resource, no quantity: a line of several adds minutes to
	// tokens.
	out, err = runCLI(t, "statement", "--db", dsn, "--from", "2026-11-01", acct)
	if err != nil || !strings.Contains(out, "period  events  amount  unpriced") || !strings.Contains(out, "2 events\n") {
		t.Fatalf("%v\n%s", err, out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tz", "Mars/Olympus", acct}, `--tz: "Mars/Olympus" is not an IANA time zone name`},
		{[]string{"--by", "colour", acct}, `--by: "colour" is not one of scene, resource, instance`},
		{[]string{"--by", "resource, resource", acct}, `--by: "resource" is named twice`},
		{[]string{"revenue"}, "revenue is a system account, which usage does not charge"},
		{[]string{"--period", "fortnight", acct}, `--period: "fortnight" is not one of hour, day, week, month, year`},
		{[]string{"--from", "2026-11-05", "--to", "2026-11-01", acct}, "--to: 2026-11-01T00:00:00Z is not after from"},
		{[]string{"--from", "yesterday", acct}, `--from: "yesterday" is not a date such as 2026-11-01`},
		// QA: Apia skipped 2011-12-30; the error was that --to is not after itself.
		{[]string{"--tz", "Pacific/Apia", "--from", "2011-12-30", "--to", "2011-12-31", acct}, "--from: 2011-12-30 does not exist in Pacific/Apia, whose clocks skipped that day"},
		{[]string{"--to", "2026-11-01", acct}, "--to goes with --from"},
		{[]string{"--tz", "America/St_Johns", "--period", "hour", "--from", "2010-03-14", "--to", "2010-03-15", acct}, "--tz: in America/St_Johns a period starts at"},
		{[]string{"not-an-account"}, "not-an-account is not an account id"},
		{nil, "name one account (given 0 arguments; flags go before it)"},
		{[]string{"acct", "extra"}, "name one account (given 2 arguments; flags go before it)"},
	} {
		out, err := runCLI(t, append([]string{"statement", "--db", dsn}, c.args...)...)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(out, c.want) {
			t.Errorf("%q: %v\n%s\nwant exit 2 saying %q", c.args, err, out, c.want)
		}
	}
}

// TestStatementSpan: a date is its first instant in the zone, also where
// the clocks skip midnight; --to defaults to the end of --from's month,
// and the month now by default (QA: Havana's 8 March began on the 7th,
// and a month after 31 January ran into March).
func TestStatementSpan(t *testing.T) {
	havana, err := time.LoadLocation("America/Havana")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		from, to   string
		loc        *time.Location
		start, end string
	}{
		{"2026-03-08", "2026-03-09", havana, "2026-03-08T01:00:00-04:00", "2026-03-09T00:00:00-04:00"},
		{"2026-01-31", "", time.UTC, "2026-01-31T00:00:00Z", "2026-02-01T00:00:00Z"},
		{"2026-12-05", "", time.UTC, "2026-12-05T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"", "", havana, "2026-03-01T00:00:00-05:00", "2026-04-01T00:00:00-04:00"},
		{"2026-03-08T03:00:00Z", "", time.UTC, "2026-03-08T03:00:00Z", "2026-04-01T00:00:00Z"},
		// RFC 3339's lower case and space, which Go's parser refuses (QA).
		{"2026-03-08t03:00:00z", "2026-03-09 00:00:00+01:00", time.UTC, "2026-03-08T03:00:00Z", "2026-03-08T23:00:00Z"},
	} {
		start, end, err := statementSpan(c.from, c.to, c.loc, now)
		if err != nil || start.In(c.loc).Format(time.RFC3339) != c.start || end.In(c.loc).Format(time.RFC3339) != c.end {
			t.Errorf("%q to %q in %s: %v to %v, %v; want %s to %s", c.from, c.to, c.loc, start, end, err, c.start, c.end)
		}
	}
	for _, from := range []string{"0001-01-01", "0000-12-15", "0001-01-01T00:00:00+01:00"} {
		if _, _, err := statementSpan(from, "", time.UTC, now); err == nil || !strings.Contains(err.Error(), "--from: ") || !strings.Contains(err.Error(), "not after 0001-01-01T00:00:00Z") {
			t.Errorf("%s, at or before the zero time: %v", from, err)
		}
	}
	if _, _, err := statementSpan("2026-02-30", "", time.UTC, now); err == nil || err.Error() != `--from: "2026-02-30" is no day of the calendar` {
		t.Errorf("a day that does not exist: %v", err)
	}
	// Its month's end, the default --to, is in the year 10000, which RFC
	// 3339 cannot write (QA: the statement printed it).
	if _, _, err := statementSpan("9999-12-31", "", time.UTC, now); err == nil || !strings.HasPrefix(err.Error(), "--from: 9999-12-31 is in the last month before the year 10000") {
		t.Errorf("the last month: %v", err)
	}
	// An id that is not UTF-8 or not in NFC is quoted, as one with a space
	// is.
	for id, want := range map[string]string{"gpu": "gpu", "\xffA": `"\xffA"`, "cafe\u0301": `"cafe\u0301"`, "caf\u00e9": "caf\u00e9", "": `""`, `a"b`: `"a\"b"`} {
		if got := shown(id); got != want {
			t.Errorf("shown(%q) = %s, want %s", id, got, want)
		}
	}
}

// TestWriteColumnsByDisplayWidth: columns align on a terminal with wide
// characters in them (QA: CJK and emoji ids shifted theirs).
func TestWriteColumnsByDisplayWidth(t *testing.T) {
	var b strings.Builder
	writeColumns(&b, [][]string{{"period", "resource", "amount"}, {"2026-11-01", "显卡", "1.5"}, {"2026-11-02", "🚀", "12"}, {"2026-11-03", "gpu", "0"}})
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	for _, l := range lines {
		if runewidth.StringWidth(l) != runewidth.StringWidth(lines[0]) {
			t.Fatalf("columns do not align:\n%s", b.String())
		}
	}
}

// statementRows is a statement's lines with their columns' padding
// squeezed to one space.
func statementRows(out string) []string {
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		rows = append(rows, strings.Join(strings.Fields(l), " "))
	}
	return rows
}

// TestStatementInTheBillingZoneNamesIt: a zone the statement cannot use
// that came from the database, not --tz, is named as the billing zone
// (QA: the error named --tz, never given).
func TestStatementInTheBillingZoneNamesIt(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	events := filepath.Join(t.TempDir(), "e.ndjson")
	if err := os.WriteFile(events, []byte(`{"uuid":"sj-1","user_uuid":"c0000000-0000-4000-8000-000000000009","value":1,"value_type":0,"scene":11,"resource_id":"x","customer_id":"i","created_at":"2010-03-14T12:00:00Z","extra":"{}"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"migrate", "--db", db, "--billing-zone", "America/St_Johns"}, {"ingest", "--db", db, events}} {
		if code := run(t.Context(), args, io.Discard, io.Discard); code != 0 {
			t.Fatalf("%q: exit %d", args, code)
		}
	}
	var stderr bytes.Buffer
	code := run(t.Context(), []string{"statement", "--db", db, "--period", "hour", "--from", "2010-03-14", "--to", "2010-03-15", "c0000000-0000-4000-8000-000000000009"}, io.Discard, &stderr)
	if got := stderr.String(); code != 2 || strings.Contains(got, "--tz:") || !strings.Contains(got, "in America/St_Johns a period starts at") || !strings.Contains(got, "(the billing zone, as no --tz was given") {
		t.Fatalf("exit %d: %s", code, got)
	}
}
