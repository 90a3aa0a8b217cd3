package abacus_test

import (
	"fmt"
	"math"
	"math/big"
	"testing"

	"github.com/abacus-billing/abacus"
	"github.com/shopspring/decimal"
)

var allModes = []abacus.RoundingMode{
	abacus.RoundHalfEven, abacus.RoundHalfUp, abacus.RoundDown,
	abacus.RoundUp, abacus.RoundFloor, abacus.RoundCeiling,
}

// roundOracle returns num/den (den > 0) rounded with mode. It is written
// independently of the package's divRound: it starts from the floor
// (Euclidean division, as den > 0) and a non-negative remainder.
func roundOracle(num, den *big.Int, mode abacus.RoundingMode) *big.Int {
	if den.Sign() <= 0 {
		panic("roundOracle: den must be positive")
	}
	fl, rem := new(big.Int).DivMod(num, den, new(big.Int)) // num = fl*den + rem, 0 <= rem < den
	if rem.Sign() == 0 {
		return fl
	}
	ceil := new(big.Int).Add(fl, big.NewInt(1))
	twice := new(big.Int).Lsh(rem, 1)
	half := twice.Cmp(den) // <0: nearer floor, 0: tie, >0: nearer ceiling
	positive := num.Sign() > 0
	switch mode {
	case abacus.RoundFloor:
		return fl
	case abacus.RoundCeiling:
		return ceil
	case abacus.RoundDown: // toward zero
		if positive {
			return fl
		}
		return ceil
	case abacus.RoundUp: // away from zero
		if positive {
			return ceil
		}
		return fl
	case abacus.RoundHalfUp:
		switch {
		case half < 0:
			return fl
		case half > 0:
			return ceil
		case positive:
			return ceil
		default:
			return fl
		}
	case abacus.RoundHalfEven:
		switch {
		case half < 0:
			return fl
		case half > 0:
			return ceil
		case new(big.Int).Abs(fl).Bit(0) == 0: // the floor is even
			return fl
		default:
			return ceil
		}
	}
	panic(fmt.Sprintf("roundOracle: mode %d", mode))
}

// decimalFrac returns d as an exact fraction num/den with den > 0.
func decimalFrac(d decimal.Decimal) (num, den *big.Int) { return scaledFrac(d, 0) }

// decimalMicros returns d × 10^6 (d in micro-units) as an exact fraction.
func decimalMicros(d decimal.Decimal) (num, den *big.Int) { return scaledFrac(d, abacus.Scale) }

func scaledFrac(d decimal.Decimal, scale int64) (num, den *big.Int) {
	num = d.Coefficient()
	den = big.NewInt(1)
	exp := int64(d.Exponent()) + scale
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(absInt64(exp)), nil)
	if exp >= 0 {
		num.Mul(num, p)
	} else {
		den = p
	}
	return num, den
}

func absInt64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestRoundingModeNames(t *testing.T) {
	want := map[abacus.RoundingMode]string{
		abacus.RoundHalfEven: "half_even",
		abacus.RoundHalfUp:   "half_up",
		abacus.RoundDown:     "down",
		abacus.RoundUp:       "up",
		abacus.RoundFloor:    "floor",
		abacus.RoundCeiling:  "ceiling",
	}
	if len(want) != len(allModes) {
		t.Fatal("allModes and the name table disagree")
	}
	for m, name := range want {
		if m.String() != name {
			t.Errorf("%d.String() = %q, want %q", m, m.String(), name)
		}
		got, err := abacus.ParseRoundingMode(name)
		if err != nil || got != m {
			t.Errorf("ParseRoundingMode(%q) = %v, %v", name, got, err)
		}
	}
	if s := abacus.RoundingMode(0).String(); s != "RoundingMode(0)" {
		t.Errorf("RoundingMode(0).String() = %q", s)
	}
	for _, bad := range []string{"", "HALF_EVEN", "half-even", "halfeven", "nearest", "RoundingMode(1)", " up"} {
		_, err := abacus.ParseRoundingMode(bad)
		wantError(t, err, abacus.CodeInvalid, "rounding")
	}
}

// TestRoundingModes checks every mode on ties and non-ties of both signs.
// Columns: half_even, half_up, down, up, floor, ceiling, in micro-units.
func TestRoundingModes(t *testing.T) {
	tests := []struct {
		in   string
		want [6]int64
	}{
		// exact values are never changed
		{"0", [6]int64{0, 0, 0, 0, 0, 0}},
		{"0.000002", [6]int64{2, 2, 2, 2, 2, 2}},
		{"-0.000002", [6]int64{-2, -2, -2, -2, -2, -2}},
		{"0.0000020000", [6]int64{2, 2, 2, 2, 2, 2}},
		{"12.5", [6]int64{12_500_000, 12_500_000, 12_500_000, 12_500_000, 12_500_000, 12_500_000}},
		// ties with an even and an odd neighbour below
		{"0.0000025", [6]int64{2, 3, 2, 3, 2, 3}},
		{"-0.0000025", [6]int64{-2, -3, -2, -3, -3, -2}},
		{"0.0000035", [6]int64{4, 4, 3, 4, 3, 4}},
		{"-0.0000035", [6]int64{-4, -4, -3, -4, -4, -3}},
		{"0.0000005", [6]int64{0, 1, 0, 1, 0, 1}},
		{"-0.0000005", [6]int64{0, -1, 0, -1, -1, 0}},
		{"0.0000015", [6]int64{2, 2, 1, 2, 1, 2}},
		{"-0.0000015", [6]int64{-2, -2, -1, -2, -2, -1}},
		// below and above the half
		{"0.0000021", [6]int64{2, 2, 2, 3, 2, 3}},
		{"-0.0000021", [6]int64{-2, -2, -2, -3, -3, -2}},
		{"0.0000029", [6]int64{3, 3, 2, 3, 2, 3}},
		{"-0.0000029", [6]int64{-3, -3, -2, -3, -3, -2}},
		{"0.00000249999999999999999999", [6]int64{2, 2, 2, 3, 2, 3}},
		{"0.00000250000000000000000001", [6]int64{3, 3, 2, 3, 2, 3}},
		{"-0.00000250000000000000000001", [6]int64{-3, -3, -2, -3, -3, -2}},
		{"0.0000004", [6]int64{0, 0, 0, 1, 0, 1}},
		{"-0.0000004", [6]int64{0, 0, 0, -1, -1, 0}},
		{"0.00000000000000000001", [6]int64{0, 0, 0, 1, 0, 1}},
		{"-0.00000000000000000001", [6]int64{0, 0, 0, -1, -1, 0}},
		{"10.1234565", [6]int64{10_123_456, 10_123_457, 10_123_456, 10_123_457, 10_123_456, 10_123_457}},
		{"-10.1234575", [6]int64{-10_123_458, -10_123_458, -10_123_457, -10_123_458, -10_123_458, -10_123_457}},
	}
	for _, tt := range tests {
		d := decimal.RequireFromString(tt.in)
		for i, mode := range allModes {
			got, rem, err := abacus.AmountFromDecimal(d, mode)
			if err != nil {
				t.Errorf("AmountFromDecimal(%s, %s): %v", tt.in, mode, err)
				continue
			}
			if got.Micros() != tt.want[i] {
				t.Errorf("AmountFromDecimal(%s, %s) = %d micros, want %d", tt.in, mode, got.Micros(), tt.want[i])
			}
			checkRemainder(t, d, mode, got, rem)
		}
	}
}

// checkRemainder checks that result + remainder == d exactly and that the
// remainder is what the mode allows: less than one micro-unit, at most half
// of one for the nearest modes, and of the sign the direction implies.
func checkRemainder(t *testing.T, d decimal.Decimal, mode abacus.RoundingMode, got abacus.Amount, rem decimal.Decimal) {
	t.Helper()
	if sum := got.Decimal().Add(rem); !sum.Equal(d) {
		t.Errorf("%s: result %s + remainder %s = %s, want %s", mode, got, rem, sum, d)
	}
	oneMicro := decimal.New(1, -abacus.Scale)
	halfMicro := decimal.New(5, -abacus.Scale-1)
	if rem.Abs().Cmp(oneMicro) >= 0 {
		t.Errorf("%s(%s): remainder %s is a micro-unit or more", mode, d, rem)
	}
	switch mode {
	case abacus.RoundHalfEven, abacus.RoundHalfUp:
		if rem.Abs().Cmp(halfMicro) > 0 {
			t.Errorf("%s(%s): remainder %s is more than half a micro-unit", mode, d, rem)
		}
	case abacus.RoundFloor:
		if rem.Sign() < 0 {
			t.Errorf("floor(%s): remainder %s is negative", d, rem)
		}
	case abacus.RoundCeiling:
		if rem.Sign() > 0 {
			t.Errorf("ceiling(%s): remainder %s is positive", d, rem)
		}
	case abacus.RoundDown:
		if rem.Sign()*d.Sign() < 0 {
			t.Errorf("down(%s): remainder %s points away from zero", d, rem)
		}
	case abacus.RoundUp:
		if rem.Sign()*d.Sign() > 0 {
			t.Errorf("up(%s): remainder %s points toward zero", d, rem)
		}
	}
}

// TestAmountFromDecimalAgainstOracle runs many decimals through every mode
// and compares with the big-integer oracle.
func TestAmountFromDecimalAgainstOracle(t *testing.T) {
	var inputs []decimal.Decimal
	for _, coef := range []int64{0, 1, -1, 4, 5, 6, 15, 25, -25, 35, 49, 50, 51, -50, 99, 1001, 123456789, math.MaxInt64, math.MinInt64} {
		for exp := int32(-12); exp <= 14; exp++ {
			inputs = append(inputs, decimal.New(coef, exp))
		}
	}
	for _, d := range inputs {
		num, den := decimalMicros(d)
		for _, mode := range allModes {
			want := roundOracle(num, den, mode)
			got, rem, err := abacus.AmountFromDecimal(d, mode)
			if !fitsInt64(want) {
				wantError(t, err, abacus.CodeOverflow, "amount")
				continue
			}
			if err != nil {
				t.Errorf("AmountFromDecimal(%s, %s): %v, want %s micros", d, mode, err, want)
				continue
			}
			if got.Micros() != want.Int64() {
				t.Errorf("AmountFromDecimal(%s, %s) = %d micros, want %s", d, mode, got.Micros(), want)
			}
			checkRemainder(t, d, mode, got, rem)
		}
	}
}

func TestAmountFromDecimalDoesNotMutateInput(t *testing.T) {
	d := decimal.New(12345, -9)
	before := d.String()
	for _, mode := range allModes {
		if _, _, err := abacus.AmountFromDecimal(d, mode); err != nil {
			t.Fatal(err)
		}
	}
	e := decimal.New(7, 3)
	if _, _, err := abacus.AmountFromDecimal(e, abacus.RoundDown); err != nil {
		t.Fatal(err)
	}
	if d.String() != before || e.String() != "7000" {
		t.Errorf("inputs changed to %s and %s", d, e)
	}
}

func TestAmountFromDecimalOverflow(t *testing.T) {
	tests := []struct {
		in   string
		mode abacus.RoundingMode
		want string // "" for overflow
	}{
		{"9223372036854.775807", abacus.RoundHalfEven, "9223372036854.775807"},
		{"9223372036854.775808", abacus.RoundDown, ""},
		{"9223372036854.7758071", abacus.RoundDown, "9223372036854.775807"},
		{"9223372036854.7758071", abacus.RoundHalfUp, "9223372036854.775807"},
		{"9223372036854.7758071", abacus.RoundUp, ""},
		{"9223372036854.7758071", abacus.RoundCeiling, ""},
		{"9223372036854.7758075", abacus.RoundHalfUp, ""},
		{"9223372036854.7758075", abacus.RoundHalfEven, ""}, // 7 is odd: the tie goes up
		{"9223372036854.7758079", abacus.RoundFloor, "9223372036854.775807"},
		{"-9223372036854.775808", abacus.RoundHalfEven, "-9223372036854.775808"},
		{"-9223372036854.775809", abacus.RoundDown, ""},
		{"-9223372036854.7758081", abacus.RoundDown, "-9223372036854.775808"},
		{"-9223372036854.7758081", abacus.RoundCeiling, "-9223372036854.775808"},
		{"-9223372036854.7758081", abacus.RoundFloor, ""},
		{"-9223372036854.7758081", abacus.RoundUp, ""},
		{"-9223372036854.7758085", abacus.RoundHalfEven, "-9223372036854.775808"}, // 8 is even
		{"-9223372036854.7758085", abacus.RoundHalfUp, ""},
		{"1e12", abacus.RoundDown, "1000000000000"},
		{"1e13", abacus.RoundDown, ""},
		{"-1e13", abacus.RoundDown, ""},
		{"1e40", abacus.RoundHalfEven, ""},
		{"0e40", abacus.RoundHalfEven, "0"},
		{"123456789012345678901234567890", abacus.RoundDown, ""},
	}
	for _, tt := range tests {
		got, _, err := abacus.AmountFromDecimal(decimal.RequireFromString(tt.in), tt.mode)
		if tt.want == "" {
			wantError(t, err, abacus.CodeOverflow, "amount")
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("AmountFromDecimal(%s, %s) = %s, %v; want %s", tt.in, tt.mode, got, err, tt.want)
		}
	}
}

// An unknown rounding mode is an error, not a panic, and not only when
// the value happens to need rounding.
func TestAmountFromDecimalUnknownMode(t *testing.T) {
	for _, mode := range []abacus.RoundingMode{0, 7, 255} {
		for _, s := range []string{"1", "0.0000025"} {
			_, _, err := abacus.AmountFromDecimal(decimal.RequireFromString(s), mode)
			wantError(t, err, abacus.CodeInvalid, "rounding")
			_, err = micros(1).MulDecimal(decimal.RequireFromString(s), mode)
			wantError(t, err, abacus.CodeInvalid, "rounding")
		}
	}
}

// What rounding leaves over is carried: a thousand charges of 0.0000004
// add up to 0.0004 (DESIGN.md, section 3).
func TestRoundingResidueIsCarried(t *testing.T) {
	for _, mode := range allModes {
		charge := decimal.RequireFromString("0.0000004")
		total, carry := abacus.Zero, decimal.Zero
		for i := 0; i < 1000; i++ {
			a, rem, err := abacus.AmountFromDecimal(charge.Add(carry), mode)
			if err != nil {
				t.Fatal(err)
			}
			if total, err = total.Add(a); err != nil {
				t.Fatal(err)
			}
			carry = rem
		}
		if total.String() != "0.0004" || !carry.IsZero() {
			t.Errorf("%s: 1000 × 0.0000004 = %s with %s carried, want 0.0004 and nothing", mode, total, carry)
		}
	}
}

func TestMulDecimal(t *testing.T) {
	tests := []struct {
		amount, qty string
		mode        abacus.RoundingMode
		want        string
	}{
		{"10", "3", abacus.RoundHalfEven, "30"},
		{"10", "0.333333333", abacus.RoundHalfEven, "3.333333"},
		{"10", "0.333333333", abacus.RoundUp, "3.333334"},
		{"1.000005", "0.5", abacus.RoundHalfEven, "0.500002"},
		{"1.000005", "0.5", abacus.RoundHalfUp, "0.500003"},
		{"1.000005", "0.5", abacus.RoundDown, "0.500002"},
		{"1.000003", "0.5", abacus.RoundHalfEven, "0.500002"},
		{"-1.000005", "0.5", abacus.RoundHalfEven, "-0.500002"},
		{"-1.000005", "0.5", abacus.RoundHalfUp, "-0.500003"},
		{"-1.000005", "0.5", abacus.RoundFloor, "-0.500003"},
		{"-1.000005", "0.5", abacus.RoundCeiling, "-0.500002"},
		{"1.000005", "-0.5", abacus.RoundFloor, "-0.500003"},
		{"5", "-0.0000001", abacus.RoundHalfEven, "0"},
		{"5", "-0.0000001", abacus.RoundHalfUp, "-0.000001"},
		// a per-token price with 20 decimals times a token count
		{"1", "0.00000012345678901234", abacus.RoundHalfEven, "0"},
		{"1000", "0.00000012345678901234", abacus.RoundHalfEven, "0.000123"},
		{"1000", "0.00000012345678901234", abacus.RoundCeiling, "0.000124"},
		{"3600", "0.00001388888888888889", abacus.RoundHalfEven, "0.05"},
		{"0.000001", "0.5", abacus.RoundHalfEven, "0"},
		{"0.000001", "0.5", abacus.RoundHalfUp, "0.000001"},
		{"0.000003", "0.5", abacus.RoundHalfEven, "0.000002"},
		{"123.456789", "0", abacus.RoundUp, "0"},
		{"0", "1e30", abacus.RoundUp, "0"},
		{"0.000001", "1e18", abacus.RoundDown, "1000000000000"},
		{"9223372036854.775807", "1", abacus.RoundDown, "9223372036854.775807"},
		{"9223372036854.775807", "-1", abacus.RoundDown, "-9223372036854.775807"},
		{"-9223372036854.775808", "1", abacus.RoundDown, "-9223372036854.775808"},
		{"-9223372036854.775808", "0.5", abacus.RoundDown, "-4611686018427.387904"},
		{"9223372036854.775807", "2", abacus.RoundDown, ""},
		{"-9223372036854.775808", "-1", abacus.RoundDown, ""},
		{"1", "1e13", abacus.RoundDown, ""},
		{"4611686018427.387904", "2", abacus.RoundDown, ""},
		{"4611686018427.387903", "2", abacus.RoundDown, "9223372036854.775806"},
	}
	for _, tt := range tests {
		a := mustParse(t, tt.amount)
		q := decimal.RequireFromString(tt.qty)
		got, err := a.MulDecimal(q, tt.mode)
		if tt.want == "" {
			wantError(t, err, abacus.CodeOverflow, "amount")
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("%s × %s (%s) = %s, %v; want %s", tt.amount, tt.qty, tt.mode, got, err, tt.want)
		}
		// The oracle agrees with the table: micro-units × q, rounded.
		num, den := decimalFrac(q)
		num.Mul(num, big.NewInt(a.Micros()))
		if want := roundOracle(num, den, tt.mode); want.String() != fmt.Sprint(got.Micros()) {
			t.Errorf("%s × %s (%s): oracle says %s micros, table %s", tt.amount, tt.qty, tt.mode, want, tt.want)
		}
	}
}
