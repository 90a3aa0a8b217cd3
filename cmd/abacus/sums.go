package main

import (
	"maps"
	"slices"
	"strings"

	"github.com/abacus-billing/abacus"
	"github.com/shopspring/decimal"
)

// sums adds up amounts of many accounts by currency: one total had added
// euros to dollars and printed the sum with no currency (QA). The sums are
// exact decimals, so that no total, however large, stops a command part
// way through, after pages it had committed.
type sums map[abacus.Currency]decimal.Decimal

func (s *sums) add(c abacus.Currency, a abacus.Amount) {
	if *s == nil {
		*s = sums{}
	}
	(*s)[c] = (*s)[c].Add(a.Decimal())
}

// String lists each currency's sum, in the order of their codes and with
// at least their minor units ("20.00 EUR and 10.50 USD"), or "0".
func (s sums) String() string {
	if len(s) == 0 {
		return "0"
	}
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(s)) {
		parts = append(parts, moneyText(s[c], c))
	}
	return strings.Join(parts, " and ")
}

// moneyText is d in c, with at least c's minor units, as Amount.Format.
func moneyText(d decimal.Decimal, c abacus.Currency) string {
	return amountText(d, c) + " " + string(c)
}

// amountText is moneyText without the currency's code.
func amountText(d decimal.Decimal, c abacus.Currency) string {
	text, minor := d.String(), c.MinorUnits()
	if dot := strings.IndexByte(text, '.'); dot < 0 && minor > 0 || dot >= 0 && len(text)-dot-1 < minor {
		text = d.StringFixed(int32(minor))
	}
	return text
}
