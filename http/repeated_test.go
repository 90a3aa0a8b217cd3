package http

import "testing"

func TestRepeatedKey(t *testing.T) {
	for body, want := range map[string]string{
		`{"amount":"1","amount":"1000"}`:                     "amount",
		`{"amount":"1","AMOUNT":"1000"}`:                     "AMOUNT",
		`{"kind":"user","\u212aind":"org"}`:                  "\u212aind",
		`{"a":{"b":1,"c":2,"b":3}}`:                          "a.b",
		`{"postings":[{"x":1},{"amount":"1","amount":"2"}]}`: "postings[1].amount",
		`[{"k":1},{"k":1,"k":2}]`:                            "[1].k",
		`{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}`:          "",
		`{"a":[1,[2,{"a":1}],{"b":{}}],"b":"a"}`:             "",
		`{"a":1,"a"`:                                         "",
		`not json`:                                           "",
	} {
		got, ok := repeatedKey([]byte(body))
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", body, got, ok, want)
		}
	}
}
