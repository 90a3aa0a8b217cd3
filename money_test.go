package abacus_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/abacus-billing/abacus"
)

// ---- helpers shared by the test files of this package ----

// tb is the part of testing.TB the helpers need; *rapid.T has it too.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// micros returns the amount of n micro-units.
func micros(n int64) abacus.Amount { return abacus.AmountFromMicros(n) }

// mustParse parses s or fails the test.
func mustParse(t tb, s string) abacus.Amount {
	t.Helper()
	a, err := abacus.ParseAmount(s)
	if err != nil {
		t.Fatalf("ParseAmount(%q): %v", s, err)
	}
	return a
}

// wantError fails the test unless err is an *abacus.Error (itself, not
// wrapped) with the given code and field.
func wantError(t tb, err error, code abacus.ErrorCode, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s error on field %q", code, field)
	}
	e, ok := err.(*abacus.Error)
	if !ok {
		t.Fatalf("got %T %v, want *abacus.Error", err, err)
	}
	if e.Code != code || e.Field != field {
		t.Fatalf("got error code %q field %q (%v), want code %q field %q", e.Code, e.Field, err, code, field)
	}
	if e.Message == "" {
		t.Fatalf("error %#v has no message", e)
	}
}

var (
	bigMaxInt64 = big.NewInt(math.MaxInt64)
	bigMinInt64 = big.NewInt(math.MinInt64)
)

func fitsInt64(n *big.Int) bool { return n.Cmp(bigMinInt64) >= 0 && n.Cmp(bigMaxInt64) <= 0 }

// ---- ParseAmount ----

func TestParseAmountValid(t *testing.T) {
	tests := []struct {
		in   string
		want int64 // micro-units
	}{
		{"0", 0},
		{"-0", 0},
		{"+0", 0},
		{"0.0", 0},
		{"-0.000000", 0},
		{"000", 0},
		{"1", 1_000_000},
		{"+1", 1_000_000},
		{"-1", -1_000_000},
		{"10", 10_000_000},
		{"10.5", 10_500_000},
		{"10.50", 10_500_000},
		{"-10.5", -10_500_000},
		{"0.000001", 1},
		{"-0.000001", -1},
		{"+0.000001", 1},
		{"0.1", 100_000},
		{"0.123456", 123_456},
		{"007.250", 7_250_000},
		{"1234567.890123", 1_234_567_890_123},
		{"9223372036854.775807", math.MaxInt64},
		{"+9223372036854.775807", math.MaxInt64},
		{"-9223372036854.775807", -math.MaxInt64},
		{"-9223372036854.775808", math.MinInt64},
		{"9223372036854", 9_223_372_036_854_000_000},
		{"-9223372036854", -9_223_372_036_854_000_000},
		{"0009223372036854.775807", math.MaxInt64},
	}
	for _, tt := range tests {
		got, err := abacus.ParseAmount(tt.in)
		if err != nil {
			t.Errorf("ParseAmount(%q): unexpected error %v", tt.in, err)
			continue
		}
		if got.Micros() != tt.want {
			t.Errorf("ParseAmount(%q) = %d micros, want %d", tt.in, got.Micros(), tt.want)
		}
	}
}

func TestParseAmountInvalid(t *testing.T) {
	for _, in := range []string{
		"", "-", "+", ".", "-.", ".5", "-.5", "5.", "-5.", "1e3", "1E3", "1.5e-3", " 1", "1 ", "1,000",
		"1_000", "1.000.0", "--1", "+-1", "-+1", "++1", "0x10", "1/2", "abc", "١", "１", "NaN", "Inf",
		"1.0000001", "0.0000000", "-0.1234567", "\x00", "1\n",
	} {
		_, err := abacus.ParseAmount(in)
		wantError(t, err, abacus.CodeInvalid, "amount")
	}
}

func TestParseAmountOverflow(t *testing.T) {
	for _, in := range []string{
		"9223372036854.775808",
		"+9223372036854.775808",
		"-9223372036854.775809",
		"9223372036855",
		"-9223372036855",
		"10000000000000",
		"99999999999999999999999999999",
		"-99999999999999999999999999999.999999",
		"18446744073709.551616", // 2^64 micro-units: must not wrap to zero
		"18446744073709.551615",
	} {
		_, err := abacus.ParseAmount(in)
		wantError(t, err, abacus.CodeOverflow, "amount")
	}
}

// The error message quotes the input but does not echo an unbounded string.
func TestParseAmountErrorTruncatesInput(t *testing.T) {
	long := strings.Repeat("x", 10_000)
	_, err := abacus.ParseAmount(long)
	wantError(t, err, abacus.CodeInvalid, "amount")
	if len(err.Error()) > 200 {
		t.Fatalf("error message is %d bytes long", len(err.Error()))
	}
}

// ---- String and Format ----

func TestAmountString(t *testing.T) {
	tests := []struct {
		micros int64
		want   string
	}{
		{0, "0"},
		{1, "0.000001"},
		{-1, "-0.000001"},
		{10, "0.00001"},
		{100_000, "0.1"},
		{500_000, "0.5"},
		{-500_000, "-0.5"},
		{1_000_000, "1"},
		{-1_000_000, "-1"},
		{10_000_000, "10"},
		{10_500_000, "10.5"},
		{10_000_001, "10.000001"},
		{123_456_789, "123.456789"},
		{1_000_000_000_000, "1000000"},
		{math.MaxInt64, "9223372036854.775807"},
		{math.MinInt64, "-9223372036854.775808"},
		{math.MinInt64 + 1, "-9223372036854.775807"},
	}
	for _, tt := range tests {
		a := micros(tt.micros)
		if got := a.String(); got != tt.want {
			t.Errorf("AmountFromMicros(%d).String() = %q, want %q", tt.micros, got, tt.want)
		}
		// The canonical form reads back to the same amount.
		if back := mustParse(t, tt.want); back != a {
			t.Errorf("ParseAmount(%q) = %d micros, want %d", tt.want, back.Micros(), tt.micros)
		}
	}
}

func TestAmountStringCanonicalisesParsedInput(t *testing.T) {
	for in, want := range map[string]string{
		"-0":        "0",
		"+0":        "0",
		"0.000000":  "0",
		"010.500":   "10.5",
		"+7":        "7",
		"-0.100000": "-0.1",
		"1.000001":  "1.000001",
	} {
		if got := mustParse(t, in).String(); got != want {
			t.Errorf("ParseAmount(%q).String() = %q, want %q", in, got, want)
		}
	}
}

func TestAmountFormat(t *testing.T) {
	tests := []struct {
		amount string
		cur    abacus.Currency
		want   string
	}{
		{"10.5", "USD", "10.50"},
		{"10", "USD", "10.00"},
		{"0", "USD", "0.00"},
		{"-0.5", "USD", "-0.50"},
		{"10.55", "USD", "10.55"},
		{"0.000001", "USD", "0.000001"},
		{"10.123", "USD", "10.123"},
		{"1050", "JPY", "1050"},
		{"0", "JPY", "0"},
		{"-3", "KRW", "-3"},
		{"1050.5", "JPY", "1050.5"},
		{"0.000001", "JPY", "0.000001"},
		{"1.5", "BHD", "1.500"},
		{"1", "KWD", "1.000"},
		{"1.2345", "BHD", "1.2345"},
		{"1", "CLF", "1.0000"},
		{"2", "EUR", "2.00"},
		{"2", "CREDIT", "2.00"},
		{"9223372036854.775807", "JPY", "9223372036854.775807"},
		{"-9223372036854.775808", "USD", "-9223372036854.775808"},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.amount).Format(tt.cur); got != tt.want {
			t.Errorf("%s.Format(%s) = %q, want %q", tt.amount, tt.cur, got, tt.want)
		}
		// What Format prints is a valid amount string with the same value.
		if back := mustParse(t, tt.want); back != mustParse(t, tt.amount) {
			t.Errorf("Format(%s) output %q reads back as %s", tt.cur, tt.want, back)
		}
	}
}

// ---- constructors, sign and comparison ----

func TestAmountFromUnits(t *testing.T) {
	for _, n := range []int64{0, 1, -1, 42, 9_223_372_036_854, -9_223_372_036_854} {
		a, err := abacus.AmountFromUnits(n)
		if err != nil {
			t.Fatalf("AmountFromUnits(%d): %v", n, err)
		}
		want := new(big.Int).Mul(big.NewInt(n), big.NewInt(1_000_000))
		if a.Micros() != want.Int64() {
			t.Errorf("AmountFromUnits(%d) = %d micros, want %s", n, a.Micros(), want)
		}
	}
	for _, n := range []int64{9_223_372_036_855, -9_223_372_036_855, math.MaxInt64, math.MinInt64} {
		_, err := abacus.AmountFromUnits(n)
		wantError(t, err, abacus.CodeOverflow, "amount")
	}
}

func TestAmountSignAndCmp(t *testing.T) {
	vals := []int64{math.MinInt64, -2, -1, 0, 1, 2, math.MaxInt64}
	for _, x := range vals {
		a := micros(x)
		if a.IsZero() != (x == 0) || a.IsNegative() != (x < 0) || a.IsPositive() != (x > 0) {
			t.Errorf("sign predicates wrong for %d", x)
		}
		for _, y := range vals {
			b := micros(y)
			want := big.NewInt(x).Cmp(big.NewInt(y))
			if got := a.Cmp(b); got != want {
				t.Errorf("Cmp(%d, %d) = %d, want %d", x, y, got, want)
			}
			wantMin := x
			if y < x {
				wantMin = y
			}
			if got := abacus.Min(a, b).Micros(); got != wantMin {
				t.Errorf("Min(%d, %d) = %d", x, y, got)
			}
		}
	}
	if !abacus.Zero.IsZero() || abacus.Zero.String() != "0" {
		t.Errorf("Zero is %q", abacus.Zero)
	}
}

func TestAmountDecimal(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "0.000001", "-10.5", "9223372036854.775807", "-9223372036854.775808"} {
		a := mustParse(t, s)
		if got := a.Decimal().String(); got != s {
			t.Errorf("%s.Decimal() = %s", s, got)
		}
	}
}

// ---- Add, Sub, Neg, Abs ----

// arithCases are operand pairs around the int64 limits.
var arithCases = func() [][2]int64 {
	edge := []int64{math.MinInt64, math.MinInt64 + 1, math.MinInt64 / 2, -2, -1, 0, 1, 2, math.MaxInt64 / 2, math.MaxInt64 - 1, math.MaxInt64}
	var out [][2]int64
	for _, a := range edge {
		for _, b := range edge {
			out = append(out, [2]int64{a, b})
		}
	}
	return out
}()

func TestAmountAddSubExact(t *testing.T) {
	for _, c := range arithCases {
		a, b := micros(c[0]), micros(c[1])

		sum := new(big.Int).Add(big.NewInt(c[0]), big.NewInt(c[1]))
		got, err := a.Add(b)
		checkArith(t, "Add", c, sum, got, err)

		diff := new(big.Int).Sub(big.NewInt(c[0]), big.NewInt(c[1]))
		got, err = a.Sub(b)
		checkArith(t, "Sub", c, diff, got, err)
	}
}

func checkArith(t *testing.T, op string, c [2]int64, exact *big.Int, got abacus.Amount, err error) {
	t.Helper()
	if !fitsInt64(exact) {
		if err == nil {
			t.Errorf("%s(%d, %d) = %d, want overflow (exact %s)", op, c[0], c[1], got.Micros(), exact)
			return
		}
		wantError(t, err, abacus.CodeOverflow, "amount")
		return
	}
	if err != nil {
		t.Errorf("%s(%d, %d): unexpected error %v (exact %s fits)", op, c[0], c[1], err, exact)
		return
	}
	if got.Micros() != exact.Int64() {
		t.Errorf("%s(%d, %d) = %d, want %s", op, c[0], c[1], got.Micros(), exact)
	}
}

func TestAmountAddSubExamples(t *testing.T) {
	a, b := mustParse(t, "10.5"), mustParse(t, "0.000001")
	if s, err := a.Add(b); err != nil || s.String() != "10.500001" {
		t.Errorf("10.5+0.000001 = %v, %v", s, err)
	}
	if s, err := a.Sub(b); err != nil || s.String() != "10.499999" {
		t.Errorf("10.5-0.000001 = %v, %v", s, err)
	}
	if s, err := b.Sub(a); err != nil || s.String() != "-10.499999" {
		t.Errorf("0.000001-10.5 = %v, %v", s, err)
	}
	// Sub of the most negative amount is fine when the result fits.
	if s, err := micros(-1).Sub(micros(math.MinInt64)); err != nil || s.Micros() != math.MaxInt64 {
		t.Errorf("-1 - MinInt64 = %v, %v; want MaxInt64", s, err)
	}
	if s, err := micros(math.MinInt64).Sub(micros(math.MinInt64)); err != nil || !s.IsZero() {
		t.Errorf("MinInt64 - MinInt64 = %v, %v; want 0", s, err)
	}
	_, err := micros(0).Sub(micros(math.MinInt64))
	wantError(t, err, abacus.CodeOverflow, "amount")
	_, err = micros(math.MaxInt64).Add(micros(1))
	wantError(t, err, abacus.CodeOverflow, "amount")
	_, err = micros(math.MinInt64).Add(micros(-1))
	wantError(t, err, abacus.CodeOverflow, "amount")
	_, err = micros(math.MinInt64).Sub(micros(1))
	wantError(t, err, abacus.CodeOverflow, "amount")
	_, err = micros(math.MaxInt64).Sub(micros(-1))
	wantError(t, err, abacus.CodeOverflow, "amount")
}

func TestAmountNegAbs(t *testing.T) {
	for _, x := range []int64{math.MinInt64 + 1, -1_000_000, -1, 0, 1, 1_000_000, math.MaxInt64} {
		n, err := micros(x).Neg()
		if err != nil || n.Micros() != -x {
			t.Errorf("Neg(%d) = %v, %v", x, n.Micros(), err)
		}
		want := x
		if x < 0 {
			want = -x
		}
		a, err := micros(x).Abs()
		if err != nil || a.Micros() != want {
			t.Errorf("Abs(%d) = %v, %v", x, a.Micros(), err)
		}
	}
	_, err := micros(math.MinInt64).Neg()
	wantError(t, err, abacus.CodeOverflow, "amount")
	_, err = micros(math.MinInt64).Abs()
	wantError(t, err, abacus.CodeOverflow, "amount")
}

// ---- text and JSON ----

func TestAmountTextRoundTrip(t *testing.T) {
	for _, x := range []int64{math.MinInt64, -10_500_000, -1, 0, 1, 10_500_000, math.MaxInt64} {
		a := micros(x)
		b, err := a.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != a.String() {
			t.Errorf("MarshalText(%d) = %q, want %q", x, b, a.String())
		}
		var back abacus.Amount
		if err := back.UnmarshalText(b); err != nil || back != a {
			t.Errorf("UnmarshalText(%q) = %v, %v", b, back.Micros(), err)
		}
	}
	back := micros(7)
	err := back.UnmarshalText([]byte("1e3"))
	wantError(t, err, abacus.CodeInvalid, "amount")
	if back.Micros() != 7 {
		t.Errorf("a failed UnmarshalText changed the amount to %v", back)
	}
	err = back.UnmarshalText([]byte("9223372036854.775808"))
	wantError(t, err, abacus.CodeOverflow, "amount")
	if back.Micros() != 7 {
		t.Errorf("a failed UnmarshalText changed the amount to %v", back)
	}
}

type priced struct {
	Price abacus.Amount  `json:"price"`
	Opt   *abacus.Amount `json:"opt,omitempty"`
}

func TestAmountJSONIsAString(t *testing.T) {
	b, err := json.Marshal(priced{Price: mustParse(t, "10.5")})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"price":"10.5"}` {
		t.Errorf("marshalled %s", b)
	}
	b, err = json.Marshal(micros(math.MinInt64))
	if err != nil || string(b) != `"-9223372036854.775808"` {
		t.Errorf("marshalled MinInt64 as %s, %v", b, err)
	}
	b, err = json.Marshal(map[string]abacus.Amount{"x": micros(1)})
	if err != nil || string(b) != `{"x":"0.000001"}` {
		t.Errorf("marshalled map as %s, %v", b, err)
	}

	var p priced
	if err := json.Unmarshal([]byte(`{"price":"-0.000001","opt":"3"}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.Price.Micros() != -1 || p.Opt == nil || p.Opt.Micros() != 3_000_000 {
		t.Errorf("unmarshalled %+v", p)
	}
}

func TestAmountJSONRefusesNumbers(t *testing.T) {
	for _, in := range []string{
		`{"price":10.5}`,
		`{"price":10}`,
		`{"price":0}`,
		`{"price":0.1}`,
		`{"price":1e3}`,
		`{"price":9007199254740993}`,
		`{"price":true}`,
		`{"price":["1"]}`,
		`{"price":{}}`,
	} {
		p := priced{Price: micros(42)}
		err := json.Unmarshal([]byte(in), &p)
		if err == nil {
			t.Errorf("json.Unmarshal(%s) accepted a non-string amount: %v", in, p.Price)
			continue
		}
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			t.Errorf("json.Unmarshal(%s): got %T %v, want *json.UnmarshalTypeError", in, err, err)
		}
	}
	// A string that is not an amount is refused with the amount's own error.
	for in, code := range map[string]abacus.ErrorCode{
		`{"price":"1e3"}`:                  abacus.CodeInvalid,
		`{"price":"10.5 "}`:                abacus.CodeInvalid,
		`{"price":""}`:                     abacus.CodeInvalid,
		`{"price":"0.0000001"}`:            abacus.CodeInvalid,
		`{"price":"9223372036854.775808"}`: abacus.CodeOverflow,
	} {
		var p priced
		err := json.Unmarshal([]byte(in), &p)
		var e *abacus.Error
		if !errors.As(err, &e) || e.Code != code || e.Field != "amount" {
			t.Errorf("json.Unmarshal(%s) = %v, want %s error on amount", in, err, code)
		}
	}
}

func TestPlainDecimal(t *testing.T) {
	for s, want := range map[string]bool{"10": true, "10.5": true, "0": true, "007": true, "": false, ".5": false, "5.": false, ".": false,
		"1e1": false, "+1": false, "-1": false, "1.2.3": false, " 5": false, "0x10": false} {
		if got := abacus.PlainDecimal(s); got != want {
			t.Errorf("PlainDecimal(%q) = %v", s, got)
		}
	}
}
