package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/rating"
)

// TestCorrectionThatUnpricesAnEventIsRefusedWhole: a correction that takes
// away a burst level an event paid is refused before anything is stored,
// by the dry run as by the run, naming the event and the file's line.
// Before, the run stored the correction and then refused the event's
// month, leaving a book that said what the month was never charged; the
// dry run foresaw nothing. Voided, the event no longer stands in the way.
func TestCorrectionThatUnpricesAnEventIsRefusedWhole(t *testing.T) {
	for name, db := range databases(t) {
		t.Run(name, func(t *testing.T) {
			dsn := db(t)
			burst := func(levels string) string {
				return "prices:\n  - {sku_type: 1, sku_kind: 1, resource_id: cpu, sku_unit: 1, sku_unit_type: minute, currency: USD, " +
					"valid_from: 2026-01-01T00:00:00Z, model: burst, levels: [" + levels + "]}\n"
			}
			if out, err := runCLI(t, "prices", "import", "--db", dsn, writeFile(t, "burst.yaml", burst(`{level: 0, price: "0"}, {level: 1, price: "1"}, {level: 4, price: "4"}`))); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			ctx := t.Context()
			st, err := openMigrated(ctx, dsn, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			e := ledger.New(st, ledger.Config{Usage: ledger.UsageConfig{MaxAhead: -1}})
			defer e.Close()
			t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
			rule := rating.LevelRule{Step: decimal.NewFromInt(5), Max: 20}
			if err := st.BurstUtilisationSet(ctx, "cpu", decimal.RequireFromString("17.5"), t0); err != nil {
				t.Fatal(err)
			}
			for _, cycle := range []time.Time{t0, t0.Add(abacus.BurstCycle)} { // level 4 from the second cycle
				if _, err := e.RunBurstCycle(ctx, cycle, rule); err != nil {
					t.Fatal(err)
				}
			}
			acct := abacus.AccountID(account(7))
			event := func(id string, at time.Time) abacus.UsageEvent {
				return abacus.UsageEvent{ID: id, Account: acct, Value: 1, ValueType: abacus.ValueDuration, Scene: 11, ResourceID: "cpu", CustomerID: "space-1", Time: at}
			}
			res, err := e.Ingest(ctx, []abacus.UsageEvent{event("l1", t0.Add(time.Minute)), event("l4", t0.Add(abacus.BurstCycle+time.Minute))})
			if err != nil || res[0].Charged.String() != "1" || res[1].Charged.String() != "4" {
				t.Fatalf("%+v %v, want charged 1 and 4", res, err)
			}
			fixed := writeFile(t, "fixed.yaml", burst(`{level: 0, price: "0"}, {level: 1, price: "2"}`)) // level 4 gone
			for _, args := range [][]string{{"--dry-run"}, nil} {
				out, err := runCLI(t, append(append([]string{"prices", "import", "--correct", "--db", dsn}, args...), fixed)...)
				want := `event "l4" of account ` + account(7) + " at 2026-11-02T10:06:00Z could not be priced by the version of " + fixed +
					`:2 (the USD price for sku_type 1, sku_kind 1, resource_id "cpu", sku_unit_type "minute" has no burst level 4)` + "\n" +
					"abacus prices: 1 event could not be priced by the corrected prices (listed above): " +
					"correct the file so that it prices them, or void them first; nothing was stored\n"
				if err == nil || !strings.Contains(out, want) || strings.Contains(out, "repriced") {
					t.Fatalf("--correct %v: %v\n%s", args, err, out)
				}
			}
			if out, err := runCLI(t, "prices", "list", "--all", "--db", dsn); err != nil || strings.Count(out, "\n") != 2 {
				t.Fatalf("list --all: only the first version: %v\n%s", err, out)
			}
			if res, err := e.VoidEvents(ctx, []string{"l4"}); err != nil || res[0].Refunded.String() != "4" {
				t.Fatalf("void of l4: %+v %v", res, err)
			}
			out, err := runCLI(t, "prices", "import", "--correct", "--db", dsn, fixed)
			if err != nil || !strings.Contains(out, "repriced 2 events: 1.00 USD given back, 2.00 USD charged again; 0 refused\n") {
				t.Fatalf("--correct after the void: %v\n%s", err, out)
			}
			if out, err := runCLI(t, "verify", "--db", dsn); err != nil {
				t.Fatalf("verify: %v\n%s", err, out)
			}
		})
	}
}
