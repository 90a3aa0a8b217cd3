package rating_test

import (
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// TestRevisionsReplaceAVersion: a correction stored at a version's own
// ValidFrom, in a higher revision, is the price in force from then on;
// the version it replaced still rates what it rated, when named.
func TestRevisionsReplaceAVersion(t *testing.T) {
	wrong := perUnit("r", "0.05", 1)
	wrong.ID = 1
	fixed := perUnit("r", "0.03", 1)
	fixed.ID, fixed.Revision = 2, 1
	b := mustBook(t, []abacus.Price{fixed, wrong}, nil, nil) // any order
	ev := event("r", 10, jan10)
	r, err := b.Rate(ev, "USD", nil)
	if err != nil || r.Unpriced || r.Lines[0].PriceID != 2 {
		t.Fatalf("in force: %+v %v, want revision 1", r, err)
	}
	wantCost(t, "in force", r.Cost, "0.3")
	if vs := b.Versions(rating.KeyOf(&wrong), "USD"); len(vs) != 1 || vs[0].ID != 2 {
		t.Fatalf("versions %v, want only the revision in force", vs)
	}
	for id, want := range map[int64]bool{1: false, 2: true, 7: false} {
		if got := b.InForceDuring(id, jan10, jan10.AddDate(0, 1, 0)); got != want {
			t.Fatalf("InForceDuring(%d) = %v, want %v", id, got, want)
		}
	}
	r, err = b.RateWith(ev, "USD", nil, []int64{1})
	if err != nil || r.Unpriced || r.Lines[0].PriceID != 1 {
		t.Fatalf("with the version it was charged at: %+v %v", r, err)
	}
	wantCost(t, "at the replaced version", r.Cost, "0.5")
	for _, ids := range [][]int64{nil, {7}} {
		if r, err := b.RateWith(ev, "USD", nil, ids); err != nil || !r.Unpriced {
			t.Fatalf("with versions %v, none of which prices it: %+v %v", ids, r, err)
		}
	}
	again := perUnit("r", "0.04", 1)
	again.ID, again.Revision = 3, 1
	if _, err := rating.NewBook(nil, []abacus.Price{wrong, fixed, again}, nil, nil); abacus.ErrorCodeOf(err) != abacus.CodeConflict {
		t.Fatalf("two revisions 1 of one version: %v", err)
	}
}

// TestRateWithTiersAndComponents: RateWith counts tiers from the counter
// it is given, as Rate does, and finds each component's version among
// the ids by its key.
func TestRateWithTiersAndComponents(t *testing.T) {
	old := graduated("r", tiers("100:1", ":0.5")...)
	old.ID = 1
	corrected := graduated("r", tiers("100:2", ":1")...)
	corrected.ID, corrected.ValidFrom = 2, jan10
	other := perUnit("s", "1", 1)
	other.ID = 3
	b := mustBook(t, []abacus.Price{old, corrected, other}, nil, nil)
	ev := event("r", 40, jan10)
	used := func(rating.Counter) int64 { return 80 }
	r, err := b.RateWith(ev, "USD", used, []int64{3, 1})
	if err != nil || r.Unpriced || r.Lines[0].PriceID != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	wantCost(t, "at the old tiers", r.Cost, "30") // 20 × 1 + 20 × 0.5
	r, err = b.Rate(ev, "USD", used)
	if err != nil || r.Lines[0].PriceID != 2 {
		t.Fatalf("%+v %v", r, err)
	}
	wantCost(t, "at the corrected tiers", r.Cost, "60") // 20 × 2 + 20 × 1
}

// TestInForceDuring: a version is in force over some of a span unless a
// revision replaced it or the versions around it leave it none of it.
func TestInForceDuring(t *testing.T) {
	jan := perUnit("r", "1", 1) // from jan1
	jan.ID = 1
	feb := perUnit("r", "2", 1)
	feb.ID, feb.ValidFrom = 2, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	b := mustBook(t, []abacus.Price{jan, feb}, nil, nil)
	month := func(m time.Month) (time.Time, time.Time) {
		start := time.Date(2026, m, 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	}
	for _, c := range []struct {
		id    int64
		month time.Month
		want  bool
	}{{1, 1, true}, {1, 2, false}, {2, 1, false}, {2, 2, true}, {2, 3, true}} {
		from, to := month(c.month)
		if got := b.InForceDuring(c.id, from, to); got != c.want {
			t.Errorf("version %d in month %d: %v, want %v", c.id, c.month, got, c.want)
		}
	}
}
