package decode

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzSplitMatchesEncodingJSON: on any valid JSON, the elements and
// members the splitter finds are the ones encoding/json's Decoder finds,
// byte for byte, keys unescaped alike, except that invalid UTF-8, which
// encoding/json replaces with U+FFFD, is kept so that Validate can refuse it.
func FuzzSplitMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`[]`, ` [ 1 , "a" , {"k" : [1, {"x": "]}"}]}, null, true, -1.5e3 ] `,
		`{"a":1,"a":2, "b\"c" : "\u00e9\\" , "\ud800": {}, "d":[{"e":"}"}], "é": false}`,
		`[{"uuid":"a\\\"]","value":1}, {"k\n":"v"}, "x\u0000"]`,
		"{\"\xff\":\"\xfe\"}", `{}`, `"s"`, `0`,
		`"\ud83d\ude00 \udc00\ud800 \ud800\u0041 \ud800"`, "\"a\xff\\n\xc3\"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		switch kindOf(b) {
		case kindArray:
			var want []json.RawMessage
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			var got [][]byte
			eachElement(b, 0, func(raw []byte) { got = append(got, raw) })
			if len(got) != len(want) {
				t.Fatalf("%d elements, want %d", len(got), len(want))
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("element %d is %q, want %q", i, got[i], want[i])
				}
			}
		case kindObject:
			type member struct {
				key string
				raw []byte
			}
			var want []member
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.Token()
			for dec.More() {
				k, _ := dec.Token()
				var v json.RawMessage
				if err := dec.Decode(&v); err != nil {
					t.Fatal(err)
				}
				want = append(want, member{k.(string), v})
			}
			var got []member
			eachMember(b, 0, func(k string, raw []byte) { got = append(got, member{k, raw}) })
			if len(got) != len(want) {
				t.Fatalf("%d members, want %d", len(got), len(want))
			}
			for i := range got {
				if !sameText(got[i].key, want[i].key) || !bytes.Equal(got[i].raw, want[i].raw) {
					t.Fatalf("member %d is %q: %q, want %q: %q", i, got[i].key, got[i].raw, want[i].key, want[i].raw)
				}
			}
		case kindString:
			var want string
			json.Unmarshal(b, &want)
			if got := unquote(bytes.TrimSpace(b)); !sameText(got, want) {
				t.Fatalf("unquote gives %q, want %q", got, want)
			}
		}
	})
}

// sameText says whether unquote's got agrees with encoding/json's want:
// equal where got is valid UTF-8, and where it is not, want is where
// encoding/json put U+FFFD.
func sameText(got, want string) bool {
	if utf8.ValidString(got) {
		return got == want
	}
	return strings.ContainsRune(want, utf8.RuneError)
}

func TestUnquoteKeepsInvalidUTF8(t *testing.T) {
	for raw, want := range map[string]string{
		"\"iu3\xff\"":          "iu3\xff",
		`"iu3\ud800"`:          "iu3\xed\xa0\x80",
		`"\udc00\ud800x"`:      "\xed\xb0\x80\xed\xa0\x80x",
		`"\ud800\u0041"`:       "\xed\xa0\x80A",
		`"\ud83d\ude00\u00e9"`: "\U0001F600é",
		"\"a\\\"\\n\xfe\"":     "a\"\n\xfe",
		`"\b\f\r\t\/\\"`:       "\b\f\r\t/\\",
	} {
		if got := unquote([]byte(raw)); got != want {
			t.Errorf("unquote(%q) = %q, want %q", raw, got, want)
		}
	}
}
