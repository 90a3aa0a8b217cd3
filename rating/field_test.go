package rating_test

import (
	"errors"
	"math"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// TestRatingNamesTheFieldItsCostGrowsWith: a rating names the field of the
// event its cost grows with, for a refusal of a cost too large: in a
// token split the count in extra that costs the most (the cached tokens
// where they are the larger part of the prompt's cost), and the value
// otherwise. A quantity that overflows in Rate names it too.
func TestRatingNamesTheFieldItsCostGrowsWith(t *testing.T) {
	token := func(r string, kind int, p abacus.Price) abacus.Price {
		p.ResourceID, p.SKUKind, p.UnitType = r, kind, "token"
		return p
	}
	prompt := token("llm", rating.KindPrompt, perUnit("", "1", 1))
	prompt.CachedPrice = decimal.NewNullDecimal(d("2")) // dearer than the others, so that the cache can cost the most
	seats := token("seats", rating.KindPrompt, perUnit("", "1", 1))
	seats.License = &abacus.License{Name: "seats", Type: rating.LicenseStub, UserMetric: "users", Burstable: true}
	b := mustBook(t, []abacus.Price{prompt, token("llm", rating.KindCompletion, perUnit("", "1", 1)),
		token("gr", rating.KindPrompt, graduated("", tiers("10:1", ":1")...)), seats}, nil, nil)
	const max = math.MaxInt64
	tokens := func(r string, value int64, extra string) *abacus.UsageEvent {
		return &abacus.UsageEvent{ID: "e", Account: alice, Value: value, ValueType: abacus.ValueTokens, Scene: 15, ResourceID: r, Time: jan10, Extra: extra}
	}
	for _, tc := range []struct {
		name  string
		e     *abacus.UsageEvent
		field string
	}{
		{"prompt tokens", tokens("llm", 1, `{"prompt_token_num":9223372036854775807}`), "extra.prompt_token_num"},
		{"completion tokens", tokens("llm", 1, `{"prompt_token_num":1,"completion_token_num":9223372036854775807}`), "extra.completion_token_num"},
		{"prompt tokens, some cached", tokens("llm", 1, `{"prompt_token_num":9223372036854775807,"prompt_token_cache_num":1}`), "extra.prompt_token_num"},
		{"prompt tokens, most cached", tokens("llm", 1, `{"prompt_token_num":9223372036854775807,"prompt_token_cache_num":9223372036854775806}`),
			"extra.prompt_token_cache_num"},
		{"no split", tokens("llm", max, ``), "value"},
		{"no split, cached", tokens("llm", max, `{"prompt_token_cache_num":9223372036854775806}`), "extra.prompt_token_cache_num"},
		{"sku_kind: no split", tokens("llm", max, `{"sku_kind":4,"prompt_token_num":1}`), "value"},
		{"unpriced: no lines", event("llm", 1, jan10), "value"},
	} {
		r, err := b.Rate(tc.e, "USD", func(rating.Counter) int64 { return 0 })
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := r.Field(); got != tc.field {
			t.Errorf("%s: Field %q, want %q (lines %+v)", tc.name, got, tc.field, r.Lines)
		}
	}

	overflows := func(what string, err error, field string) {
		t.Helper()
		var ae *abacus.Error
		if !errors.As(err, &ae) || ae.Code != abacus.CodeOverflow || ae.Field != field {
			t.Errorf("%s: %v, want an overflow naming %s", what, err, field)
		}
	}
	full := func(rating.Counter) int64 { return max }
	_, err := b.Rate(tokens("gr", 1, `{"prompt_token_num":1}`), "USD", full)
	overflows("a full counter", err, "extra.prompt_token_num")
	_, err = b.Rate(tokens("gr", 1, ``), "USD", full)
	overflows("a full counter, no split", err, "value")
	_, err = b.Rate(tokens("seats", 1, `{"prompt_token_num":9223372036854775807,"users":2}`), "USD", nil)
	overflows("a licence's count", err, "extra.prompt_token_num")
}
