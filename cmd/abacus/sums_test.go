package main

import (
	"testing"

	"github.com/abacus-billing/abacus"
)

// TestSumsKeepCurrenciesApart: amounts of accounts in different
// currencies are summed and printed apart, each with its code and at
// least its minor units, where one total had added euros to dollars.
func TestSumsKeepCurrenciesApart(t *testing.T) {
	var s sums
	if got := s.String(); got != "0" {
		t.Errorf("no sums: %q", got)
	}
	for _, a := range []struct {
		cur    abacus.Currency
		amount string
	}{{"USD", "10"}, {"EUR", "20"}, {"USD", "0.5"}, {"JPY", "3"}, {"EUR", "0.000001"}, {"BHD", "1.25"}} {
		amt, err := abacus.ParseAmount(a.amount)
		if err != nil {
			t.Fatal(err)
		}
		s.add(a.cur, amt)
	}
	if got, want := s.String(), "1.250 BHD and 20.000001 EUR and 3 JPY and 10.50 USD"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Far past what one int64 of micro-units holds: a summary never fails.
	big, _ := abacus.ParseAmount("9000000000000")
	var b sums
	for range 3 {
		b.add("USD", big)
	}
	if got, want := b.String(), "27000000000000.00 USD"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
