package store

import (
	"testing"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
)

// TestCostRoundTrip: a cost that is the event's charge net of its refund
// is stored as NULL, another as its decimal, an unknown one as unknown;
// each reads back as it was.
func TestCostRoundTrip(t *testing.T) {
	charged, refunded := abacus.AmountFromMicros(5), abacus.AmountFromMicros(2)
	for _, tc := range []struct {
		cost   decimal.NullDecimal
		stored string // "" for NULL
	}{
		{decimal.NewNullDecimal(decimal.RequireFromString("0.000003")), ""},
		{decimal.NewNullDecimal(decimal.RequireFromString("0.0000035")), "0.0000035"},
		{decimal.NullDecimal{}, CostUnknown},
	} {
		e := abacus.StoredEvent{Charged: charged, Refunded: refunded, Cost: tc.cost}
		s := FormatCost(&e)
		if (s == nil) != (tc.stored == "") || s != nil && *s != tc.stored {
			t.Fatalf("%v stored as %v, want %q", tc.cost, s, tc.stored)
		}
		back := abacus.StoredEvent{Charged: charged, Refunded: refunded}
		if err := ParseCost(&back, s); err != nil || back.Cost.Valid != tc.cost.Valid || !back.Cost.Decimal.Equal(tc.cost.Decimal) {
			t.Fatalf("%v read back as %v: %v", tc.cost, back.Cost, err)
		}
	}
}
