package main

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/rating"
)

// TestPricesListShowsEveryModel: each price of the example file is listed
// with what defines it under its model, its discounts and its licence,
// never the zero UnitPrice of a model that does not use one.
func TestPricesListShowsEveryModel(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	if out, err := runCLI(t, "prices", "import", "--db", dsn, "../../rating/testdata/example.yaml"); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	out, err := runCLI(t, "prices", "list", "--db", dsn, "--all")
	if err != nil {
		t.Fatalf("list: %v\n%s", err, out)
	}
	rows := map[string]string{} // by resource and model
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		rows[f[3]+" "+f[6]] += line
	}
	for key, want := range map[string][]string{
		"csghub://serverless/Qwen/Qwen2.5-7B-Instruct graduated": {" 0-1000000: 0.5, 1000000-10000000: 0.4, 10000000+: 0.3 "},
		"77 volume":         {" 0-6000: 0.9, 6000+: 0.8 + 10 flat ", " 3+ months: 5% off, 12+ months: 20% off "},
		"multisync package": {" 5 per package of 100 "},
		"cpu burst": {" level 0: 0.01, level 1: 0.014, level 2: 0.017, level 3: 0.0199, level 4: 0.021 ",
			" 3+ months: 3% off, 6+ months: 10% off, 12+ months: 25% off, 24+ months: 35% off, 36+ months: 45% off "},
		"msft_p73_04837_core per_unit": {" 0.015 ", " instance: msft_p73_04837_core, metric smp, not burstable"},
		"msft_rds_user per_unit":       {" 4.2 ", " stub: msft_rds_user, metric users, burstable"},
		"12 per_unit":                  {" 0.05 ", " 0.04 "},
		"thirdparty://gpt-4o per_unit": {" 2.5, cached 1.25 "},
	} {
		row, ok := rows[key]
		if !ok {
			t.Fatalf("no row for %s in\n%s", key, out)
		}
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("%s: missing %q in\n%s", key, w, row)
			}
		}
	}
	// The commitments, which had no listing (QA).
	out, err = runCLI(t, "prices", "list", "--db", dsn, "--commitments", "--all")
	want := []string{"ACCOUNT MONTHS FROM UNTIL ENDED",
		"0d9c8b7a-6f5e-4d3c-2b1a-098765432100 3 2026-01-31T23:00:00Z 2026-04-30T22:00:00Z -",
		"5b7e0c1a-9f3e-4a57-8d2c-0a1b2c3d4e5f 12 2026-01-01T00:00:00Z 2027-01-01T00:00:00Z -"}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		got = append(got, strings.Join(strings.Fields(line), " "))
	}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("prices list --commitments --all: %v\n%s", err, out)
	}
	// Without --all, those not ended.
	var buf strings.Builder
	example, err := os.Open("../../rating/testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer example.Close()
	_, commitments, err := rating.ParseFile(example, "example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := listCommitments(&buf, commitments, false, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)); err != nil || strings.Count(buf.String(), "\n") != 2 || !strings.Contains(buf.String(), "5b7e0c1a") {
		t.Fatalf("the commitments not ended on 2026-06-01: %v\n%s", err, buf.String())
	}
}

// TestPricesImportEndsACommitment: the price file ends a commitment early
// by giving it ended; the listing shows the end, the file without it
// imported again leaves it, and a commitment ended before it was stored
// is not listed as running.
func TestPricesImportEndsACommitment(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	example, err := os.ReadFile("../../rating/testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, "prices", "import", "--db", dsn, "../../rating/testdata/example.yaml"); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	const term = "    until: 2027-01-01T00:00:00Z\n"
	if strings.Count(string(example), term) != 1 {
		t.Fatal("the example's commitment of 12 months is not where the test looks")
	}
	path := writeFile(t, "ended.yaml", strings.Replace(string(example), term, term+"    ended: 2026-07-01T00:00:00Z\n", 1))
	out, err := runCLI(t, "prices", "import", "--db", dsn, "--dry-run", path)
	if err != nil || !strings.Contains(out, "would import 0 prices and 0 commitments, and move the end of 1 stored commitment from "+path) {
		t.Fatalf("the dry run: %v\n%s", err, out)
	}
	out, err = runCLI(t, "prices", "import", "--db", dsn, path)
	if err != nil || !strings.Contains(out, "imported 0 prices and 0 commitments, and moved the end of 1 stored commitment from "+path) {
		t.Fatalf("the import: %v\n%s", err, out)
	}
	const endedRow = "5b7e0c1a-9f3e-4a57-8d2c-0a1b2c3d4e5f 12 2026-01-01T00:00:00Z 2027-01-01T00:00:00Z 2026-07-01T00:00:00Z"
	listed := func(what string) {
		t.Helper()
		out, err := runCLI(t, "prices", "list", "--db", dsn, "--commitments", "--all")
		if err != nil || !strings.Contains(strings.Join(strings.Fields(out), " "), endedRow) {
			t.Fatalf("%s: %v\n%s", what, err, out)
		}
	}
	listed("after the end")
	out, err = runCLI(t, "prices", "import", "--db", dsn, "../../rating/testdata/example.yaml")
	if err != nil || !strings.Contains(out, "nothing new in ../../rating/testdata/example.yaml") {
		t.Fatalf("the file without the end again: %v\n%s", err, out)
	}
	listed("after the file without the end")
	// Ended by August, it is not among those running then.
	var running strings.Builder
	_, commitments, err := rating.ParseFile(strings.NewReader(strings.Replace(string(example), term, term+"    ended: 2026-07-01T00:00:00Z\n", 1)), "ended.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := listCommitments(&running, commitments, false, time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)); err != nil || strings.Contains(running.String(), "5b7e0c1a") {
		t.Fatalf("an ended commitment is listed as running: %v\n%s", err, running.String())
	}
	out, err = runCLI(t, "prices", "import", "--db", dsn, "--correct", path)
	if err != nil {
		t.Fatalf("a correction holding the commitment as stored: %v\n%s", err, out)
	}
	moved := writeFile(t, "moved.yaml", strings.Replace(string(example), term, term+"    ended: 2026-08-01T00:00:00Z\n", 1))
	out, err = runCLI(t, "prices", "import", "--db", dsn, "--correct", moved)
	if err == nil || !strings.Contains(out, "commitments[0].ended: 2026-08-01T00:00:00Z is not the stored commitment's end (2026-07-01T00:00:00Z)") {
		t.Fatalf("a correction moving the end: %v\n%s", err, out)
	}
	listed("after the refused correction")
}

// TestPricesImportNamesLineOfStoredConflict: a price whose key, currency
// and valid_from are already stored with another price is named by file
// and line, and nothing of the file is imported.
func TestPricesImportNamesLineOfStoredConflict(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn)
	later := strings.Replace(priceFile, "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z", 1)
	edited := strings.Replace(priceFile, `"0.25"`, `"0.30"`, 1)
	path := writeFile(t, "again.yaml", later+strings.TrimPrefix(edited, "prices:\n"))
	out, err := runCLI(t, "prices", "import", "--db", dsn, path)
	line := strings.Count(later, "\n") + 1 // the second price's first line
	want := fmt.Sprintf("%s:%d: prices[1]: has the same key, currency and valid_from as stored price 1 but differs from it in sku_price;", path, line)
	if err == nil || !strings.Contains(out, want) {
		t.Fatalf("%v\n%s\nwant %s", err, out, want)
	}
	out, err = runCLI(t, "prices", "list", "--db", dsn, "--all")
	if err != nil || strings.Count(out, "\n") != 2 {
		t.Fatalf("the file's other price was imported: %v\n%s", err, out)
	}
}

// TestPricesImportAgain: the price file is the book's source, imported
// again after every change: what is stored already is left out, and only
// the versions added to the file are imported.
func TestPricesImportAgain(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn)
	path := writeFile(t, "same.yaml", priceFile)
	out, err := runCLI(t, "prices", "import", "--db", dsn, path)
	if err != nil || !strings.Contains(out, "nothing new in "+path+": its 1 price and 0 commitments were stored already") {
		t.Fatalf("the same file again: %v\n%s", err, out)
	}
	// From standard input, as abacus ingest reads "-" (QA).
	stdin := exec.Command(binary, "prices", "import", "--db", dsn, "-")
	stdin.Stdin = strings.NewReader(priceFile)
	if b, err := stdin.CombinedOutput(); err != nil || !strings.Contains(string(b), "nothing new in standard input") {
		t.Fatalf("the same prices from standard input: %v\n%s", err, b)
	}
	for _, args := range [][]string{{}, {"--correct"}} {
		if out, err := runCLI(t, append(append([]string{"prices", "import"}, args...), "--db", dsn, writeFile(t, "empty.yaml", "prices: []\n"))...); err != nil || !strings.Contains(out, "empty.yaml holds no prices and no commitments") {
			t.Fatalf("%v a file of no prices: %v\n%s", args, err, out)
		}
	}
	// A version from a microsecond past the second: the list shows its
	// time whole (QA: it showed the second, when the version before was
	// still in force).
	later := strings.Replace(strings.Replace(priceFile, "2026-01-01T00:00:00Z", "2026-06-01T00:00:00.000001Z", 1), `"0.25"`, `"0.20"`, 1)
	path = writeFile(t, "added.yaml", priceFile+strings.TrimPrefix(later, "prices:\n"))
	out, err = runCLI(t, "prices", "import", "--db", dsn, path)
	if err != nil || !strings.Contains(out, "imported 1 price and 0 commitments from "+path+"; 1 price and 0 commitments were stored already") {
		t.Fatalf("the file with a version added: %v\n%s", err, out)
	}
	out, err = runCLI(t, "prices", "list", "--db", dsn, "--all")
	if err != nil || strings.Count(out, "\n") != 3 || !strings.Contains(out, " 0.2 ") || !strings.Contains(out, " 0.25 ") || !strings.Contains(out, "2026-06-01T00:00:00.000001Z") {
		t.Fatalf("want the two versions, each once: %v\n%s", err, out)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPricesImportAfterCharges: once events were charged at a price, a
// version that would take over from it at or before the latest of them is
// refused, naming its line, and so is a commitment over a time in which
// the account has a charged event. Unpriced events hold nothing back, and
// once rerated they do.
func TestPricesImportAfterCharges(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn)
	acct := account(3)
	cpu := strings.ReplaceAll(usageEvent("cpu-1", acct, 2), `"gpu"`, `"cpu"`) // no price yet: unpriced
	events := writeFile(t, "events.ndjson", usageEvent("gpu-1", acct, 4)+"\n"+cpu+"\n")
	if out, err := runCLI(t, "ingest", "--db", dsn, events); err != nil || !strings.Contains(out, "accepted 2 (1 unpriced)") {
		t.Fatalf("%v\n%s", err, out)
	}
	version := func(resource, from, price string) string {
		v := strings.Replace(strings.Replace(priceFile, "2026-01-01T00:00:00Z", from, 1), `"0.25"`, price, 1)
		return strings.TrimPrefix(strings.Replace(v, "resource_id: gpu", "resource_id: "+resource, 1), "prices:\n")
	}
	imports := func(name, body string) (string, error) {
		t.Helper()
		path := writeFile(t, name, body)
		out, err := runCLI(t, "prices", "import", "--db", dsn, path)
		return strings.ReplaceAll(out, path, name), err
	}

	backdated := version("gpu", "2026-11-02T10:00:00Z", `"0.30"`)
	out, err := imports("backdated.yaml", priceFile+backdated)
	line := strings.Count(priceFile, "\n") + 1 + strings.Count(backdated[:strings.Index(backdated, "valid_from")], "\n") // valid_from's own line (QA)
	want := fmt.Sprintf("backdated.yaml:%d: prices[1].valid_from: 2026-11-02T10:00:00Z is not after 2026-11-02T10:00:00Z, the time of the latest event charged at the version of sku_type 1", line)
	if err == nil || !strings.Contains(out, want) {
		t.Fatalf("%v\n%s\nwant %s", err, out, want)
	}
	// A dry run refuses it alike, and one of a file that would import
	// stores nothing (QA: a file could be checked only by importing it).
	listed := func() string {
		t.Helper()
		out, err := runCLI(t, "prices", "list", "--db", dsn, "--all")
		if err != nil {
			t.Fatalf("prices list: %v\n%s", err, out)
		}
		return out
	}
	book := listed()
	dry := func(name, body string) (string, error) {
		t.Helper()
		path := writeFile(t, name, body)
		out, err := runCLI(t, "prices", "import", "--dry-run", "--db", dsn, path)
		return strings.ReplaceAll(out, path, name), err
	}
	if out, err := dry("backdated.yaml", priceFile+backdated); err == nil || !strings.Contains(out, want) {
		t.Fatalf("a dry run of the backdated version: %v\n%s\nwant %s", err, out, want)
	}
	if out, err := dry("later.yaml", priceFile+version("gpu", "2026-11-03T00:00:00Z", `"0.30"`)); err != nil ||
		!strings.Contains(out, "would import 1 price and 0 commitments from later.yaml; 1 price and 0 commitments were stored already (a dry run: nothing changed)") {
		t.Fatalf("a dry run of a later version: %v\n%s", err, out)
	}
	if after := listed(); after != book {
		t.Fatalf("the dry runs changed the book:\n%s\nwas\n%s", after, book)
	}
	commitment := fmt.Sprintf("commitments:\n  - {account: %s, months: 12, from: 2026-11-01T00:00:00Z, until: 2027-11-01T00:00:00Z}\n", acct)
	out, err = imports("committed.yaml", priceFile+commitment)
	want = fmt.Sprintf("committed.yaml:%d: commitments[0].from: account %s has an event charged at 2026-11-02T10:00:00Z, within 2026-11-01T00:00:00Z to 2027-11-01T00:00:00Z", strings.Count(priceFile, "\n")+2, acct)
	if err == nil || !strings.Contains(out, want) {
		t.Fatalf("%v\n%s\nwant %s", err, out, want)
	}

	// A price for the unpriced event's time is what rerate waits for.
	if out, err := imports("cpu.yaml", "prices:\n"+version("cpu", "2026-11-01T00:00:00Z", `"0.5"`)); err != nil {
		t.Fatalf("a price for unpriced events: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "rerate", "--db", dsn); err != nil || !strings.Contains(out, "charged 1 event (1.00 USD in all)") {
		t.Fatalf("rerate: %v\n%s", err, out)
	}
	out, err = imports("cpu-again.yaml", "prices:\n"+version("cpu", "2026-11-02T00:00:00Z", `"0.6"`))
	if err == nil || !strings.Contains(out, fmt.Sprintf("cpu-again.yaml:%d: prices[0].valid_from: 2026-11-02T00:00:00Z is not after 2026-11-02T10:00:00Z", 2+strings.Count(backdated[:strings.Index(backdated, "valid_from")], "\n"))) {
		t.Fatalf("a version before the rerated event: %v\n%s", err, out)
	}

	out, err = imports("later.yaml", priceFile+version("gpu", "2026-11-02T10:00:00.000001Z", `"0.30"`))
	if err != nil || !strings.Contains(out, "imported 1 price") {
		t.Fatalf("a version after the latest charged event: %v\n%s", err, out)
	}
	out, err = runCLI(t, "verify", "--db", dsn)
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
}

// TestPricesCorrect: a price file kept as the book's source, with a price
// changed in place, is refused by a plain import and, with --correct,
// stored as the version's next revision; the events it charged are
// charged again at the corrected price, appending the difference. Running
// it again changes nothing, and verify holds.
func TestPricesCorrect(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn) // gpu at 0.25 a minute
	events := writeFile(t, "events.ndjson", usageEvent("gpu-1", account(3), 4)+"\n"+usageEvent("gpu-2", account(4), 6)+"\n")
	if out, err := runCLI(t, "ingest", "--db", dsn, events); err != nil || !strings.Contains(out, "accepted 2 (0 unpriced)") {
		t.Fatalf("%v\n%s", err, out)
	}
	fixed := writeFile(t, "fixed.yaml", strings.Replace(priceFile, `"0.25"`, `"0.20"`, 1))
	out, err := runCLI(t, "prices", "import", "--db", dsn, fixed)
	if err == nil || !strings.Contains(out, "or import with --correct to replace it and reprice its events") {
		t.Fatalf("a plain import of a changed version: %v\n%s", err, out)
	}
	for range 2 { // a dry run changes nothing
		out, err = runCLI(t, "prices", "import", "--correct", "--dry-run", "--db", dsn, fixed)
		if err != nil || !strings.Contains(out, "would store 1 corrected price version from "+fixed+" (0 are in the book already)\n  "+fixed+":2: ") ||
			!strings.Contains(out, "would reprice 2 events of 2 accounts, in the months of 2 events at versions no longer in force; nothing was changed\n") {
			t.Fatalf("--correct --dry-run: %v\n%s", err, out)
		}
	}
	out, err = runCLI(t, "prices", "import", "--correct", "--db", dsn, fixed)
	if err != nil || !strings.Contains(out, "stored 1 corrected price version from "+fixed+" (0 were in the book already)\n") ||
		!strings.Contains(out, "repriced 2 events: 2.50 USD given back, 2.00 USD charged again; 0 refused\n") {
		t.Fatalf("--correct: %v\n%s", err, out)
	}
	out, err = runCLI(t, "prices", "import", "--correct", "--db", dsn, fixed)
	if err != nil || !strings.Contains(out, "stored 0 corrected price versions from "+fixed+" (1 was in the book already)\n") ||
		!strings.Contains(out, "repriced 0 events: 0 given back, 0 charged again; 0 refused\n") {
		t.Fatalf("--correct again: %v\n%s", err, out)
	}
	out, err = runCLI(t, "prices", "list", "--db", dsn)
	if err != nil || strings.Count(out, "\n") != 2 || !strings.Contains(out, " 0.2 ") {
		t.Fatalf("list: only the revision in force: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "prices", "list", "--all", "--db", dsn); err != nil || strings.Count(out, "\n") != 3 {
		t.Fatalf("list --all: both revisions: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "verify", "--db", dsn); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
}

// TestKillDuringCorrection kills a correction with SIGKILL while it
// reprices. The ledger stays whole (verify names only the events still to
// reprice), the same command run again finishes, and in the end every
// event paid the corrected price exactly once.
func TestKillDuringCorrection(t *testing.T) {
	for name, db := range databases(t) {
		t.Run(name, func(t *testing.T) {
			dsn := db(t)
			importPrices(t, dsn) // gpu at 0.25 a minute
			var events strings.Builder
			const n = 30_000
			for i := range n {
				fmt.Fprintln(&events, usageEvent(fmt.Sprintf("k-%d", i), account(1+i%300), 1+i%7))
			}
			if out, err := runCLI(t, "ingest", "--db", dsn, writeFile(t, "events.ndjson", events.String())); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			fixed := writeFile(t, "fixed.yaml", strings.Replace(priceFile, `"0.25"`, `"0.40"`, 1))
			ctx := t.Context()
			st, err := openMigrated(ctx, dsn, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			reprices := func() int {
				n := 0
				err := st.Audit(ctx, func(ar abacus.AuditReader) error {
					return ar.Reprices(func(abacus.Reprice) error { n++; return nil })
				})
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			cmd := exec.Command(binary, "prices", "import", "--correct", "--db", dsn, fixed)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			for reprices() < 2000 {
				select {
				case err := <-exited:
					t.Fatalf("the correction ended before the kill: %v", err)
				case <-time.After(10 * time.Millisecond):
				}
			}
			cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			if done := reprices(); done >= n {
				t.Fatalf("the correction had finished (%d reprices) before the kill", done)
			}
			out, err := runCLI(t, "verify", "--db", dsn)
			if err == nil || strings.Contains(out, "FAIL  usage events agree") || !strings.Contains(out, "FAIL  events name the price versions in force") {
				t.Fatalf("verify after kill -9 should name only the events still to reprice: %v\n%s", err, out)
			}
			out, err = runCLI(t, "prices", "import", "--correct", "--db", dsn, fixed)
			if err != nil || !strings.Contains(out, "stored 0 corrected price versions") {
				t.Fatalf("run again: %v\n%s", err, out)
			}
			if out, err := runCLI(t, "verify", "--db", dsn); err != nil {
				t.Fatalf("verify: %v\n%s", err, out)
			}
			if done := reprices(); done != n {
				t.Fatalf("%d reprices, want one for each of %d events", done, n)
			}
			var after int64
			for {
				evs, err := st.Events(ctx, abacus.EventQuery{AfterSeq: after, Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) == 0 {
					break
				}
				for _, e := range evs {
					if want := decimal.NewFromInt(e.Value).Mul(decimal.RequireFromString("0.40")); !e.Charged.Decimal().Equal(want) {
						t.Fatalf("event %s of %d minutes paid %s, want %s", e.ID, e.Value, e.Charged, want)
					}
				}
				after = evs[len(evs)-1].Seq
			}
		})
	}
}

// TestCorrectionInterruptedSaysWhatItRepriced: interrupted (SIGINT) while
// a call waits for a lock, a correction sees the call through and then
// stops, printing its summary, which counts exactly what was repriced, and
// that running it again is safe; it exits 1. Run again, it reprices the
// rest, each event once.
func TestCorrectionInterruptedSaysWhatItRepriced(t *testing.T) {
	dsn := testdb.PostgresSchemaURL(t)
	importPrices(t, dsn) // gpu at 0.25 a minute
	// 200 events for each of 50 accounts: a correction reprices them by
	// account, in calls of 2,000 events or more, so its third call, of
	// accounts 21 to 30, waits for account 25, whose wallets the test holds.
	var events strings.Builder
	minutes := 0 // of the first 30 accounts
	for i := range 10_000 {
		fmt.Fprintln(&events, usageEvent(fmt.Sprintf("ci-%d", i), account(1+i/200), 1+i%7))
		if i < 6000 {
			minutes += 1 + i%7
		}
	}
	if out, err := runCLI(t, "ingest", "--db", dsn, writeFile(t, "events.ndjson", events.String())); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	fixed := writeFile(t, "fixed.yaml", strings.Replace(priceFile, `"0.25"`, `"0.40"`, 1))
	lock := holdLock(t, dsn, "SELECT id FROM wallets WHERE account_id = $1 FOR UPDATE", account(25))
	p := start(t, "prices", "import", "--correct", "--db", dsn, fixed)
	p.waitUntil(t, "the third call waiting for the lock", lock.waited)
	reprices := "SELECT count(*) FROM usage_reprices"
	if n := lock.count(reprices); n != 4000 {
		t.Fatalf("%d events repriced before the lock, want 4000", n)
	}
	p.cmd.Process.Signal(os.Interrupt)
	p.hinted(t) // the signal taken while the call waits
	lock.release()
	if code := p.end(t, "SIGINT and the lock released"); code != 130 {
		t.Fatalf("exit %d, want 130:\n%s", code, p.out)
	}
	m := decimal.NewFromInt(int64(minutes))
	for _, want := range []string{
		"stored 1 corrected price version from " + fixed + " (0 were in the book already)\n",
		fmt.Sprintf("repriced 6000 events: %s USD given back, %s USD charged again; 0 refused\n", m.Mul(decimal.RequireFromString("0.25")).StringFixed(2), m.Mul(decimal.RequireFromString("0.40")).StringFixed(2)),
		"abacus prices: interrupted: the events counted are repriced; run the same command again to finish: it is safe " +
			"(it stores nothing twice, and reprices only events still at versions no longer in force)\n",
	} {
		if !strings.Contains(p.out.String(), want) {
			t.Fatalf("missing %q in:\n%s", want, p.out)
		}
	}
	if n := lock.count(reprices); n != 6000 {
		t.Fatalf("%d events repriced, want the 6000 counted", n)
	}
	out, err := runCLI(t, "prices", "import", "--correct", "--db", dsn, fixed)
	if err != nil || !strings.Contains(out, "stored 0 corrected price versions") || !strings.Contains(out, "repriced 4000 events: ") {
		t.Fatalf("run again: %v\n%s", err, out)
	}
	if n := lock.count(reprices); n != 10_000 {
		t.Fatalf("%d reprices, want one for each of 10,000 events", n)
	}
	if out, err := runCLI(t, "verify", "--db", dsn); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
}

// TestPricesCorrectLeavesOtherKeys: a correction reprices the events of
// the keys its file names; events of another key that are out of step
// with the book (corrected by other means) wait for a file that names it.
func TestPricesCorrectLeavesOtherKeys(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	cpu := strings.Replace(priceFile, "resource_id: gpu", "resource_id: cpu", 1)
	if out, err := runCLI(t, "prices", "import", "--db", dsn, writeFile(t, "both.yaml", priceFile+strings.TrimPrefix(cpu, "prices:\n"))); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	events := usageEvent("g", account(5), 4) + "\n" + strings.ReplaceAll(usageEvent("c", account(5), 4), `"gpu"`, `"cpu"`) + "\n"
	if out, err := runCLI(t, "ingest", "--db", dsn, writeFile(t, "events.ndjson", events)); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	st, err := openMigrated(t.Context(), dsn, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	book, err := st.PriceBookLoad(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range book.Prices {
		if p.ResourceID == "cpu" {
			p.Revision, p.UnitPrice = 1, decimal.RequireFromString("0.5")
			if err := st.PriceBookCorrect(t.Context(), []abacus.Price{p}); err != nil {
				t.Fatal(err)
			}
		}
	}
	gpuFixed := writeFile(t, "gpu.yaml", strings.Replace(priceFile, `"0.25"`, `"0.40"`, 1))
	out, err := runCLI(t, "prices", "import", "--correct", "--db", dsn, gpuFixed)
	if err != nil || !strings.Contains(out, "repriced 1 event: 1.00 USD given back, 1.60 USD charged again; 0 refused\n") {
		t.Fatalf("the gpu file: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "verify", "--db", dsn); err == nil || !strings.Contains(out, "event c at ") {
		t.Fatalf("verify with the cpu event still at its replaced price: %v\n%s", err, out)
	}
	cpuFixed := writeFile(t, "cpu.yaml", strings.Replace(cpu, `"0.25"`, `"0.5"`, 1))
	out, err = runCLI(t, "prices", "import", "--correct", "--db", dsn, cpuFixed)
	if err != nil || !strings.Contains(out, "stored 0 corrected price versions") || !strings.Contains(out, "repriced 1 event: 1.00 USD given back, 2.00 USD charged again; 0 refused\n") {
		t.Fatalf("the cpu file: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "verify", "--db", dsn); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
}

// TestPricesCorrectRepricesWholeMonths: a correction brings every account
// month it touches to what the corrected book makes of it, from the start
// of the month and across the keys its events share, and a second run
// changes nothing.
func TestPricesCorrectRepricesWholeMonths(t *testing.T) {
	const acct = "aa000000-0000-4000-8000-000000000001"
	event := func(id, resource, at string, minutes int, extra string) string {
		valueType, scene := 0, 11
		if extra != "" {
			valueType, scene = 1, 15
		} else {
			extra = "null"
		}
		return fmt.Sprintf(`{"uuid":%q,"user_uuid":%q,"value":%d,"value_type":%d,"scene":%d,"resource_id":%q,"customer_id":"c1","created_at":%q,"extra":%s}`+"\n",
			id, acct, minutes, valueType, scene, resource, at, extra)
	}
	price := func(kind int, resource, unitType, from, terms string) string {
		return fmt.Sprintf("  - {sku_type: 1, sku_kind: %d, resource_id: %s, sku_unit: 1, sku_unit_type: %s, currency: USD, valid_from: %s, %s}\n",
			kind, resource, unitType, from, terms)
	}
	graduated := func(first, rest string) string {
		return fmt.Sprintf(`model: graduated, tiers: [{up_to: 100, price: "%s"}, {price: "%s"}]`, first, rest)
	}
	for _, tc := range []struct {
		name, book, events, voids, fix string
		want                           string // what the account's standing events pay in all
	}{{
		// Only the prompt price changes, but the token event is charged
		// again whole: the other event's completion tokens, in the same
		// tiers, must be charged again with it.
		name: "tokens",
		book: price(4, "llm", "token", "2026-01-01T00:00:00Z", `sku_price: "1"`) +
			price(5, "llm", "token", "2026-01-01T00:00:00Z", `model: graduated, tiers: [{up_to: 10, price: "1"}, {price: "0"}]`),
		events: event("x", "llm", "2026-01-02T00:00:00Z", 15, `{"prompt_token_num":5,"completion_token_num":10}`) +
			event("y", "llm", "2026-01-03T00:00:00Z", 10, `{"prompt_token_num":0,"completion_token_num":10}`),
		fix:  price(4, "llm", "token", "2026-01-01T00:00:00Z", `sku_price: "2"`),
		want: "20", // 5 prompt tokens at 2, and 20 completion tokens of which the first 10 at 1
	}, {
		// The late event of the 5th, stored after the one of the 25th: the
		// month is charged again whole at the corrected tiers. (A graduated
		// version from mid-month is refused: prices that count usage
		// change versions at months' starts.)
		name:   "a late event",
		book:   price(1, "g", "minute", "2026-01-01T00:00:00Z", graduated("1", "0.5")),
		events: event("a", "g", "2026-01-25T00:00:00Z", 40, "") + event("b", "g", "2026-01-05T00:00:00Z", 80, ""),
		fix:    price(1, "g", "minute", "2026-01-01T00:00:00Z", graduated("2", "1")),
		want:   "220", // C(120): 100 at 2 and 20 at 1
	}, {
		name:   "a voided event",
		book:   price(1, "t", "minute", "2026-02-01T00:00:00Z", `sku_price: "1"`),
		events: event("v1", "t", "2026-02-01T00:00:00Z", 1, "") + event("v2", "t", "2026-02-02T00:00:00Z", 1, "") + event("v3", "t", "2026-02-03T00:00:00Z", 1, ""),
		voids:  "v1",
		fix:    price(1, "t", "minute", "2026-02-01T00:00:00Z", `sku_price: "2"`),
		want:   "4",
	}, {
		// Below a micro-unit: 1.5µ a minute charges 1, 2, 1µ, carrying the
		// rest; at 1.7µ the two standing minutes cost 3.4µ, 3µ charged and
		// 0.4µ carried. Given back in whole micro-units, what the old charges
		// carried would have stayed and been charged again.
		name:   "a price below a micro-unit",
		book:   price(1, "t", "minute", "2026-02-01T00:00:00Z", `sku_price: "0.0000015"`),
		events: event("s1", "t", "2026-02-01T00:00:00Z", 1, "") + event("s2", "t", "2026-02-02T00:00:00Z", 1, "") + event("s3", "t", "2026-02-03T00:00:00Z", 1, ""),
		voids:  "s1",
		fix:    price(1, "t", "minute", "2026-02-01T00:00:00Z", `sku_price: "0.0000017"`),
		want:   "0.000003",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "a.db")
			if out, err := runCLI(t, "prices", "import", "--db", dsn, writeFile(t, "book.yaml", "prices:\n"+tc.book)); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for i, line := range strings.SplitAfter(tc.events, "\n") {
				if line == "" {
					continue
				}
				if out, err := runCLI(t, "ingest", "--db", dsn, writeFile(t, fmt.Sprintf("e%d.ndjson", i), line)); err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
			}
			if tc.voids != "" {
				if out, err := runCLI(t, "void", "--db", dsn, tc.voids); err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
			}
			fix := writeFile(t, "fix.yaml", "prices:\n"+tc.fix)
			if out, err := runCLI(t, "prices", "import", "--correct", "--db", dsn, fix); err != nil {
				t.Fatalf("--correct: %v\n%s", err, out)
			}
			if paid := standingCharges(t, dsn, acct); paid.String() != tc.want {
				t.Fatalf("the account's events paid %s after the correction, want %s", paid, tc.want)
			}
			out, err := runCLI(t, "prices", "import", "--correct", "--db", dsn, fix)
			if err != nil || !strings.Contains(out, "repriced 0 events") {
				t.Fatalf("--correct again: %v\n%s", err, out)
			}
			if out, err := runCLI(t, "verify", "--db", dsn); err != nil {
				t.Fatalf("verify: %v\n%s", err, out)
			}
		})
	}
}

// standingCharges sums what acct's events paid, net of what voids gave back.
func standingCharges(t *testing.T, dsn, acct string) abacus.Amount {
	t.Helper()
	st, err := openMigrated(t.Context(), dsn, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.Events(t.Context(), abacus.EventQuery{Account: abacus.AccountID(acct), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	sum := abacus.Zero
	for _, e := range evs {
		net, err1 := e.Charged.Sub(e.Refunded)
		var err2 error
		sum, err2 = sum.Add(net)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
	}
	return sum
}

// TestPricesImportKeepsCountedVersionsToMonths: a version that takes over
// from a volume price within a month is refused, naming its line, by a
// plain import and by --correct: the month's earlier usage would be
// credited at the new version's rates (a dearer one credited more than was
// charged). A per_unit one may.
func TestPricesImportKeepsCountedVersionsToMonths(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	version := func(from, price string) string {
		return `  - {sku_type: 1, sku_kind: 1, resource_id: vv, sku_unit: 1, sku_unit_type: minute, currency: USD, valid_from: ` + from +
			`, model: volume, tiers: [{up_to: 100, price: "` + price + `"}, {price: "0.10"}]}` + "\n"
	}
	first := "prices:\n" + version("2026-01-01T00:00:00Z", "1.00")
	if out, err := runCLI(t, "prices", "import", "--db", dsn, writeFile(t, "p1.yaml", first)); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	midMonth := writeFile(t, "p2.yaml", first+version("2026-11-20T00:00:00Z", "5.00"))
	for _, args := range [][]string{{"prices", "import"}, {"prices", "import", "--correct"}} {
		out, err := runCLI(t, append(args, "--db", dsn, midMonth)...)
		if err == nil || !strings.Contains(out, "p2.yaml:3: prices[1].valid_from:") || !strings.Contains(out, "(here 2026-11-01T00:00:00Z or 2026-12-01T00:00:00Z)") {
			t.Fatalf("%v of a volume version from mid-month: %v\n%s", args, err, out)
		}
	}
	if out, err := runCLI(t, "prices", "list", "--db", dsn, "--all"); err != nil || !strings.Contains(out, "0-100: 1,") || strings.Contains(out, "0-100: 5") {
		t.Fatalf("a refused import stored something: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "prices", "import", "--db", dsn, writeFile(t, "p3.yaml", first+version("2026-12-01T00:00:00Z", "5.00"))); err != nil {
		t.Fatalf("a volume version from a month's start: %v\n%s", err, out)
	}
	perUnit := `  - {sku_type: 1, sku_kind: 1, resource_id: vv, sku_unit: 1, sku_unit_type: minute, currency: USD, valid_from: 2026-12-20T00:00:00Z, sku_price: "0.5"}` + "\n"
	if out, err := runCLI(t, "prices", "import", "--db", dsn, writeFile(t, "p4.yaml", first+version("2026-12-01T00:00:00Z", "5.00")+perUnit)); err != nil {
		t.Fatalf("a per_unit version from mid-month: %v\n%s", err, out)
	}
}

// TestPricesImportSaysEventsWaitUnpriced: new prices do not charge the
// events stored unpriced before them, so an import says when some wait,
// and that rerate charges them (QA: nothing said so).
func TestPricesImportSaysEventsWaitUnpriced(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	events := writeFile(t, "usage.ndjson", usageEvent("early-1", account(1), 4)+"\n")
	if out, err := runCLI(t, "ingest", "--db", dsn, events); err != nil || !strings.Contains(out, "(1 unpriced)") {
		t.Fatalf("%v\n%s", err, out)
	}
	// A price of another key prices none of them: not a word.
	hint := "waiting unpriced: run `abacus rerate` to charge"
	other := writeFile(t, "other.yaml", strings.Replace(priceFile, "resource_id: gpu", "resource_id: disk", 1))
	if out, err := runCLI(t, "prices", "import", "--db", dsn, other); err != nil || strings.Contains(out, hint) || !strings.Contains(out, "imported 1 price") {
		t.Fatalf("a price of another key: %v\n%s", err, out)
	}
	path := writeFile(t, "prices.yaml", priceFile)
	if out, err := runCLI(t, "prices", "import", "--db", dsn, path); err != nil || !strings.Contains(out, "the book now prices 1 event that was "+hint+" it\n") {
		t.Fatalf("%v\n%s", err, out)
	}
	// An import after that one, which prices nothing the book did not,
	// says nothing: the event waits for a rerate, or was refused by one
	// (its account's floor) and would be again (QA).
	another := writeFile(t, "another.yaml", strings.Replace(priceFile, "resource_id: gpu", "resource_id: net", 1))
	if out, err := runCLI(t, "prices", "import", "--db", dsn, another); err != nil || strings.Contains(out, hint) || !strings.Contains(out, "imported 1 price") {
		t.Fatalf("an import that prices nothing new: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "rerate", "--db", dsn); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	later := writeFile(t, "later.yaml", strings.Replace(priceFile, "2026-01-01T00:00:00Z", "2026-12-01T00:00:00Z", 1))
	if out, err := runCLI(t, "prices", "import", "--db", dsn, later); err != nil || strings.Contains(out, hint) {
		t.Fatalf("none waits: %v\n%s", err, out)
	}
}

// TestPricesImportWarnsOfUnitTypesNoSceneGives: a price whose
// sku_unit_type no scene gives ("Minute") is imported, with a warning
// naming its line, once (QA: refused outright, a book holding one could
// no longer be imported).
func TestPricesImportWarnsOfUnitTypesNoSceneGives(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	path := writeFile(t, "prices.yaml", strings.Replace(priceFile, "sku_unit_type: minute", "sku_unit_type: Minute", 1))
	warning := `prices[0].sku_unit_type: "Minute" is not "minute", which events' unit types from their scenes are`
	if out, err := runCLI(t, "prices", "import", "--db", dsn, path); err != nil || !strings.Contains(out, "warning: "+path+":") || !strings.Contains(out, warning) {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := runCLI(t, "prices", "import", "--db", dsn, path); err != nil || strings.Contains(out, "warning") {
		t.Fatalf("imported again, nothing new: %v\n%s", err, out)
	}
}

// TestPricesImportWithAStaleBook: an import that read the book before
// another stored the same versions (two nodes importing at once) finds
// them stored, as a run after that one would, and so does a correction
// (QA: the second of two identical imports at once was told to edit its
// file, and exited 1).
func TestPricesImportWithAStaleBook(t *testing.T) {
	ctx := t.Context()
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn) // gpu at 0.25 a minute
	st, err := openCurrent(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	read := func(content string) *rating.File {
		f, err := rating.ReadFile(strings.NewReader(content), "p.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	added := priceFile + strings.TrimPrefix(strings.Replace(strings.Replace(priceFile, "2026-01-01", "2026-06-01", 1), `"0.25"`, `"0.20"`, 1), "prices:\n")
	var out, errs strings.Builder
	stale, err := st.PriceBookLoad(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		out.Reset()
		if err := pricesAdd(ctx, st, read(added), stale, false, &out, &errs); err != nil {
			t.Fatalf("an import with the book read before: %v\n%s", err, out.String())
		}
	}
	if !strings.Contains(out.String(), "nothing new in p.yaml: its 2 prices and 0 commitments were stored already") {
		t.Fatalf("the second import: %s", out.String())
	}
	fixed := read(strings.Replace(added, `"0.20"`, `"0.15"`, 1))
	if stale, err = st.PriceBookLoad(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		// Another correction, with the book read before this one stored
		// its revision, is a conflict, not a revision stacked on it (QA:
		// both said they were stored, and the later won unseen).
		other := read(strings.Replace(added, `"0.20"`, `"0.10"`, 1))
		err := pricesCorrect(ctx, st, other, stale, ledger.Config{}, false, &out, &errs)
		if abacus.ErrorCodeOf(err) != abacus.CodeConflict || !strings.Contains(err.Error(), "another correction stored it after this one read the book") {
			t.Fatalf("a different correction with the book read before: %v", err)
		}
	}()
	for range 2 {
		out.Reset()
		if err := pricesCorrect(ctx, st, fixed, stale, ledger.Config{}, false, &out, &errs); err != nil {
			t.Fatalf("a correction with the book read before: %v\n%s", err, out.String())
		}
	}
	if !strings.Contains(out.String(), "stored 0 corrected price versions from p.yaml (2 were in the book already)") {
		t.Fatalf("the second correction: %s", out.String())
	}
}

// TestPricesDryRunChangesNoSchema: a dry run opens the database as the
// reading commands do: it makes none, and migrates none (QA: it made a
// database, and migrated one older servers still wrote to, saying
// "nothing changed").
func TestPricesDryRunChangesNoSchema(t *testing.T) {
	dir := t.TempDir()
	prices := writeFile(t, "p.yaml", priceFile)
	missing := filepath.Join(dir, "missing.db")
	if out, err := runCLI(t, "prices", "import", "--dry-run", "--db", missing, prices); err == nil || !strings.Contains(out, "no database there") {
		t.Fatalf("a dry run on a database not there: %v\n%s", err, out)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("the dry run made the database: %v", err)
	}
	older := filepath.Join(dir, "older.db")
	if out, err := runCLI(t, "keys", "create", "--db", older, "--role", "service"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	db, err := sql.Open("sqlite3", older)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)`); err != nil {
		t.Fatal(err)
	}
	version := func() (v int) {
		t.Helper()
		if err := db.QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := version()
	for _, args := range [][]string{{"--dry-run"}, {"--correct", "--dry-run"}} {
		out, err := runCLI(t, append(append([]string{"prices", "import"}, args...), "--db", older, prices)...)
		if err == nil || !strings.Contains(out, "run abacus migrate") || version() != before {
			t.Fatalf("%v on an older schema: %v, version %d (was %d)\n%s", args, err, version(), before, out)
		}
	}
}

// TestPricesImportChecksNewCommitmentTerms: a commitment coming in whose
// span is not its months is refused by the line of its until; one stored
// before the rule does not keep its file from importing again (regression
// QA: the whole file was refused, --correct too).
func TestPricesImportChecksNewCommitmentTerms(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn)
	acct := account(7)
	commitment := func(months int, from, until string) string {
		return fmt.Sprintf("commitments:\n  - account: %s\n    months: %d\n    from: %s\n    until: %s\n", acct, months, from, until)
	}
	bad := priceFile + commitment(36, "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z")
	path := writeFile(t, "bad.yaml", bad)
	out, err := runCLI(t, "prices", "import", "--db", dsn, path)
	want := fmt.Sprintf("%s:%d: commitments[0].until: 2027-02-01T00:00:00Z is not 36 months after from", path, strings.Count(bad, "\n"))
	if err == nil || !strings.Contains(out, want) {
		t.Fatalf("a commitment shorter than its months: %v\n%s\nwant %s", err, out, want)
	}
	// Stored by a release before the rule, as the store takes it.
	st, err := openMigrated(t.Context(), dsn, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	from, until := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)
	err = st.PriceBookAdd(t.Context(), nil, []abacus.Commitment{{Account: abacus.AccountID(acct), Months: 36, From: from, Until: until}})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, "prices", "import", "--correct", "--db", dsn, path); err != nil {
		t.Fatalf("a correction of the file with the stored commitment: %v\n%s", err, out)
	}
	again := bad + strings.TrimPrefix(commitment(12, "2028-01-01T00:00:00Z", "2029-01-01T00:00:00Z"), "commitments:\n")
	if out, err := runCLI(t, "prices", "import", "--db", dsn, writeFile(t, "again.yaml", again)); err != nil {
		t.Fatalf("the file with the stored commitment and a new one: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "prices", "list", "--db", dsn, "--commitments", "--all"); err != nil || strings.Count(out, acct) != 2 {
		t.Fatalf("the commitments stored: %v\n%s", err, out)
	}
}

// TestPricesImportWarnsOfCommitmentsOfNoAccount: a commitment of an
// account that does not exist is imported, as one made ahead of its
// account may be, with a warning naming its line (QA: a mistyped id gave
// a discount to nobody without a word); one of an account that exists is
// not warned of.
func TestPricesImportWarnsOfCommitmentsOfNoAccount(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	st, err := openMigrated(t.Context(), dsn, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.AccountCreate(t.Context(), abacus.Account{ID: abacus.AccountID(account(1)), Kind: abacus.KindUser, Currency: "USD", CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	file := fmt.Sprintf("commitments:\n  - {account: %s, months: 1, from: 2027-01-01T00:00:00Z, until: 2027-02-01T00:00:00Z}\n  - {account: %s, months: 1, from: 2027-01-01T00:00:00Z, until: 2027-02-01T00:00:00Z}\n", account(1), account(2))
	path := writeFile(t, "c.yaml", file)
	out, err := runCLI(t, "prices", "import", "--db", dsn, path)
	want := fmt.Sprintf("warning: %s:3: commitments[1].account: account %s does not exist (yet)", path, account(2))
	if err != nil || !strings.Contains(out, want) || strings.Count(out, "warning") != 1 || !strings.Contains(out, "imported 0 prices and 2 commitments") {
		t.Fatalf("%v\n%s\nwant %s", err, out, want)
	}
}
