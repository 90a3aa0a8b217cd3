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
// other event stored, fill usage_paid: per account, currency, UTC
// calendar month and resource, the sums of their net drawn_*.
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
		resource string
	}
	sums := map[month]abacus.Drawn{}
	for _, e := range all {
		at := e.Time.UTC()
		m := month{e.Account, e.Currency, time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC), e.ResourceID}
		d := sums[m]
		sums[m] = abacus.Drawn{Cash: micros(d.Cash.Micros() + e.Drawn.Cash.Micros()), Bonus: micros(d.Bonus.Micros() + e.Drawn.Bonus.Micros()),
			Voucher: micros(d.Voucher.Micros() + e.Drawn.Voucher.Micros())}
	}
	var wantPaid []abacus.MonthPaid
	for m, d := range sums {
		wantPaid = append(wantPaid, abacus.MonthPaid{Account: m.account, Currency: m.currency, Period: m.period, ResourceID: m.resource, Paid: d})
	}
	slices.SortFunc(wantPaid, func(x, y abacus.MonthPaid) int {
		return cmp.Or(cmp.Compare(x.Account, y.Account), cmp.Compare(x.Currency, y.Currency), x.Period.Compare(y.Period), cmp.Compare(x.ResourceID, y.ResourceID))
	})
	same(t, "usage_paid after the migration", paid, wantPaid)
	// The last microsecond of October and the first of November are two
	// months: November holds "next" alone.
	nov := abacus.MonthPaid{Account: "a", Currency: "USD", Period: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), ResourceID: "gpu",
		Paid: abacus.Drawn{Cash: micros(1_000_000), Bonus: micros(2_000_000), Voucher: micros(3_000_000)}}
	if len(paid) != 2 || !paid[0].Period.Equal(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("usage_paid after the migration: %+v, want October's row and November's", paid)
	}
	same(t, "November's row", paid[1], nov)
}

// PaidByResourceEvents are the events each dialect's
// TestMigrationSplitsPaidByResource stores before migration 0025, in a
// database billing by the months of Asia/Shanghai (UTC+8), with the
// monthly sums that 0024 kept: (id, account, resource, time, cash, bonus,
// voucher in micro-units).
var PaidByResourceEvents = []struct {
	ID, Account, Resource string
	Time                  time.Time
	Cash, Bonus, Voucher  int64
}{
	{"oct", "a", "gpu", time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC), 1_000_000, 0, 0},
	// November in Shanghai, October in UTC.
	{"nov-gpu", "a", "gpu", time.Date(2026, 10, 31, 17, 0, 0, 0, time.UTC), 0, 0, 10_000_000},
	{"nov-cpu", "a", "cpu", time.Date(2026, 10, 31, 18, 0, 0, 0, time.UTC), 6_000_000, 0, 0},
	{"nov-cpu-2", "a", "cpu", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), 0, 1_000_000, 0},
	// December's batch netted to nothing, so it kept no sum; its counter
	// tells the month.
	{"dec-gpu", "a", "gpu", time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC), -2_000_000, 0, 0},
	{"dec-cpu", "a", "cpu", time.Date(2026, 12, 10, 1, 0, 0, 0, time.UTC), 2_000_000, 0, 0},
	// Moved nothing: no row.
	{"free", "a", "disk", time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC), 0, 0, 0},
	// Neither a sum nor a counter: its UTC month.
	{"alone", "b", "gpu", time.Date(2026, 8, 10, 0, 0, 0, 0, time.UTC), 3_000_000, 0, 0},
}

// PaidByResourceMonths are the month starts, in Shanghai, that 0024 kept
// sums for (account "a"), and December's, which only a counter has.
var PaidByResourceMonths = struct{ Oct, Nov, Dec time.Time }{
	time.Date(2026, 9, 30, 16, 0, 0, 0, time.UTC), time.Date(2026, 10, 31, 16, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC),
}

// CheckPaidByResource checks what migration 0025 made of
// PaidByResourceEvents: a row per account, currency, month and resource,
// each event in the month its account's sums or counters say, or its UTC
// month where they say none.
func CheckPaidByResource(t *testing.T, s abacus.Store) {
	t.Helper()
	var paid []abacus.MonthPaid
	if err := s.Audit(context.Background(), func(r abacus.AuditReader) error { return r.MonthsPaid(collect(&paid)) }); err != nil {
		t.Fatal(err)
	}
	m := PaidByResourceMonths
	row := func(acct abacus.AccountID, period time.Time, resource string, cash, bonus, voucher int64) abacus.MonthPaid {
		return abacus.MonthPaid{Account: acct, Currency: "USD", Period: period, ResourceID: resource,
			Paid: abacus.Drawn{Cash: micros(cash), Bonus: micros(bonus), Voucher: micros(voucher)}}
	}
	same(t, "usage_paid after 0025", paid, []abacus.MonthPaid{
		row("a", m.Oct, "gpu", 1_000_000, 0, 0),
		row("a", m.Nov, "cpu", 6_000_000, 1_000_000, 0),
		row("a", m.Nov, "gpu", 0, 0, 10_000_000),
		row("a", m.Dec, "cpu", 2_000_000, 0, 0),
		row("a", m.Dec, "gpu", -2_000_000, 0, 0),
		row("b", time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC), "gpu", 3_000_000, 0, 0),
	})
}

// DeadLetterKeys0027 are the keys of the dead letters each dialect's
// TestMigrationKeysDeadLettersWithoutTheDurable stores before migration
// 0027 (in this order; "" is none), whether each was published, and what
// 0027 makes of their keys: the durable's name taken out, wherever it is
// of the shape nats:STREAM:DURABLE:CREATED:SEQ; of one message several
// durables recorded, the first published letter keeps the key, or the
// first if none was published.
var DeadLetterKeys0027 = []struct {
	Before    string
	Published bool
	After     string
}{
	{"nats:meteringEventStream:abacus-metering:1764000000000000000:7", false, ""},
	{"nats:meteringEventStream:abacus-other:1764000000000000000:7", true, "nats:meteringEventStream:1764000000000000000:7"},
	{"nats:meteringEventStream:abacus-third:1764000000000000000:7", true, ""},
	{"nats:meteringEventStream:abacus-metering:1764000000000000000:8", false, "nats:meteringEventStream:1764000000000000000:8"},
	{"nats:meteringEventStream:abacus-other:1764000000000000000:8", false, ""},
	{"nats:s:a:durable:with:colons:5:6", true, "nats:s:5:6"},
	{"nats:s::5:7", true, "nats:s:5:7"},
	{"nats:t:99:100", true, "nats:t:99:100"},
	{"nats:t:d:99:100", true, ""}, // its new key is the one above's
	{"nats:s:d:1", true, "nats:s:d:1"},
	{"nats:s:d:1:x", true, "nats:s:d:1:x"},
	{"other:s:d:1:2", true, "other:s:d:1:2"},
	{"", true, ""},
}

// CheckDeadLetterKeys0027 checks the keys of the letters stored as
// DeadLetterKeys0027 says, after 0027.
func CheckDeadLetterKeys0027(t *testing.T, s abacus.Store) {
	t.Helper()
	ds, err := s.DeadLetters(context.Background(), 0, 100)
	if err != nil || len(ds) != len(DeadLetterKeys0027) {
		t.Fatalf("%d dead letters (%v), want %d", len(ds), err, len(DeadLetterKeys0027))
	}
	for i, d := range ds {
		if w := DeadLetterKeys0027[i]; d.Key != w.After {
			t.Errorf("dead letter %d, keyed %q before 0027: %q, want %q", i+1, w.Before, d.Key, w.After)
		}
	}
}
