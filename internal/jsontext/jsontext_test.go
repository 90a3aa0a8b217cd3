package jsontext

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestBadString: BadString finds exactly what encoding/json replaces with
// U+FFFD, and points at it.
func TestBadString(t *testing.T) {
	for _, c := range []struct {
		text string
		at   int // -1: nothing
	}{
		{`{"memo":"plain"}`, -1},
		{`{"memo":"caf\u00e9 é 事 😀 \ud83d\ude00 \\ud800 \"q\""}`, -1}, // escaped backslash: not an escape
		{"{\"memo\":\"\uFFFD\"}", -1},                                 // U+FFFD sent as itself
		{"{\"memo\":\"a\xffb\"}", 10},
		{"{\"m\xc3\":1}", 3},
		{`{"memo":"a\ud800b"}`, 10},
		{`{"memo":"a\udc00b"}`, 10},
		{`{"memo":"\ud800\u0041"}`, 9},
		{`{"memo":"\ud800`, 9},
		{`["ok","\uDBFF\uDFFF","\uDFFF"]`, 22},
	} {
		at, bad := BadString([]byte(c.text))
		if want := c.at >= 0; bad != want || bad && at != c.at {
			t.Errorf("%q: %d %v, want %d", c.text, at, bad, c.at)
		}
		// The oracle: what encoding/json makes of it.
		var v any
		if json.Unmarshal([]byte(c.text), &v) == nil {
			out, _ := json.Marshal(v)
			replaced := strings.Count(string(out), "\ufffd") > strings.Count(c.text, "\ufffd")
			if replaced != bad {
				t.Errorf("%q: encoding/json replaced something: %v, BadString: %v", c.text, replaced, bad)
			}
		}
	}
}
