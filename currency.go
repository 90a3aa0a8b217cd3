package abacus

import (
	"fmt"
	"regexp"
)

// Currency is an ISO 4217 code such as "USD", or an operator's own unit of
// credit ("CREDIT"): an upper-case letter followed by 2 to 11 upper-case
// letters or digits.
type Currency string

var currencyPattern = regexp.MustCompile(`^[A-Z][A-Z0-9]{2,11}$`)

// ParseCurrency validates a currency code.
func ParseCurrency(s string) (Currency, error) {
	if !currencyPattern.MatchString(s) {
		return "", &Error{Code: CodeInvalid, Field: "currency", Message: fmt.Sprintf("%q is not a currency code such as \"USD\"", s)}
	}
	return Currency(s), nil
}

// minorUnits lists the ISO 4217 currencies whose minor unit is not 2.
var minorUnits = map[Currency]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
	"PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLF": 4, "UYW": 4,
}

// MinorUnits returns how many fraction digits the currency is shown with:
// 2 unless ISO 4217 says otherwise. The ledger itself always keeps Scale.
func (c Currency) MinorUnits() int {
	if n, ok := minorUnits[c]; ok {
		return n
	}
	return 2
}
