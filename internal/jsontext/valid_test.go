package jsontext

import (
	"encoding/json"
	"strings"
	"testing"
)

var validCases = []string{
	`0`, `-0`, `1.5e+3`, `-12.0E-1`, `01`, `1.`, `.5`, `-`, `1e`, `+1`, `1 2`,
	`"a\"b\\c\/\b\f\n\r\t\u00e9"`, `"\x"`, `"\u12g4"`, "\"a\tb\"", "\"\xff\"", `"abc`,
	`true`, `tru`, `nul`, `falsey`, `null `,
	`{}`, `{ }`, `[]`, `[ ]`, `{"a":1}`, `{"a" : [1, {"b":null}] , "c":"d"}`, `{"a"}`, `{"a":}`, `{a:1}`,
	`{"a":1,}`, `[1,]`, `[,1]`, `[1 2]`, `{"a":1 "b":2}`, `[1}`, `{"a":1]`, `[[[]]]`, `[[[]]`, `[]]`,
	" \t\r\n[1] \n", "\v1", `{"a":{"b":{"c":[true,false,null]}}}`,
}

// TestValidAgreesWithEncodingJSON: below encoding/json's depth limit,
// Valid says what json.Valid says.
func TestValidAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range validCases {
		if got, want := Valid([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("%q: Valid %v, json.Valid %v", c, got, want)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, c := range validCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("%q: Valid %v, json.Valid %v", b, got, want)
		}
	})
}

// TestValidAtAnyDepth: a text nested deeper than encoding/json goes is
// valid if it is well formed, and is not if it is not closed or mixes its
// brackets, however deep.
func TestValidAtAnyDepth(t *testing.T) {
	const n = 100_000
	deep := func(open, inner, close string) []byte {
		return []byte(strings.Repeat(open, n) + inner + strings.Repeat(close, n))
	}
	for _, c := range []struct {
		text []byte
		want bool
	}{
		{deep("[", "1", "]"), true},
		{deep(`{"a":`, "[]", "}"), true},
		{deep(`[{"a":`, "1", "}]"), true},
		{[]byte(`[1,` + string(deep("[", "", "]")) + `,{"b":2}]`), true},
		{deep("[", "1", "}"), false},
		{deep("[", "", "]")[1:], false},
		{deep(`{"a":`, "1,", "}"), false},
		{deep("[", "1", "]  x"), false},
	} {
		if json.Valid(c.text) {
			t.Fatalf("json.Valid took a text %d deep: the test no longer tests what it says", n)
		}
		if got := Valid(c.text); got != c.want {
			t.Errorf("%.20q…: %v, want %v", c.text, got, c.want)
		}
	}
}

// TestErrorAt: where a text stops being JSON, at any depth.
func TestErrorAt(t *testing.T) {
	deep := strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000)
	for _, c := range []struct {
		text string
		at   int
	}{
		{`[1,2]`, -1},
		{`[1,]`, 3},
		{`{"a":1 "b":2}`, 7},
		{`{"a":1, 2}`, 8},
		{`[1`, 2},
		{`[01]`, 2},
		{`"ab`, 0},
		{`[tru]`, 1},
		{`1 2`, 2},
		{"[" + deep + ",{\"a\":1,}]", len(deep) + 9},
		{"[" + deep, len(deep) + 1},
	} {
		if got := ErrorAt([]byte(c.text)); got != c.at {
			t.Errorf("%.30q: %d, want %d", c.text, got, c.at)
		}
	}
}
