package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
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
	if err != nil || !strings.Contains(out, "charged 0 events (0 in all); 2 still have no price; 0 refused\n") ||
		!strings.Contains(out, `event floored still has no price: no USD price for sku_type 1, sku_kind 1, resource_id "gpu", sku_unit_type "minute" valid at `) {
		t.Fatalf("rerate without prices: %v\n%s", err, out)
	}
	importPrices(t, dsn)
	for run, want := range []string{
		"charged 1 event (1.00 USD in all); 0 still have no price; 1 refused\n",
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

// TestRerateSaysHowARefusedEventEnds: an event whose licence count its
// price refuses, stored unpriced before that price existed, is refused by
// every rerate; the command says that a void ends it, and once it is
// voided the next rerate succeeds (README QA: every rerate exited 1 and
// nothing said what to do). One refused for its account's money is told
// that a top-up lets a rerate charge it.
func TestRerateSaysHowARefusedEventEnds(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	ingestEvent(t, dsn, `{"uuid":"stub-negative","user_uuid":"`+account(24)+`","value":60,"value_type":0,"scene":0,"resource_id":"rds","customer_id":"vm-1","created_at":"2026-11-02T10:00:00Z","extra":"{\"users\":-3}"}`)
	ingestEvent(t, dsn, usageEvent("floored", account(25), 4), "--new-account-overdraft", "none")
	ingestEvent(t, dsn, strings.Replace(usageEvent("no-price", account(26), 4), `"gpu"`, `"disk"`, 1))
	path := filepath.Join(t.TempDir(), "prices.yaml")
	stub := priceFile + `  - {sku_type: 0, sku_kind: 1, resource_id: rds, sku_unit: 60, sku_unit_type: minute, currency: USD, valid_from: "2026-01-01T00:00:00Z", sku_price: "1", license: {name: rds, type: stub, user_metric: users, burstable: false}}
`
	if err := os.WriteFile(path, []byte(stub), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, "prices", "import", "--db", dsn, path); err != nil {
		t.Fatalf("prices import: %v\n%s", err, out)
	}
	out, err := runCLI(t, "rerate", "--db", dsn)
	for _, w := range []string{"event stub-negative: extra.users: ", "; 1 still has no price; 2 refused\n", "2 events were refused (listed above); they are still unpriced; " +
		"an event refused for its account's money is charged by a rerate after a top-up; " +
		"an event refused for what it holds (a licence count, say) is charged by no rerate until its price takes that: abacus void EVENT_ID ends one that it never will\n"} {
		if err == nil || !strings.Contains(out, w) {
			t.Fatalf("rerate: %v: missing %q in\n%s", err, w, out)
		}
	}
	if out, err := runCLI(t, "void", "--db", dsn, "stub-negative", "floored"); err != nil {
		t.Fatalf("void: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "rerate", "--db", dsn); err != nil || !strings.Contains(out, "charged 0 events (0 in all); 1 still has no price; 0 refused\n") {
		t.Fatalf("rerate after the voids: %v\n%s", err, out)
	}
}

// TestRerateListsTheFirstRefusals: a run that has many events refused
// lists the first 20 and counts the rest, rather than a line for each
// (QA: a refused correction printed 800 KB for one account-month).
func TestRerateListsTheFirstRefusals(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	var lines []string
	for i := range 25 {
		lines = append(lines, usageEvent(fmt.Sprintf("floored-%02d", i), account(23), 4))
	}
	file := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, "ingest", "--db", dsn, "--new-account-overdraft", "none", file); err != nil || !strings.Contains(out, "accepted 25 (25 unpriced)") {
		t.Fatalf("ingest: %v\n%s", err, out)
	}
	importPrices(t, dsn)
	out, err := runCLI(t, "rerate", "--db", dsn)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("refused events must fail the command: %v\n%s", err, out)
	}
	for _, w := range []string{"and 5 more refused\n", "0 still have no price; 25 refused\n", "25 events were refused (the first 20 listed above); they are still unpriced"} {
		if !strings.Contains(out, w) {
			t.Fatalf("missing %q in\n%s", w, out)
		}
	}
	if n := strings.Count(out, "event floored-"); n != 20 {
		t.Fatalf("%d refused events listed, want 20:\n%s", n, out)
	}
}

// TestRerateCountsEventsChargedMeanwhile: an event that another process
// charged between this run's listing and its rerate is counted as gone,
// not refused, and fails nothing: two reraters at once are not an error.
func TestRerateCountsEventsChargedMeanwhile(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	ingestEvent(t, dsn, usageEvent("raced", account(23), 4))
	importPrices(t, dsn)
	st, err := openMigrated(t.Context(), dsn, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	engine := ledger.New(st, ledger.Config{})
	defer engine.Close()
	first, err := engine.Rerate(t.Context(), []string{"raced"}) // the other process
	if err != nil || first[0].Status != abacus.IngestAccepted || first[0].Unpriced {
		t.Fatalf("first rerate: %+v %v", first, err)
	}
	second, err := engine.Rerate(t.Context(), []string{"raced"})
	if err != nil {
		t.Fatal(err)
	}
	var tally rerateTally
	var stderr strings.Builder
	tally.add(second, &stderr)
	if tally.gone != 1 || tally.charged != 0 || tally.still.n != 0 || tally.refused.n != 0 || len(tally.total) != 0 || stderr.Len() != 0 {
		t.Fatalf("tally %+v, stderr %q: want the event counted as gone, quietly", tally, stderr.String())
	}
}

// TestReadingCommandsNeedTheDatabase: the commands that read or correct
// what is stored refuse a SQLite path with nothing there, and make
// nothing: a mistyped --db must not look like an empty, healthy ledger.
func TestReadingCommandsNeedTheDatabase(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "typo.db")
	db := []string{"--db", missing}
	for _, args := range [][]string{ // flags come before what they act on
		append([]string{"verify"}, db...),
		append([]string{"prices", "list"}, db...),
		append([]string{"rerate"}, db...),
		append(append([]string{"void"}, db...), "e"),
		append([]string{"keys", "list"}, db...),
		append(append([]string{"keys", "revoke"}, db...), "k"),
	} {
		out, err := runCLI(t, args...)
		if err == nil || !strings.Contains(out, "--db "+missing+": no database there") {
			t.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s made %s: %v", strings.Join(args, " "), missing, err)
		}
	}
}

// TestRerateInterruptedSaysWhatItCharged: interrupted (SIGINT) while a
// call waits for a lock, rerate sees the call through and then stops,
// printing its summary, which counts exactly what was charged, and that
// running it again is safe; it exits 1. Run again, it charges the rest.
func TestRerateInterruptedSaysWhatItCharged(t *testing.T) {
	dsn := testdb.PostgresSchemaURL(t)
	// 1,000 events of ten accounts, then 1,000 of an account the test
	// holds the wallets of: rerate charges 500 at a time, in the order
	// they were stored, so its third call waits for the lock.
	var first, held strings.Builder
	for i := range 1000 {
		fmt.Fprintln(&first, usageEvent(fmt.Sprintf("rr-%d", i), account(1+i%10), 1+i%7))
		fmt.Fprintln(&held, usageEvent(fmt.Sprintf("rr-held-%d", i), account(11), 1))
	}
	for _, events := range []string{first.String(), held.String()} {
		if out, err := runCLI(t, "ingest", "--db", dsn, writeFile(t, "events.ndjson", events)); err != nil || !strings.Contains(out, "accepted 1000 (1000 unpriced)") {
			t.Fatalf("ingest: %v\n%s", err, out)
		}
	}
	importPrices(t, dsn)
	lock := holdLock(t, dsn, "SELECT id FROM wallets WHERE account_id = $1 FOR UPDATE", account(11))
	p := start(t, "rerate", "--db", dsn)
	p.waitUntil(t, "the third call waiting for the lock", lock.waited)
	charged := "SELECT count(*) FROM usage_events WHERE status = 'charged'"
	if n := lock.count(charged); n != 1000 {
		t.Fatalf("%d events charged before the lock, want 1000", n)
	}
	p.cmd.Process.Signal(os.Interrupt)
	p.hinted(t) // the signal taken while the call waits
	lock.release()
	if code := p.end(t, "SIGINT and the lock released"); code != 130 {
		t.Fatalf("exit %d, want 130:\n%s", code, p.out)
	}
	for _, want := range []string{
		"charged 1500 events (1124.25 USD in all); 0 of those it listed still have no price; 0 refused\n", // 3,997 minutes and 500, at 0.25
		"abacus rerate: interrupted: the events counted are charged; run the same command again to finish: it is safe (it charges only the events still unpriced)\n",
	} {
		if !strings.Contains(p.out.String(), want) {
			t.Fatalf("missing %q in:\n%s", want, p.out)
		}
	}
	if n := lock.count(charged); n != 1500 {
		t.Fatalf("%d events charged, want the 1500 counted", n)
	}
	if out, err := runCLI(t, "rerate", "--db", dsn); err != nil || !strings.Contains(out, "charged 500 events (125.00 USD in all); 0 still have no price; 0 refused\n") {
		t.Fatalf("rerate again: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "verify", "--db", dsn); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
}

// TestRerateGoesInTheOrderTheUsageHappened: rerate charges unpriced events
// by event time over every page of 500, not page by page in the order they
// were stored: an earlier event stored after 500 later ones was charged
// last (QA), where an account with money for some pays for the earliest.
func TestRerateGoesInTheOrderTheUsageHappened(t *testing.T) {
	for name, dsn := range map[string]string{"sqlite": filepath.Join(t.TempDir(), "a.db"), "postgres": testdb.PostgresSchemaURL(t)} {
		t.Run(name, func(t *testing.T) {
			var later strings.Builder
			line := func(w *strings.Builder, id, at string) {
				fmt.Fprintf(w, `{"uuid":%q,"user_uuid":%q,"value":1,"value_type":0,"scene":11,"resource_id":"gpu","created_at":%q}`+"\n", id, account(31), at)
			}
			for i := range 500 {
				line(&later, fmt.Sprintf("later-%d", i), fmt.Sprintf("2026-11-02T10:%02d:%02dZ", i/60, i%60))
			}
			var earliest strings.Builder
			line(&earliest, "earliest", "2026-11-02T09:00:00Z")
			// Two runs, so that the earliest is stored after the others (a
			// batch stores its events by time).
			for _, events := range []string{later.String(), earliest.String()} {
				if out, err := runCLI(t, "ingest", "--db", dsn, writeFile(t, "events.ndjson", events)); err != nil || !strings.Contains(out, " unpriced)") {
					t.Fatalf("ingest: %v\n%s", err, out)
				}
			}
			importPrices(t, dsn)
			if out, err := runCLI(t, "rerate", "--db", dsn); err != nil || !strings.Contains(out, "charged 501 events") {
				t.Fatalf("rerate: %v\n%s", err, out)
			}
			st, err := openCurrent(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			evs, err := st.Events(t.Context(), abacus.EventQuery{IDs: []string{"earliest", "later-498", "later-499"}, Limit: 3})
			if err != nil || len(evs) != 3 {
				t.Fatalf("%+v %v", evs, err)
			}
			tx := map[string]int64{}
			for _, e := range evs {
				tx[e.ID] = e.TxID
			}
			// A call of 500 is one usage transaction.
			if tx["earliest"] != tx["later-498"] || tx["later-499"] <= tx["earliest"] {
				t.Fatalf("transactions %v: the earliest event must be charged with the first 500 by time, the latest after", tx)
			}
		})
	}
}

// TestSummariesSumByCurrency: rerate, a correction and a void of events of
// a EUR account and a USD account say what they moved in each currency,
// where they had added the euros to the dollars and named neither (QA).
func TestSummariesSumByCurrency(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	eur, usd := account(31), account(32)
	write := func(name, body string) string {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	if out, err := runCLI(t, "ingest", "--db", dsn, "--default-currency", "EUR", write("e.ndjson", usageEvent("cur-e", eur, 10)+"\n")); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := runCLI(t, "ingest", "--db", dsn, write("u.ndjson", usageEvent("cur-u", usd, 10)+"\n")); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	prices := func(usdPrice, eurPrice string) string {
		return write("p.yaml", "prices:\n"+
			strings.TrimPrefix(strings.Replace(priceFile, `"0.25"`, `"`+usdPrice+`"`, 1), "prices:\n")+
			strings.TrimPrefix(strings.NewReplacer(`"0.25"`, `"`+eurPrice+`"`, "USD", "EUR").Replace(priceFile), "prices:\n"))
	}
	if out, err := runCLI(t, "prices", "import", "--db", dsn, prices("1", "2")); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := runCLI(t, "rerate", "--db", dsn); err != nil || !strings.Contains(out, "charged 2 events (20.00 EUR and 10.00 USD in all);") {
		t.Errorf("rerate: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "prices", "import", "--db", dsn, "--correct", prices("3", "5")); err != nil ||
		!strings.Contains(out, "repriced 2 events: 20.00 EUR and 10.00 USD given back, 50.00 EUR and 30.00 USD charged again; 0 refused\n") {
		t.Errorf("correction: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "void", "--db", dsn, "cur-e", "cur-u"); err != nil ||
		!strings.Contains(out, "voided cur-e: 50.00 EUR given back (cash 50.00,") || !strings.Contains(out, "voided cur-u: 30.00 USD given back (cash 30.00,") {
		t.Errorf("void: %v\n%s", err, out)
	}
}

// TestVoidOfACreditSaysItTakesItBack: an event that took its account into a
// cheaper volume tier was charged a credit, so its void costs money; the
// void says what it takes back, where it had printed "-2 given back" (QA).
func TestVoidOfACreditSaysItTakesItBack(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	book := "prices:\n" + `  - {sku_type: 1, sku_kind: 1, resource_id: gpu, sku_unit: 1, sku_unit_type: minute, currency: USD, valid_from: 2026-01-01T00:00:00Z` +
		`, model: volume, tiers: [{up_to: 16, price: "1.00"}, {price: "0.50"}]}` + "\n"
	if out, err := runCLI(t, "prices", "import", "--db", dsn, writeFile(t, "p.yaml", book)); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	acct := account(5)
	events := writeFile(t, "e.ndjson", usageEvent("v-16", acct, 16)+"\n"+usageEvent("v-12", acct, 12)+"\n")
	if out, err := runCLI(t, "ingest", "--db", dsn, events); err != nil {
		t.Fatalf("ingest: %v\n%s", err, out)
	}
	// 16 minutes cost 16; 28 cost 14, so the second was charged -2.
	if out, err := runCLI(t, "void", "--db", dsn, "v-12"); err != nil || !strings.Contains(out, "voided v-12: 2.00 USD taken back: without it, the month's usage is priced at a dearer volume tier (cash -2.00, bonus 0.00, voucher 0.00)\n") {
		t.Errorf("void: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "void", "--db", dsn, "v-12"); err == nil || !strings.Contains(out, "was voided already; that took back 2 USD: without it, the month's usage is priced at a dearer volume tier") {
		t.Errorf("void again: %v\n%s", err, out)
	}
}
