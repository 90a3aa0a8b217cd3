package abacus

import (
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Scale is the number of decimal places the ledger keeps. Every stored
// amount is a whole number of micro-units (10^-6 of a currency unit): fine
// enough for per-second and per-token usage, and small enough to fit a
// balance of ±9,223,372,036,854.775807 units in one int64 column.
const Scale = 6

const microsPerUnit = 1_000_000

// Amount is an exact, signed quantity of money in micro-units of some
// currency. It is a struct, not a named int64, so that nobody can add two
// amounts with + and wrap silently: arithmetic goes through methods that
// report overflow.
type Amount struct{ micros int64 }

// Zero is the zero amount.
var Zero Amount

// AmountFromMicros returns the amount of n micro-units.
func AmountFromMicros(n int64) Amount { return Amount{n} }

// AmountFromUnits returns n whole currency units, or ErrOverflow.
func AmountFromUnits(n int64) (Amount, error) {
	if n > math.MaxInt64/microsPerUnit || n < math.MinInt64/microsPerUnit {
		return Amount{}, errOverflow("amount")
	}
	return Amount{n * microsPerUnit}, nil
}

// Micros returns the amount as a whole number of micro-units.
func (a Amount) Micros() int64 { return a.micros }

// IsZero, IsNegative and IsPositive report the sign.
func (a Amount) IsZero() bool     { return a.micros == 0 }
func (a Amount) IsNegative() bool { return a.micros < 0 }
func (a Amount) IsPositive() bool { return a.micros > 0 }

// Cmp returns -1, 0 or +1.
func (a Amount) Cmp(b Amount) int {
	switch {
	case a.micros < b.micros:
		return -1
	case a.micros > b.micros:
		return 1
	}
	return 0
}

// Add returns a+b, or ErrOverflow.
func (a Amount) Add(b Amount) (Amount, error) {
	s := a.micros + b.micros
	if (b.micros > 0 && s < a.micros) || (b.micros < 0 && s > a.micros) {
		return Amount{}, errOverflow("amount")
	}
	return Amount{s}, nil
}

// Sub returns a-b, or ErrOverflow.
func (a Amount) Sub(b Amount) (Amount, error) {
	// Not a.Add(-b): -MinInt64 does not exist, yet a-MinInt64 fits for
	// every negative a.
	d := a.micros - b.micros
	if (b.micros > 0 && d > a.micros) || (b.micros < 0 && d < a.micros) {
		return Amount{}, errOverflow("amount")
	}
	return Amount{d}, nil
}

// Neg returns -a, or ErrOverflow for the one amount that has no negation.
func (a Amount) Neg() (Amount, error) {
	if a.micros == math.MinInt64 {
		return Amount{}, errOverflow("amount")
	}
	return Amount{-a.micros}, nil
}

// Abs returns |a|, or ErrOverflow.
func (a Amount) Abs() (Amount, error) {
	if a.micros < 0 {
		return a.Neg()
	}
	return a, nil
}

// Min returns the smaller of a and b.
func Min(a, b Amount) Amount {
	if a.micros < b.micros {
		return a
	}
	return b
}

// Max returns the larger of a and b.
func Max(a, b Amount) Amount {
	if a.micros > b.micros {
		return a
	}
	return b
}

// Decimal returns the amount as an exact decimal.
func (a Amount) Decimal() decimal.Decimal { return decimal.New(a.micros, -Scale) }

// MulDecimal returns a×q rounded to the ledger scale with mode, or
// ErrOverflow. The product is computed exactly before it is rounded.
func (a Amount) MulDecimal(q decimal.Decimal, mode RoundingMode) (Amount, error) {
	r, _, err := AmountFromDecimal(a.Decimal().Mul(q), mode)
	return r, err
}

// AmountFromDecimal rounds d to the ledger scale with mode. It also returns
// what rounding left over (d minus the result), so a caller that must not
// lose sub-micro residue can carry it into the next charge.
func AmountFromDecimal(d decimal.Decimal, mode RoundingMode) (Amount, decimal.Decimal, error) {
	// Check the mode even when d needs no rounding, so that a bad mode is
	// an error the first time it is used, not a panic the first time a
	// value happens to need rounding.
	if _, ok := roundingNames[mode]; !ok {
		return Amount{}, decimal.Zero, &Error{Code: CodeInvalid, Field: "rounding", Message: mode.String() + " is not one of half_even, half_up, down, up, floor, ceiling"}
	}
	// d = coef × 10^exp; we want n = round(d × 10^Scale).
	coef, exp := d.Coefficient(), int(d.Exponent())+Scale
	var n *big.Int
	if exp >= 0 {
		n = coef.Mul(coef, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exp)), nil))
	} else {
		den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-exp)), nil)
		n = divRound(coef, den, mode)
	}
	if !n.IsInt64() {
		return Amount{}, decimal.Zero, errOverflow("amount")
	}
	r := Amount{n.Int64()}
	return r, d.Sub(r.Decimal()), nil
}

// String formats the amount canonically: an optional minus sign, the
// integer part without leading zeros, and a fraction only as long as it
// needs to be ("10", "-0.5", "10.000001"). ParseAmount reads it back exactly.
func (a Amount) String() string {
	neg := a.micros < 0
	// Work in uint64 so MinInt64 has a magnitude.
	m := uint64(a.micros)
	if neg {
		m = -m
	}
	whole, frac := m/microsPerUnit, m%microsPerUnit
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(strconv.FormatUint(whole, 10))
	if frac != 0 {
		f := strconv.FormatUint(frac+microsPerUnit, 10)[1:] // zero-padded to Scale digits
		b.WriteByte('.')
		b.WriteString(strings.TrimRight(f, "0"))
	}
	return b.String()
}

// Format formats the amount with at least the currency's minor-unit digits
// ("10.50" for USD, "1050" for JPY), and more where the amount has them.
func (a Amount) Format(c Currency) string {
	s := a.String()
	want := c.MinorUnits()
	dot := strings.IndexByte(s, '.')
	have := 0
	if dot >= 0 {
		have = len(s) - dot - 1
	}
	if have >= want {
		return s
	}
	if dot < 0 {
		s += "."
	}
	return s + strings.Repeat("0", want-have)
}

// ParseAmount reads a decimal string such as "10", "-0.5" or "10.000001".
// It accepts at most Scale fraction digits, no exponent, no spaces and no
// thousands separators, and reports overflow instead of wrapping.
func ParseAmount(s string) (Amount, error) {
	orig := s
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") || !allDigits(whole) || !allDigits(frac) {
		return Amount{}, invalidAmount(orig, "is not a decimal number such as \"10.5\"")
	}
	if len(frac) > Scale {
		return Amount{}, invalidAmount(orig, "has more than 6 decimal places")
	}
	// Accumulate the magnitude as a negative number: the negative range
	// of int64 is one larger, so "-9223372036854.775808" parses.
	var n int64
	for _, d := range whole + frac + strings.Repeat("0", Scale-len(frac)) {
		v := int64(d - '0')
		if n < (math.MinInt64+v)/10 {
			return Amount{}, errOverflow("amount")
		}
		n = n*10 - v
	}
	if !neg {
		if n == math.MinInt64 {
			return Amount{}, errOverflow("amount")
		}
		n = -n
	}
	return Amount{n}, nil
}

// PlainDecimal reports whether s is a non-negative decimal written as
// amounts are: digits, and a dot only between digits ("10", "10.5"; not
// ".5", "5.", "1e1" or "+1"). Settings and rates that are no amount
// (a percentage, a step) are read with it, so that each takes what an
// amount takes.
func PlainDecimal(s string) bool {
	whole, frac, dot := strings.Cut(s, ".")
	return whole != "" && allDigits(whole) && (!dot || frac != "" && allDigits(frac))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func invalidAmount(s, why string) error {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return &Error{Code: CodeInvalid, Field: "amount", Message: strconv.Quote(s) + " " + why}
}

func errOverflow(field string) error {
	return &Error{Code: CodeOverflow, Field: field, Message: "the result does not fit in an amount (±9223372036854.775807)"}
}

// MarshalText writes the canonical form, so JSON carries amounts as strings.
func (a Amount) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads what ParseAmount reads. As a JSON value an amount
// must be a string: a JSON number is refused, never rounded through a float.
func (a *Amount) UnmarshalText(b []byte) error {
	v, err := ParseAmount(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}
