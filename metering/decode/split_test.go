package decode

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzSplitMatchesEncodingJSON: on any valid JSON, the elements and
// members the splitter finds are the ones encoding/json's Decoder finds,
// byte for byte, keys unescaped alike.
func FuzzSplitMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`[]`, ` [ 1 , "a" , {"k" : [1, {"x": "]}"}]}, null, true, -1.5e3 ] `,
		`{"a":1,"a":2, "b\"c" : "\u00e9\\" , "\ud800": {}, "d":[{"e":"}"}], "é": false}`,
		`[{"uuid":"a\\\"]","value":1}, {"k\n":"v"}, "x\u0000"]`,
		"{\"\xff\":\"\xfe\"}", `{}`, `"s"`, `0`,
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
				if got[i].key != want[i].key || !bytes.Equal(got[i].raw, want[i].raw) {
					t.Fatalf("member %d is %q: %q, want %q: %q", i, got[i].key, got[i].raw, want[i].key, want[i].raw)
				}
			}
		case kindString:
			var want string
			json.Unmarshal(b, &want)
			if got := unquote(bytes.TrimSpace(b)); got != want {
				t.Fatalf("unquote gives %q, want %q", got, want)
			}
		}
	})
}
