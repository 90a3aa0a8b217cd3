package rating_test

import (
	"encoding/json"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
	"github.com/shopspring/decimal"
)

const (
	alice = abacus.AccountID("5b7e0c1a-9f3e-4a57-8d2c-0a1b2c3d4e5f")
	bob   = abacus.AccountID("0d9c8b7a-6f5e-4d3c-2b1a-098765432100")
)

var (
	jan1  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	feb1  = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	mar1  = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	jan10 = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
)

// tb is what the helpers need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// d parses an exact decimal.
func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func tiers(spec ...string) []abacus.PriceTier {
	// spec: "up_to price [flat_fee]" triples written as strings: "1000:0.01", "5000:0.008:2", ":0.005:5".
	var out []abacus.PriceTier
	for _, s := range spec {
		var t abacus.PriceTier
		parts := splitColon(s)
		if parts[0] != "" {
			t.UpTo = d(parts[0]).IntPart()
		}
		t.UnitPrice = d(parts[1])
		if len(parts) > 2 {
			t.FlatFee = d(parts[2])
		}
		out = append(out, t)
	}
	return out
}

func splitColon(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// key is the key of a duration event of scene 11 on resource r.
func key(r string) rating.Key {
	return rating.Key{SKUType: 1, SKUKind: 1, ResourceID: r, UnitType: "minute"}
}

func perUnit(r, price string, unit int64) abacus.Price {
	return abacus.Price{SKUType: 1, SKUKind: 1, ResourceID: r, UnitType: "minute", Currency: "USD",
		Unit: unit, Model: abacus.ModelPerUnit, UnitPrice: d(price), ValidFrom: jan1}
}

func graduated(r string, ts ...abacus.PriceTier) abacus.Price {
	return abacus.Price{SKUType: 1, SKUKind: 1, ResourceID: r, UnitType: "minute", Currency: "USD",
		Unit: 1, Model: abacus.ModelGraduated, Tiers: ts, ValidFrom: jan1}
}

func volume(r string, ts ...abacus.PriceTier) abacus.Price {
	p := graduated(r, ts...)
	p.Model = abacus.ModelVolume
	return p
}

func pkg(r, price string, size int64) abacus.Price {
	return abacus.Price{SKUType: 1, SKUKind: 1, ResourceID: r, UnitType: "minute", Currency: "USD",
		Unit: 1, Model: abacus.ModelPackage, UnitPrice: d(price), Package: size, ValidFrom: jan1}
}

func burst(r string, unit int64, levels map[int]string) abacus.Price {
	p := abacus.Price{SKUType: 1, SKUKind: 1, ResourceID: r, UnitType: "minute", Currency: "USD",
		Unit: unit, Model: abacus.ModelBurst, ValidFrom: jan1}
	for l := 0; l <= 30; l++ {
		if s, ok := levels[l]; ok {
			p.Levels = append(p.Levels, abacus.BurstPrice{Level: l, UnitPrice: d(s)})
		}
	}
	return p
}

func mustBook(t tb, prices []abacus.Price, levels []abacus.BurstLevel, commitments []abacus.Commitment) *rating.Book {
	t.Helper()
	for i := range prices {
		if prices[i].ID == 0 {
			prices[i].ID = int64(i + 1)
		}
	}
	b, err := rating.NewBook(nil, prices, levels, commitments)
	if err != nil {
		t.Fatalf("NewBook: %v", err)
	}
	return b
}

// event is a duration event (scene 11) of v minutes on resource r.
func event(r string, v int64, at time.Time) *abacus.UsageEvent {
	return &abacus.UsageEvent{ID: "e", Account: alice, Value: v, ValueType: abacus.ValueDuration, Scene: 11, ResourceID: r, Time: at}
}

func withExtra(e *abacus.UsageEvent, extra map[string]any) *abacus.UsageEvent {
	b, err := json.Marshal(extra)
	if err != nil {
		panic(err)
	}
	e.Extra = string(b)
	return e
}

// engine keeps usage counters the way the ingestion engine does: it
// rates, then adds each counted line's quantity.
type engine struct {
	book     *rating.Book
	cur      abacus.Currency
	counters map[rating.Counter]int64
}

func newEngine(b *rating.Book, cur abacus.Currency) *engine {
	return &engine{book: b, cur: cur, counters: map[rating.Counter]int64{}}
}

func (en *engine) rate(t tb, e *abacus.UsageEvent) rating.Rating {
	t.Helper()
	r, err := en.book.Rate(e, en.cur, func(c rating.Counter) int64 { return en.counters[c] })
	if err != nil {
		t.Fatalf("Rate(%v): %v", e, err)
	}
	if r.Unpriced {
		return r
	}
	sum := decimal.Zero
	for _, l := range r.Lines {
		sum = sum.Add(l.Cost)
		if l.Counter != nil {
			en.counters[*l.Counter] += l.Quantity
		}
	}
	if !sum.Equal(r.Cost) {
		t.Fatalf("Rating.Cost %s is not the sum of its lines %s", r.Cost, sum)
	}
	return r
}

func wantCost(t tb, what string, got decimal.Decimal, want string) {
	t.Helper()
	if !got.Equal(d(want)) {
		t.Errorf("%s: cost %s, want %s", what, got, want)
	}
}

func fixedZone(hours int) *time.Location { return time.FixedZone("", hours*3600) }
