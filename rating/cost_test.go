package rating_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// cumulativeCases lists C(q) at and around every boundary of one price of
// each model.
var cumulativeCases = []struct {
	name  string
	price abacus.Price
	want  map[int64]string // q -> C(q)
}{
	{
		name:  "per_unit",
		price: perUnit("r", "0.05", 1),
		want:  map[int64]string{0: "0", 1: "0.05", 3: "0.15", 1000: "50"},
	},
	{
		name:  "per_unit per thousand",
		price: perUnit("r", "2", 1000),
		want:  map[int64]string{0: "0", 1: "0.002", 999: "1.998", 1000: "2", 1001: "2.002"},
	},
	{
		name:  "per_unit non-terminating",
		price: perUnit("r", "1", 3),
		want:  map[int64]string{1: "0.33333333333333333333", 2: "0.66666666666666666667", 3: "1"},
	},
	{
		name:  "per_unit ties round half-even",
		price: perUnit("r", "0.000000000000000000025", 1),
		want:  map[int64]string{1: "0.00000000000000000002", 3: "0.00000000000000000008", 4: "0.0000000000000000001"},
	},
	{
		name:  "graduated",
		price: graduated("r", tiers("1000:0.01", "5000:0.008:2", ":0.005:5")...),
		want: map[int64]string{
			0: "0", 1: "0.01", 999: "9.99", 1000: "10",
			1001: "12.008", // 10 + 0.008 + the second tier's flat fee
			4999: "43.992", 5000: "44",
			5001:  "49.005", // 44 + 0.005 + the last tier's flat fee
			10000: "74",
		},
	},
	{
		name:  "graduated with a first-tier flat fee",
		price: graduated("r", tiers("10:0:1", ":1")...),
		want:  map[int64]string{0: "0", 1: "1", 10: "1", 11: "2", 12: "3"},
	},
	{
		name:  "volume",
		price: volume("r", tiers("1000:0.01", "5000:0.008:1", ":0.005")...),
		want: map[int64]string{
			0: "0", 1: "0.01", 999: "9.99", 1000: "10",
			1001: "9.008", // every unit at 0.008, plus the flat fee
			4999: "40.992", 5000: "41",
			5001: "25.005",
		},
	},
	{
		name:  "package",
		price: pkg("r", "5", 100),
		want:  map[int64]string{0: "0", 1: "5", 99: "5", 100: "5", 101: "10", 200: "10", 201: "15"},
	},
	{
		name:  "package of one",
		price: pkg("r", "0.3", 1),
		want:  map[int64]string{0: "0", 1: "0.3", 7: "2.1"},
	},
}

func TestCumulative(t *testing.T) {
	for _, tc := range cumulativeCases {
		for q, want := range tc.want {
			got, ok := rating.Cumulative(&tc.price, q)
			if !ok {
				t.Errorf("%s: C(%d) not defined", tc.name, q)
				continue
			}
			wantCost(t, fmt.Sprintf("%s: C(%d)", tc.name, q), got, want)
		}
	}
	b := burst("r", 1, map[int]string{1: "1"})
	if _, ok := rating.Cumulative(&b, 1); ok {
		t.Error("a burst price has a cumulative cost function")
	}
	p := perUnit("r", "1", 1)
	if _, ok := rating.Cumulative(&p, -1); ok {
		t.Error("C(-1) is defined")
	}
}

// TestIncrementsAroundBoundaries rates single events that start and end
// at and around every tier boundary: each costs C(q+v) − C(q) (a per-unit
// event costs C(v), which is the same when the division terminates).
func TestIncrementsAroundBoundaries(t *testing.T) {
	for _, tc := range cumulativeCases {
		qs := make([]int64, 0, len(tc.want))
		for q := range tc.want {
			qs = append(qs, q)
		}
		for _, from := range qs {
			for _, to := range qs {
				if to < from {
					continue
				}
				price := tc.price
				price.ID = 7
				b := mustBook(t, []abacus.Price{price}, nil, nil)
				en := newEngine(b, "USD")
				if from > 0 {
					en.rate(t, event("r", from, jan10))
				}
				r := en.rate(t, event("r", to-from, jan10))
				want := d(tc.want[to]).Sub(d(tc.want[from]))
				if price.Model == abacus.ModelPerUnit {
					// No counter: each event is rounded on its own.
					want, _ = rating.Cumulative(&price, to-from)
				}
				if !r.Cost.Equal(want) {
					t.Errorf("%s: %d → %d costs %s, want %s", tc.name, from, to, r.Cost, want)
				}
				l := r.Lines[0]
				if l.PriceID != 7 || l.Quantity != to-from {
					t.Errorf("%s: line %+v", tc.name, l)
				}
				counted := price.Model != abacus.ModelPerUnit
				if (l.Counter != nil) != counted {
					t.Errorf("%s: counter %v, want counted=%v", tc.name, l.Counter, counted)
				}
			}
		}
	}
}

func TestVolumeStepDownIsNegative(t *testing.T) {
	b := mustBook(t, []abacus.Price{volume("r", tiers("1000:0.01", ":0.005")...)}, nil, nil)
	en := newEngine(b, "USD")
	wantCost(t, "first 1000", en.rate(t, event("r", 1000, jan10)).Cost, "10")
	wantCost(t, "the 1001st", en.rate(t, event("r", 1, jan10)).Cost, "-4.995") // 1001 × 0.005 − 10
	wantCost(t, "the 1002nd", en.rate(t, event("r", 1, jan10)).Cost, "0.005")
}

func TestCounterPeriodIsTheUTCMonth(t *testing.T) {
	b := mustBook(t, []abacus.Price{graduated("r", tiers("10:1", ":0.5")...)}, nil, nil)
	en := newEngine(b, "USD")
	en.rate(t, event("r", 10, jan10))
	// 2026-02-01 00:30 at +01:00 is still January in UTC.
	late := feb1.Add(-30 * 60e9)
	r := en.rate(t, event("r", 2, late.In(fixedZone(1))))
	wantCost(t, "end of January", r.Cost, "1")
	if got := r.Lines[0].Counter.Period; !got.Equal(jan1) {
		t.Errorf("period %s, want %s", got, jan1)
	}
	r = en.rate(t, event("r", 2, feb1))
	wantCost(t, "February starts afresh", r.Cost, "2")
	if got := b.PeriodOf(feb1.Add(-1)); !got.Equal(jan1) {
		t.Errorf("PeriodOf: %s", got)
	}
}

// TestCounterPeriodIsTheZonesMonth: with the book's billing months in
// Asia/Shanghai (UTC+8), February begins at 16:00 UTC on 31 January, and
// the tiers start afresh there; in America/New_York a month's bounds
// follow its DST offset.
func TestCounterPeriodIsTheZonesMonth(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	p := graduated("r", tiers("10:1", ":0.5")...)
	p.ID = 1
	b, err := rating.NewBook(shanghai, []abacus.Price{p}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	en := newEngine(b, "USD")
	febShanghai := time.Date(2026, 1, 31, 16, 0, 0, 0, time.UTC)
	wantCost(t, "January in Shanghai", en.rate(t, event("r", 10, febShanghai.Add(-time.Second))).Cost, "10")
	r := en.rate(t, event("r", 2, febShanghai))
	wantCost(t, "February in Shanghai starts afresh, though January in UTC", r.Cost, "2")
	if got := r.Lines[0].Counter.Period; !got.Equal(febShanghai) {
		t.Errorf("period %s, want %s", got, febShanghai)
	}
	if got := b.PeriodEnd(febShanghai); !got.Equal(time.Date(2026, 2, 28, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("February in Shanghai ends at %s", got)
	}
	// The book remembers the month it found last; every lookup still
	// gets its own.
	janShanghai := time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC)
	for i, at := range []time.Time{febShanghai, febShanghai.Add(-1), febShanghai, janShanghai, janShanghai.Add(-1), febShanghai.Add(-1)} {
		want := febShanghai
		switch {
		case at.Before(janShanghai):
			want = time.Date(2025, 11, 30, 16, 0, 0, 0, time.UTC)
		case at.Before(febShanghai):
			want = janShanghai
		}
		if got := b.PeriodOf(at); !got.Equal(want) {
			t.Errorf("lookup %d, %s: month from %s, want %s", i, at, got, want)
		}
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// March 2026 starts in EST (UTC-5) and ends in EDT (UTC-4).
	start, end := rating.Month(time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), ny)
	if !start.Equal(time.Date(2026, 3, 1, 5, 0, 0, 0, time.UTC)) || !end.Equal(time.Date(2026, 4, 1, 4, 0, 0, 0, time.UTC)) {
		t.Errorf("March in New York: %s to %s", start, end)
	}
}
