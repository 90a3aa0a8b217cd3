package rating_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
	"github.com/shopspring/decimal"
)

func TestValidate(t *testing.T) {
	good := map[string]abacus.Price{
		"per_unit":  perUnit("r", "0", 1), // free is a price
		"graduated": graduated("r", tiers("10:1:0.5", "20:0.5", ":0")...),
		"volume":    volume("r", tiers(":1:2")...),
		"package":   pkg("r", "5", 1),
		"burst":     burst("r", 3600000, map[int]string{0: "1", 1: "2", 7: "3"}),
	}
	for name, p := range good {
		if err := rating.Validate(&p); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	mod := func(p abacus.Price, f func(*abacus.Price)) abacus.Price {
		p.Tiers = slices.Clone(p.Tiers)
		p.Levels = slices.Clone(p.Levels)
		f(&p)
		return p
	}
	lic := func(typ, metric string) *abacus.License {
		return &abacus.License{Name: "l", Type: typ, UserMetric: metric}
	}
	pu := perUnit("r", "1", 1)
	gr := graduated("r", tiers("1000:1", "2000:0.5", ":0.1")...)
	for _, tc := range []struct {
		price abacus.Price
		field string
		msg   string
	}{
		{mod(pu, func(p *abacus.Price) { p.SKUType = -1 }), "sku_type", "negative"},
		{mod(pu, func(p *abacus.Price) { p.SKUKind = 0 }), "sku_kind", "not a sku_kind"},
		{mod(pu, func(p *abacus.Price) { p.ResourceID = "" }), "resource_id", "required"},
		{mod(pu, func(p *abacus.Price) { p.ResourceID = "a\x00b" }), "resource_id", "NUL"},
		{mod(pu, func(p *abacus.Price) { p.UnitType = "" }), "sku_unit_type", "required"},
		{mod(pu, func(p *abacus.Price) { p.Unit = 0 }), "sku_unit", "at least 1"},
		{mod(pu, func(p *abacus.Price) { p.Currency = "usd" }), "currency", "not a currency"},
		{mod(pu, func(p *abacus.Price) { p.ValidFrom = time.Time{} }), "valid_from", "required"},
		{mod(pu, func(p *abacus.Price) { p.Model = "" }), "model", "required"},
		{mod(pu, func(p *abacus.Price) { p.Model = "flat" }), "model", `"flat" is not one of`},
		{mod(pu, func(p *abacus.Price) { p.UnitPrice = d("-0.01") }), "sku_price", "negative"},
		{mod(pu, func(p *abacus.Price) { p.Tiers = tiers(":1") }), "tiers", "only for graduated and volume"},
		{mod(pu, func(p *abacus.Price) { p.Levels = []abacus.BurstPrice{{Level: 1}} }), "levels", "only for burst"},
		{mod(pu, func(p *abacus.Price) { p.Package = 10 }), "package", "only for package"},
		{mod(gr, func(p *abacus.Price) { p.UnitPrice = d("1") }), "sku_price", "not used by the graduated model"},
		{mod(gr, func(p *abacus.Price) { p.Tiers = nil }), "tiers", "required"},
		{mod(gr, func(p *abacus.Price) { p.Tiers[1].UpTo = 1000 }), "tiers[1].up_to", "must be greater than 1000"},
		{mod(gr, func(p *abacus.Price) { p.Tiers[1].UpTo = 999 }), "tiers[1].up_to", "must be greater than 1000"},
		{mod(gr, func(p *abacus.Price) { p.Tiers[0].UpTo = 0 }), "tiers[0].up_to", "only the last tier is unbounded"},
		{mod(gr, func(p *abacus.Price) { p.Tiers[0].UpTo = -5 }), "tiers[0].up_to", "negative"},
		{mod(gr, func(p *abacus.Price) { p.Tiers[2].UpTo = 3000 }), "tiers[2].up_to", "last tier is unbounded"},
		{mod(gr, func(p *abacus.Price) { p.Tiers[1].UnitPrice = d("-1") }), "tiers[1].price", "negative"},
		{mod(gr, func(p *abacus.Price) { p.Tiers[2].FlatFee = d("-1") }), "tiers[2].flat_fee", "negative"},
		{mod(gr, func(p *abacus.Price) { p.Model = abacus.ModelVolume; p.Tiers[2].UpTo = 3000 }), "tiers[2].up_to", "unbounded"},
		{mod(pkg("r", "1", 10), func(p *abacus.Price) { p.Package = 0 }), "package", "not a package size"},
		{mod(pkg("r", "1", 10), func(p *abacus.Price) { p.Unit = 10 }), "sku_unit", "must be 1"},
		{mod(burst("r", 1, nil), func(*abacus.Price) {}), "levels", "required"},
		{mod(burst("r", 1, map[int]string{1: "1"}), func(p *abacus.Price) { p.Levels = append(p.Levels, p.Levels[0]) }), "levels[1].level", "listed twice"},
		{mod(burst("r", 1, map[int]string{1: "1"}), func(p *abacus.Price) { p.Levels[0].Level = -1 }), "levels[0].level", "negative"},
		{mod(burst("r", 1, map[int]string{1: "-1"}), func(*abacus.Price) {}), "levels[0].price", "negative"},
		{mod(burst("r", 1, map[int]string{1: "1"}), func(p *abacus.Price) { p.UnitPrice = d("1") }), "sku_price", "not used by the burst model: the prices go in levels"},
		{mod(pu, func(p *abacus.Price) { p.Discounts = []abacus.CommitmentDiscount{{Months: 0, Fraction: d("0.1")}} }), "discounts[0].months", "at least 1"},
		{mod(pu, func(p *abacus.Price) { p.Discounts = []abacus.CommitmentDiscount{{Months: 3, Fraction: d("1")}} }), "discounts[0].fraction", "not a fraction"},
		{mod(pu, func(p *abacus.Price) { p.Discounts = []abacus.CommitmentDiscount{{Months: 3, Fraction: d("-0.1")}} }), "discounts[0].fraction", "not a fraction"},
		{mod(pu, func(p *abacus.Price) {
			p.Discounts = []abacus.CommitmentDiscount{{Months: 3, Fraction: d("0.1")}, {Months: 3, Fraction: d("0.2")}}
		}), "discounts[1].months", "listed twice"},
		{mod(pu, func(p *abacus.Price) { p.License = lic("rent", "") }), "license.type", `"rent" is not one of install, instance, stub`},
		{mod(gr, func(p *abacus.Price) { p.SKUKind, p.CachedPrice = rating.KindPrompt, decimal.NewNullDecimal(d("0.1")) }), "sku_cached_price", "only by per_unit"},
		{mod(pu, func(p *abacus.Price) {
			p.SKUKind, p.CachedPrice = rating.KindCompletion, decimal.NewNullDecimal(d("0.1"))
		}), "sku_cached_price", "sku_kind 4"},
		{mod(pu, func(p *abacus.Price) { p.SKUKind, p.CachedPrice = rating.KindPrompt, decimal.NewNullDecimal(d("-1")) }), "sku_cached_price", "negative; leave it out"},
		{mod(pu, func(p *abacus.Price) { p.License = lic("", "") }), "license.type", "not one of"},
		{mod(pu, func(p *abacus.Price) { p.License = lic("stub", "") }), "license.user_metric", "required for a stub"},
		{mod(pu, func(p *abacus.Price) { p.License = &abacus.License{Type: "install"} }), "license.name", "required"},
	} {
		err := rating.Validate(&tc.price)
		var ae *abacus.Error
		if !errors.As(err, &ae) || ae.Field != tc.field || ae.Code != abacus.CodeInvalid || !strings.Contains(ae.Message, tc.msg) {
			t.Errorf("want %s: %q, got %v", tc.field, tc.msg, err)
		}
	}
	// Zero discounts and a zero fraction are fine.
	p := mod(pu, func(p *abacus.Price) { p.Discounts = []abacus.CommitmentDiscount{{Months: 1, Fraction: decimal.Zero}} })
	if err := rating.Validate(&p); err != nil {
		t.Error(err)
	}
	if err := rating.Validate(nil); err == nil {
		t.Error("nil price validated")
	}
}

func TestNewBookErrors(t *testing.T) {
	bad := perUnit("r", "1", 0)
	dup := perUnit("r", "2", 1)
	for _, tc := range []struct {
		name        string
		prices      []abacus.Price
		levels      []abacus.BurstLevel
		commitments []abacus.Commitment
		field       string
		code        abacus.ErrorCode
	}{
		{"invalid price", []abacus.Price{perUnit("r", "1", 1), bad}, nil, nil, "prices[1].sku_unit", abacus.CodeInvalid},
		{"two versions at once", []abacus.Price{perUnit("r", "1", 1), dup}, nil, nil, "prices", abacus.CodeConflict},
		{"level without resource", nil, []abacus.BurstLevel{{Level: 1, EffectiveFrom: jan1}}, nil, "burst_levels[0].resource", abacus.CodeInvalid},
		{"level 0", nil, []abacus.BurstLevel{{Resource: "cpu", Level: 0, EffectiveFrom: jan1}}, nil, "burst_levels[0].level", abacus.CodeInvalid},
		{"level without time", nil, []abacus.BurstLevel{{Resource: "cpu", Level: 1}}, nil, "burst_levels[0].effective_from", abacus.CodeInvalid},
		{"conflicting levels", nil, []abacus.BurstLevel{{Resource: "cpu", Level: 1, EffectiveFrom: jan1}, {Resource: "cpu", Level: 2, EffectiveFrom: jan1}}, nil, "burst_levels", abacus.CodeConflict},
		{"bad account", nil, nil, []abacus.Commitment{{Account: "x", Months: 1, From: jan1, Until: feb1}}, "commitments[0].account", abacus.CodeInvalid},
		{"system account", nil, nil, []abacus.Commitment{{Account: abacus.SystemRevenue.ID(), Months: 1, From: jan1, Until: feb1}}, "commitments[0].account", abacus.CodeInvalid},
		{"nil UUID", nil, nil, []abacus.Commitment{{Account: "00000000-0000-0000-0000-000000000000", Months: 1, From: jan1, Until: feb1}}, "commitments[0].account", abacus.CodeInvalid},
		{"no months", nil, nil, []abacus.Commitment{{Account: alice, From: jan1, Until: feb1}}, "commitments[0].months", abacus.CodeInvalid},
		{"no from", nil, nil, []abacus.Commitment{{Account: alice, Months: 1, Until: feb1}}, "commitments[0].from", abacus.CodeInvalid},
		{"no until", nil, nil, []abacus.Commitment{{Account: alice, Months: 1, From: jan1}}, "commitments[0].until", abacus.CodeInvalid},
		{"empty commitment", nil, nil, []abacus.Commitment{{Account: alice, Months: 1, From: feb1, Until: feb1}}, "commitments[0].until", abacus.CodeInvalid},
		{"ended at its start", nil, nil, []abacus.Commitment{{Account: alice, Months: 1, From: jan1, Until: feb1, Ended: jan1}}, "commitments[0].ended", abacus.CodeInvalid},
		{"ended before its start", nil, nil, []abacus.Commitment{{Account: alice, Months: 1, From: feb1, Until: feb1.AddDate(0, 1, 0), Ended: jan1}}, "commitments[0].ended", abacus.CodeInvalid},
		{"ended after its term", nil, nil, []abacus.Commitment{{Account: alice, Months: 1, From: jan1, Until: feb1, Ended: feb1.Add(time.Microsecond)}}, "commitments[0].ended", abacus.CodeInvalid},
	} {
		_, err := rating.NewBook(nil, tc.prices, tc.levels, tc.commitments)
		var ae *abacus.Error
		if !errors.As(err, &ae) || ae.Field != tc.field || ae.Code != tc.code {
			t.Errorf("%s: %v, want %s on %s", tc.name, err, tc.code, tc.field)
		}
	}
	// The same price in two currencies, or at two times, is fine.
	eur := perUnit("r", "1", 1)
	eur.Currency = "EUR"
	later := perUnit("r", "1", 1)
	later.ValidFrom = feb1
	if _, err := rating.NewBook(nil, []abacus.Price{perUnit("r", "1", 1), eur, later}, nil, nil); err != nil {
		t.Error(err)
	}
}

// TestBookIsASnapshot: changing the inputs after NewBook changes nothing.
func TestBookIsASnapshot(t *testing.T) {
	prices := []abacus.Price{graduated("r", tiers("10:1", ":0.5")...)}
	prices[0].Discounts = []abacus.CommitmentDiscount{{Months: 1, Fraction: d("0.5")}}
	b := mustBook(t, prices, nil, nil)
	prices[0].Tiers[0].UnitPrice = d("100")
	prices[0].Discounts[0].Fraction = d("0.9")
	prices[0].UnitType = "second"
	p, ok := b.Price(key("r"), "USD", jan10)
	if !ok || !p.Tiers[0].UnitPrice.Equal(d("1")) || !p.Discounts[0].Fraction.Equal(d("0.5")) {
		t.Errorf("the book changed: %+v", p)
	}
}
