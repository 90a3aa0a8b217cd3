package storetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
)

// CheckNettedVoids checks what migration 0013 made of the events each
// dialect's TestMigrationNetsOldVoids stored before it: voided with their
// charge's split kept, "whole" (16 drawn 6 cash, 10 voucher; 16 back),
// "part" (the same; 12 back), "beyond" (8 voucher; 12 back), "cost" (-2
// cash; -2 back), and "kept", charged as "whole" and not voided, all of
// account "a" in USD at 2026-10-31T23:59:59.999999Z; and "next", charged
// 6 (1 cash, 2 bonus, 3 voucher) at 2026-11-01T00:00:00Z. Those, and any
// other event stored, fill usage_paid: per account, currency and UTC
// calendar month, the sums of their net drawn_*.
func CheckNettedVoids(t *testing.T, s abacus.Store) {
	t.Helper()
	evs, err := s.Events(context.Background(), abacus.EventQuery{IDs: []string{"whole", "part", "beyond", "cost", "kept", "next"}, Limit: 7})
	if err != nil || len(evs) != 6 {
		t.Fatalf("%+v %v", evs, err)
	}
	want := map[string]string{
		"whole": "0 0 0 true", "part": "1.5 0 2.5 true", "beyond": "-4 0 0 true", "cost": "0 0 0 true", "kept": "6 0 10 false",
		"next": "1 2 3 false",
	}
	for _, e := range evs {
		if got := fmt.Sprintf("%s %s %s %v", e.Drawn.Cash, e.Drawn.Bonus, e.Drawn.Voucher, e.DrawnEstimated); got != want[e.ID] {
			t.Errorf("event %s: cash, bonus, voucher, estimated %s; want %s", e.ID, got, want[e.ID])
		}
	}
	var all []abacus.StoredEvent
	var paid []abacus.MonthPaid
	if err := s.Audit(context.Background(), func(r abacus.AuditReader) error {
		if err := r.Events(collect(&all)); err != nil {
			return err
		}
		return r.MonthsPaid(collect(&paid))
	}); err != nil {
		t.Fatal(err)
	}
	type month struct {
		account  abacus.AccountID
		currency abacus.Currency
		period   time.Time
	}
	sums := map[month]abacus.Drawn{}
	for _, e := range all {
		at := e.Time.UTC()
		m := month{e.Account, e.Currency, time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC)}
		d := sums[m]
		sums[m] = abacus.Drawn{Cash: micros(d.Cash.Micros() + e.Drawn.Cash.Micros()), Bonus: micros(d.Bonus.Micros() + e.Drawn.Bonus.Micros()),
			Voucher: micros(d.Voucher.Micros() + e.Drawn.Voucher.Micros())}
	}
	var wantPaid []abacus.MonthPaid
	for m, d := range sums {
		wantPaid = append(wantPaid, abacus.MonthPaid{Account: m.account, Currency: m.currency, Period: m.period, Paid: d})
	}
	slices.SortFunc(wantPaid, func(x, y abacus.MonthPaid) int {
		return cmp.Or(cmp.Compare(x.Account, y.Account), cmp.Compare(x.Currency, y.Currency), x.Period.Compare(y.Period))
	})
	same(t, "usage_paid after the migration", paid, wantPaid)
	// The last microsecond of October and the first of November are two
	// months: November holds "next" alone.
	nov := abacus.MonthPaid{Account: "a", Currency: "USD", Period: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		Paid: abacus.Drawn{Cash: micros(1_000_000), Bonus: micros(2_000_000), Voucher: micros(3_000_000)}}
	if len(paid) != 2 || !paid[0].Period.Equal(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("usage_paid after the migration: %+v, want October's row and November's", paid)
	}
	same(t, "November's row", paid[1], nov)
}
