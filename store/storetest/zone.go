package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
)

// testBillingZone: a new database bills by UTC months; SetBillingZone
// stores a zone and bumps the book's version (again, the same zone changes
// nothing), refuses a name that is not a zone, checks counted versions
// against the new zone's months, in PriceBookAdd too, and refuses any
// change once an event is stored. The audit reads the zone.
func testBillingZone(t *testing.T, st abacus.Store) {
	ctx := t.Context()
	if b := mustBook(t, st); b.Zone != "UTC" {
		t.Fatalf("a new database's zone is %q, want UTC", b.Zone)
	}
	var ae *abacus.Error
	if err := st.SetBillingZone(ctx, "Mars/Olympus_Mons"); !errors.As(err, &ae) || ae.Code != abacus.CodeInvalid || ae.Field != "billing_zone" {
		t.Fatalf("an unknown zone: %v, want billing_zone invalid", err)
	}
	before := mustBook(t, st)
	if err := st.SetBillingZone(ctx, "Asia/Shanghai"); err != nil {
		t.Fatal(err)
	}
	set := mustBook(t, st)
	if set.Zone != "Asia/Shanghai" || set.Version <= before.Version {
		t.Fatalf("after setting it: zone %q at version %d (was %d)", set.Zone, set.Version, before.Version)
	}
	if err := st.SetBillingZone(ctx, "Asia/Shanghai"); err != nil || mustBook(t, st).Version != set.Version {
		t.Fatalf("setting the zone it has: %v, version %d, want %d", err, mustBook(t, st).Version, set.Version)
	}

	// Counted versions change at Shanghai's month starts: 16:00 UTC on
	// the last day of the UTC month before.
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	dec, janCN := tieredPrice(1), tieredPrice(1)
	dec.ValidFrom = time.Date(2025, 12, 1, 0, 0, 0, 0, shanghai).UTC()
	janCN.ValidFrom = time.Date(2026, 1, 1, 0, 0, 0, 0, shanghai).UTC()
	midJanCN := tieredPrice(15) // 15 January 08:00 in Shanghai
	if err := st.PriceBookAdd(ctx, []abacus.Price{dec, janCN}, nil); err != nil {
		t.Fatalf("versions at Shanghai's month starts: %v", err)
	}
	if err := st.PriceBookAdd(ctx, []abacus.Price{midJanCN}, nil); !errors.As(err, &ae) || ae.Field != "prices[0].valid_from" {
		t.Fatalf("a second counted version in Shanghai's January: %v, want prices[0].valid_from refused", err)
	}
	// In UTC those two would share December.
	priced := mustBook(t, st)
	if err := st.SetBillingZone(ctx, "UTC"); !errors.As(err, &ae) || ae.Code != abacus.CodeConflict || ae.Field != "billing_zone" {
		t.Fatalf("UTC, where two counted versions share December: %v, want billing_zone conflict", err)
	}
	if b := mustBook(t, st); b.Zone != "Asia/Shanghai" || b.Version != priced.Version {
		t.Fatalf("a refused change left zone %q at version %d (was %d)", b.Zone, b.Version, priced.Version)
	}
	if err := st.SetBillingZone(ctx, "Asia/Hong_Kong"); err != nil { // the same months
		t.Fatal(err)
	}

	a := mustAccount(t, st, 1, "USD")
	ev := abacus.StoredEvent{UsageEvent: abacus.UsageEvent{ID: "zone-1", Account: a.ID, Value: 1, Scene: 11, ResourceID: "gpu", Time: at(60), Extra: "{}"},
		Status: abacus.EventUnpriced, ReceivedAt: at(61), Currency: "USD"}
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		return tx.Apply(ctx, &abacus.Changes{Events: []abacus.StoredEvent{ev}})
	})
	if err := st.SetBillingZone(ctx, "Asia/Shanghai"); !errors.As(err, &ae) || ae.Code != abacus.CodeConflict || ae.Field != "billing_zone" {
		t.Fatalf("a change once an event is stored: %v, want billing_zone conflict", err)
	}
	if err := st.SetBillingZone(ctx, "Asia/Hong_Kong"); err != nil {
		t.Fatalf("the zone it has, with an event stored: %v", err)
	}
	err := st.Audit(ctx, func(ar abacus.AuditReader) error {
		zone, err := ar.BillingZone()
		if err == nil && zone != "Asia/Hong_Kong" {
			t.Errorf("the audit reads zone %q", zone)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testBillingZoneAliases: with usage stored, another name of the zone
// (whose months are the same) is taken, and a zone whose months differ is
// still refused.
func testBillingZoneAliases(t *testing.T, st abacus.Store) {
	ctx := t.Context()
	a := mustAccount(t, st, 1, "USD")
	ev := abacus.StoredEvent{UsageEvent: abacus.UsageEvent{ID: "alias-1", Account: a.ID, Value: 1, Scene: 11, ResourceID: "gpu", Time: at(60), Extra: "{}"},
		Status: abacus.EventUnpriced, ReceivedAt: at(61), Currency: "USD"}
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		return tx.Apply(ctx, &abacus.Changes{Events: []abacus.StoredEvent{ev}})
	})
	for _, zone := range []string{"Etc/UTC", "UTC", "Etc/GMT"} {
		if err := st.SetBillingZone(ctx, zone); err != nil {
			t.Fatalf("%s on a database of UTC months: %v", zone, err)
		}
		if got := mustBook(t, st).Zone; got != zone {
			t.Fatalf("zone %q after setting %s", got, zone)
		}
	}
	var ae *abacus.Error
	if err := st.SetBillingZone(ctx, "Europe/London"); !errors.As(err, &ae) || ae.Code != abacus.CodeConflict {
		t.Fatalf("Europe/London, whose summer months start an hour earlier: %v, want a conflict", err)
	}
}
