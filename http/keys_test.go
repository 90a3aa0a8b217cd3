package http

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/abacus-billing/abacus"
)

// TestCheckKeys: the first key given twice in its object, in any case, or
// not in lower case ASCII, named by its path.
func TestCheckKeys(t *testing.T) {
	for body, want := range map[string]string{
		`{"amount":"1","amount":"1000"}`:                     "amount",
		`{"amount":"1","AMOUNT":"1000"}`:                     "AMOUNT",
		`{"AMOUNT":"1"}`:                                     "AMOUNT",
		`{"postings":[{"Amount":"1"}]}`:                      "postings[0].Amount",
		`{"kind":"user","\u212aind":"org"}`:                  "\u212aind",
		`{"a":{"b":1,"c":2,"b":3}}`:                          "a.b",
		`{"postings":[{"x":1},{"amount":"1","amount":"2"}]}`: "postings[1].amount",
		`[{"k":1},{"k":1,"k":2}]`:                            "[1].k",
		`{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}`:          "",
		`{"a":[1,[2,{"a":1}],{"b":{}}],"b":"a"}`:             "",
		`{"a":1,"a"`:                                         "",
		`not json`:                                           "",
	} {
		err := checkKeys([]byte(body))
		got := ""
		if ae := (*abacus.Error)(nil); errors.As(err, &ae) {
			got = ae.Field
		}
		if got != want || (err == nil) != (want == "") {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

// TestCheckKeysOfDeepTexts: the walk's memory follows the text's size,
// not the square of its depth (QA: 2,000 nested objects with keys of 96
// characters, a body of 200 KB, took 940 MB).
func TestCheckKeysOfDeepTexts(t *testing.T) {
	k := `"` + strings.Repeat("k", 96) + `":`
	body := []byte(strings.Repeat("{"+k, 2000) + "1" + strings.Repeat("}", 2000))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := checkKeys(body); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if took := after.TotalAlloc - before.TotalAlloc; took > 50<<20 {
		t.Fatalf("checking %d bytes took %d MB", len(body), took>>20)
	}
}
