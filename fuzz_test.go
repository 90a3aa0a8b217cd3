package abacus_test

import (
	"encoding/binary"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/abacus-billing/abacus"
	"github.com/shopspring/decimal"
)

var (
	// amountSyntax is what ParseAmount accepts, ignoring the number of
	// fraction digits and the range.
	amountSyntax = regexp.MustCompile(`^[+-]?([0-9]+)(?:\.([0-9]+))?$`)
	// canonicalAmount is what String prints (besides "-0", which it never does).
	canonicalAmount = regexp.MustCompile(`^-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?$`)
)

func isCanonical(s string) bool { return canonicalAmount.MatchString(s) && s != "-0" }

// parseOracle reads s with big integers: ok is false if s is not an amount
// at all; otherwise n is its exact value in micro-units, in range or not.
func parseOracle(s string) (n *big.Int, ok bool) {
	m := amountSyntax.FindStringSubmatch(s)
	if m == nil || len(m[2]) > abacus.Scale {
		return nil, false
	}
	n, _ = new(big.Int).SetString(m[1]+m[2]+strings.Repeat("0", abacus.Scale-len(m[2])), 10)
	if s[0] == '-' {
		n.Neg(n)
	}
	return n, true
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{
		"0", "-0", "+0", "1", "-1", "+1", "10.5", "10.50", "-10.5", "0.000001", "-0.000001", "0.1234567",
		"007", "00.10", "1234567.890123", "9223372036854.775807", "-9223372036854.775808",
		"9223372036854.775808", "-9223372036854.775809", "18446744073709.551616", "99999999999999999999",
		"", "-", "+", ".", ".5", "5.", "1e3", " 1", "1 ", "1,000", "--1", "+-1", "1.2.3", "0x1F", "١",
		"9223372036854775807", "-9223372036854.7758080", "0.000000", "000000000000000000000001.5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := abacus.ParseAmount(s)

		want, ok := parseOracle(s)
		switch {
		case !ok:
			wantError(t, err, abacus.CodeInvalid, "amount")
			return
		case !fitsInt64(want):
			wantError(t, err, abacus.CodeOverflow, "amount")
			return
		case err != nil:
			t.Fatalf("ParseAmount(%q): %v, want %s micros", s, err, want)
		case a.Micros() != want.Int64():
			t.Fatalf("ParseAmount(%q) = %d micros, want %s", s, a.Micros(), want)
		}

		c := a.String()
		if !isCanonical(c) {
			t.Fatalf("ParseAmount(%q).String() = %q is not canonical", s, c)
		}
		back, err := abacus.ParseAmount(c)
		if err != nil || back != a {
			t.Fatalf("ParseAmount(%q) = %d, but its String %q reads back as %d, %v", s, a.Micros(), c, back.Micros(), err)
		}
		if isCanonical(s) && c != s {
			t.Fatalf("ParseAmount(%q).String() = %q, want the canonical input back", s, c)
		}

		text, err := a.MarshalText()
		if err != nil || string(text) != c {
			t.Fatalf("MarshalText = %q, %v; want %q", text, err, c)
		}
		var u abacus.Amount
		if err := u.UnmarshalText([]byte(s)); err != nil || u != a {
			t.Fatalf("UnmarshalText(%q) = %d, %v", s, u.Micros(), err)
		}
		for _, cur := range []abacus.Currency{"USD", "JPY", "BHD"} {
			fs := a.Format(cur)
			if back, err := abacus.ParseAmount(fs); err != nil || back != a {
				t.Fatalf("%s.Format(%s) = %q reads back as %d, %v", c, cur, fs, back.Micros(), err)
			}
			frac := 0
			if i := strings.IndexByte(fs, '.'); i >= 0 {
				frac = len(fs) - i - 1
			}
			if frac < cur.MinorUnits() {
				t.Fatalf("%s.Format(%s) = %q has fewer than %d fraction digits", c, cur, fs, cur.MinorUnits())
			}
		}
	})
}

// weightsFrom reads the weights two bytes at a time, shifted left so that
// large weights are tried too.
func weightsFrom(data []byte, shift uint8) []int64 {
	sh := uint(shift % 48)
	var w []int64
	for len(data) >= 2 {
		w = append(w, int64(binary.BigEndian.Uint16(data))<<sh)
		data = data[2:]
	}
	if len(data) == 1 {
		w = append(w, int64(data[0])<<sh)
	}
	return w
}

func FuzzAllocate(f *testing.F) {
	f.Add(int64(100_000_000), []byte{0, 1, 0, 1, 0, 1}, uint8(0))
	f.Add(int64(-100_000_000), []byte{0, 1, 0, 1, 0, 1}, uint8(0))
	f.Add(int64(1), []byte{0, 0, 0, 1, 0, 0, 0, 1}, uint8(0))
	f.Add(int64(10), []byte{0, 1, 0, 2, 0, 4}, uint8(0))
	f.Add(int64(math.MaxInt64), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint8(47))
	f.Add(int64(math.MinInt64), []byte{0xff, 0xff, 0x00, 0x01}, uint8(47))
	f.Add(int64(math.MinInt64), []byte{0x01}, uint8(0))
	f.Add(int64(7), []byte{}, uint8(0))
	f.Add(int64(7), []byte{0, 0, 0, 0}, uint8(3))
	f.Add(int64(999_999), []byte{0, 70, 0, 30}, uint8(10))
	f.Add(int64(-5), []byte{3, 3, 3, 1}, uint8(0))
	f.Fuzz(func(t *testing.T, total int64, data []byte, shift uint8) {
		if len(data) > 256 {
			// 128 weights exercise everything; longer inputs only slow
			// down the fuzzer's minimisation of interesting inputs.
			t.Skip()
		}
		weights := weightsFrom(data, shift)
		parts, err := abacus.Allocate(micros(total), weights)
		if !slices.ContainsFunc(weights, func(w int64) bool { return w > 0 }) {
			wantError(t, err, abacus.CodeInvalid, "weights")
			return
		}
		if err != nil {
			t.Fatalf("Allocate(%d, %v): %v", total, weights, err)
		}
		checkAllocation(t, total, weights, parts)
		again, err := abacus.Allocate(micros(total), weights)
		if err != nil || !slices.Equal(parts, again) {
			t.Fatalf("Allocate(%d, %v) is not deterministic: %v then %v, %v", total, weights, parts, again, err)
		}
	})
}

func FuzzAmountAdd(f *testing.F) {
	edge := []int64{math.MinInt64, math.MinInt64 + 1, -1, 0, 1, math.MaxInt64 - 1, math.MaxInt64}
	for _, a := range edge {
		for _, b := range edge {
			f.Add(a, b)
		}
	}
	f.Add(int64(10_500_000), int64(-3))
	f.Add(int64(math.MinInt64/2), int64(math.MinInt64/2))
	f.Add(int64(math.MaxInt64/2+1), int64(math.MaxInt64/2+1))
	f.Fuzz(func(t *testing.T, x, y int64) {
		a, b := micros(x), micros(y)
		bx, by := big.NewInt(x), big.NewInt(y)

		got, err := a.Add(b)
		checkExact(t, "Add", x, y, new(big.Int).Add(bx, by), got, err)
		got2, err2 := b.Add(a)
		if got2 != got || (err == nil) != (err2 == nil) {
			t.Fatalf("Add(%d, %d) is not commutative", x, y)
		}
		got, err = a.Sub(b)
		checkExact(t, "Sub", x, y, new(big.Int).Sub(bx, by), got, err)
		got, err = a.Neg()
		checkExact(t, "Neg", x, 0, new(big.Int).Neg(bx), got, err)
		got, err = a.Abs()
		checkExact(t, "Abs", x, 0, new(big.Int).Abs(bx), got, err)
	})
}

// checkExact checks that an operation gave exactly the big-integer result,
// or reported overflow exactly when that result leaves the int64 range.
func checkExact(t *testing.T, op string, x, y int64, exact *big.Int, got abacus.Amount, err error) {
	t.Helper()
	if !fitsInt64(exact) {
		if err == nil {
			t.Fatalf("%s(%d, %d) = %d: wrapped; exact result %s does not fit", op, x, y, got.Micros(), exact)
		}
		wantError(t, err, abacus.CodeOverflow, "amount")
		return
	}
	if err != nil {
		t.Fatalf("%s(%d, %d): %v; exact result %s fits", op, x, y, err, exact)
	}
	if got.Micros() != exact.Int64() {
		t.Fatalf("%s(%d, %d) = %d, want %s", op, x, y, got.Micros(), exact)
	}
}

func FuzzMulDecimal(f *testing.F) {
	f.Add(int64(10_000_000), int64(333333333), int8(-9), uint8(0))
	f.Add(int64(1_000_005), int64(5), int8(-1), uint8(0))
	f.Add(int64(1_000_005), int64(5), int8(-1), uint8(1))
	f.Add(int64(-1_000_005), int64(5), int8(-1), uint8(4))
	f.Add(int64(-1_000_005), int64(5), int8(-1), uint8(5))
	f.Add(int64(5_000_000), int64(-1), int8(-7), uint8(0))
	f.Add(int64(1000_000_000), int64(12345678901234), int8(-20), uint8(5))
	f.Add(int64(math.MaxInt64), int64(1), int8(0), uint8(2))
	f.Add(int64(math.MaxInt64), int64(2), int8(0), uint8(2))
	f.Add(int64(math.MinInt64), int64(-1), int8(0), uint8(2))
	f.Add(int64(math.MinInt64), int64(5), int8(-1), uint8(3))
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), int8(-19), uint8(0))
	f.Add(int64(math.MinInt64), int64(math.MinInt64), int8(-38), uint8(1))
	f.Add(int64(1), int64(1), int8(18), uint8(0))
	f.Add(int64(1), int64(1), int8(19), uint8(0))
	f.Add(int64(0), int64(1), int8(127), uint8(3))
	f.Add(int64(1), int64(1), int8(-128), uint8(3))
	f.Add(int64(-1), int64(1), int8(-128), uint8(4))
	f.Fuzz(func(t *testing.T, amount, coef int64, exp int8, m uint8) {
		mode := allModes[int(m)%len(allModes)]
		q := decimal.New(coef, int32(exp))

		num, den := decimalFrac(q) // the exact product in micro-units is amount × num/den
		num.Mul(num, big.NewInt(amount))
		want := roundOracle(num, den, mode)

		got, err := micros(amount).MulDecimal(q, mode)
		if !fitsInt64(want) {
			if err == nil {
				t.Fatalf("%d micros × %s (%s) = %d: want overflow (exact rounded %s)", amount, q, mode, got.Micros(), want)
			}
			wantError(t, err, abacus.CodeOverflow, "amount")
			return
		}
		if err != nil {
			t.Fatalf("%d micros × %s (%s): %v; want %s micros", amount, q, mode, err, want)
		}
		if got.Micros() != want.Int64() {
			t.Fatalf("%d micros × %s (%s) = %d micros, want %s", amount, q, mode, got.Micros(), want)
		}

		// AmountFromDecimal on the exact product agrees and says exactly
		// what was left over.
		prod := micros(amount).Decimal().Mul(q)
		r, rem, err := abacus.AmountFromDecimal(prod, mode)
		if err != nil || r != got {
			t.Fatalf("AmountFromDecimal(%s, %s) = %d, %v; MulDecimal gave %d", prod, mode, r.Micros(), err, got.Micros())
		}
		checkRemainder(t, prod, mode, r, rem)
	})
}
