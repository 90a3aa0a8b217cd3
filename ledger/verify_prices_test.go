package ledger_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

// TestVerifyCatchesPricesOutOfTime: verify finds an event that names a
// version not in force at its time, whether too early or taken over, and a
// version whose recorded latest use is earlier than an event it rated (the
// record that keeps a backdated version out). A new version after every
// charged event leaves the ledger consistent.
func TestVerifyCatchesPricesOutOfTime(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		for _, c := range []struct {
			name, sql string
			args      func(v1, v2 int64) []any
			want      string
		}{
			{"an event names a later version", `UPDATE usage_events SET price_ids = ? WHERE id = 'a'`,
				func(v1, v2 int64) []any { return []any{strconv.FormatInt(v2, 10)} }, "in force only from"},
			{"an event names a version taken over before it", `UPDATE usage_events SET price_ids = ? WHERE id = 'c'`,
				func(v1, v2 int64) []any { return []any{strconv.FormatInt(v1, 10)} }, "took effect at"},
			{"a version's latest use behind", `UPDATE price_uses SET latest = (SELECT min(event_time) FROM usage_events) WHERE price_id = ?`,
				func(v1, v2 int64) []any { return []any{v1} }, "its latest recorded use is"},
			{"a version's latest use lost", `DELETE FROM price_uses WHERE price_id = ?`,
				func(v1, v2 int64) []any { return []any{v1} }, "no use of it is recorded"},
		} {
			t.Run(c.name, func(t *testing.T) {
				f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "1", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)))
				acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
				f.ingest(spaceEvent("a", acct, "gpu", 2, f.t0), spaceEvent("b", acct, "gpu", 3, f.t0.Add(time.Hour)))
				if err := f.st.PriceBookAdd(f.ctx, []abacus.Price{perMinute("gpu", "2", f.t0.Add(2*time.Hour))}, nil); err != nil {
					t.Fatal(err)
				}
				if res := f.ingest(spaceEvent("c", acct, "gpu", 1, f.t0.Add(3*time.Hour))); res[0].Charged.String() != "2" {
					t.Fatalf("c at the new version: %+v", res[0])
				}
				mustVerify(t, f.st)
				book, err := f.st.PriceBookLoad(f.ctx)
				if err != nil || len(book.Prices) != 2 {
					t.Fatalf("%+v %v", book, err)
				}
				corrupt(t, f.st, c.sql, c.args(book.Prices[0].ID, book.Prices[1].ID)...)
				rep, err := ledger.Verify(f.ctx, f.st)
				if err != nil || rep.OK() || !strings.Contains(rep.String(), "FAIL  events name the price versions in force at their time") ||
					!strings.Contains(rep.String(), c.want) {
					t.Fatalf("verify after %s: %v\n%s", c.name, err, rep)
				}
			})
		}
	})
}

// TestVerifyCatchesEventsOffTheirPriceKey: an event's key fields must still
// lead to the versions that charged it. With its resource_id edited to one
// of another per-unit price, with its rollups and paid sums moved along, verify had
// passed it (QA): it re-rated only events of prices that count usage. A
// version named besides the one that charged it is caught too.
func TestVerifyCatchesEventsOffTheirPriceKey(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "1", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)),
			perMinute("cpu", "1", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		f.ingest(spaceEvent("a", acct, "gpu", 2, f.t0), spaceEvent("b", acct, "gpu", 3, f.t0))
		mustVerify(t, f.st)
		book, err := f.st.PriceBookLoad(f.ctx)
		if err != nil || len(book.Prices) != 2 {
			t.Fatalf("%+v %v", book, err)
		}
		both := strconv.FormatInt(book.Prices[0].ID, 10) + "," + strconv.FormatInt(book.Prices[1].ID, 10)
		corrupt(t, f.st, `UPDATE usage_events SET resource_id = 'cpu' WHERE id = 'a'`)
		corrupt(t, f.st, `UPDATE usage_rollups SET quantity = 3, events = 1, amount = 3000000`)
		corrupt(t, f.st, `INSERT INTO usage_rollups SELECT account_id, bucket, scene, 'cpu', customer_id, currency, 2, 2000000, 1, 0, 0 FROM usage_rollups`)
		corrupt(t, f.st, `UPDATE usage_paid SET cash = cash - 2000000`)
		corrupt(t, f.st, `INSERT INTO usage_paid (account_id, currency, period, resource_id, cash, bonus, voucher)
			SELECT account_id, currency, period, 'cpu', 2000000, 0, 0 FROM usage_paid`)
		corrupt(t, f.st, `UPDATE usage_events SET price_ids = ? WHERE id = 'b'`, both)
		rep, err := ledger.Verify(f.ctx, f.st)
		if err != nil || rep.OK() || !strings.Contains(rep.String(), "event a does not fit the versions that charged it: none of its versions") ||
			!strings.Contains(rep.String(), "event b does not fit the versions that charged it: its version") ||
			!strings.Contains(rep.String(), "ok    usage events agree") {
			t.Fatalf("%v\n%s", err, rep)
		}
	})
}

// TestVerifyCatchesAPerUnitEventsValueEdited: a standing event of per-unit
// versions costs what they make of its value. With its value edited along
// with its rollup, verify had passed it (QA): 11 minutes charged as 10.
func TestVerifyCatchesAPerUnitEventsValueEdited(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "2", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		f.ingest(spaceEvent("a", acct, "gpu", 10, f.t0))
		mustVerify(t, f.st)
		corrupt(t, f.st, `UPDATE usage_events SET value = 11 WHERE id = 'a'`)
		corrupt(t, f.st, `UPDATE usage_rollups SET quantity = 11`)
		rep, err := ledger.Verify(f.ctx, f.st)
		if err != nil || rep.OK() || !strings.Contains(rep.String(), "FAIL  usage events agree") ||
			!strings.Contains(rep.String(), "event a is recorded to cost 20, but its 11 at the versions that charged it come to 22") {
			t.Fatalf("%v\n%s", err, rep)
		}
	})
}

// TestVerifyCatchesAVoidThatGaveNothingBack: a void of per-unit prices
// gives back all of the event's cost, so a voided event of them of which
// some cost stands was not voided by abacus. With only its status edited
// (and its usage taken out of its rollup) verify had passed it, the
// account paying for usage its statements no longer showed, and its real
// void refused as done (QA).
func TestVerifyCatchesAVoidThatGaveNothingBack(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		f := newUsageFixture(t, open(t), ledger.UsageConfig{}, perMinute("gpu", "1", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)))
		acct := f.account(abacus.Overdraft{Unlimited: true}, nil)
		f.ingest(spaceEvent("a", acct, "gpu", 2, f.t0), spaceEvent("b", acct, "gpu", 3, f.t0))
		if v := f.void("b"); v.Err != nil {
			t.Fatalf("void: %+v", v)
		}
		mustVerify(t, f.st)
		corrupt(t, f.st, `UPDATE usage_events SET status = 'voided' WHERE id = 'a'`)
		corrupt(t, f.st, `UPDATE usage_rollups SET quantity = quantity - 2, events = events - 1`)
		rep, err := ledger.Verify(f.ctx, f.st)
		if err != nil || rep.OK() || !strings.Contains(rep.String(), "event a is voided, yet 2 of its cost stands") ||
			strings.Contains(rep.String(), "event b ") {
			t.Fatalf("%v\n%s", err, rep)
		}
	})
}
