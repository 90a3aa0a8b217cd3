package rating_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// FuzzParseFile: the parser never panics; every error is a *FileError;
// what it accepts, NewBook accepts, and it survives a round trip through
// both formats.
func FuzzParseFile(f *testing.F) {
	example, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{string(example), jsonFile, tiersFile, base, "prices: []", "{}", "[", "prices:\n  - &a {x: 1}\n  - *a\n"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, data string, asJSON bool) {
		name := "f.yaml"
		if asJSON {
			name = "f.json"
		}
		prices, commitments, err := rating.ParseFile(strings.NewReader(data), name)
		if err != nil {
			var fe *rating.FileError
			if !errors.As(err, &fe) || fe.Err == nil || fe.File != name {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		if _, err := rating.NewBook(nil, prices, nil, commitments); err != nil {
			t.Fatalf("ParseFile accepted what NewBook refuses: %v", err)
		}
		for _, out := range []string{"g.yaml", "g.json"} {
			var buf bytes.Buffer
			if err := rating.WriteFile(&buf, out, prices, commitments); err != nil {
				t.Fatal(err)
			}
			p2, c2, err := rating.ParseFile(&buf, out)
			if err != nil {
				t.Fatalf("%s does not read back: %v", out, err)
			}
			if diff := diffPrices(prices, p2); diff != "" || len(c2) != len(commitments) {
				t.Fatalf("%s round trip: %s", out, diff)
			}
		}
	})
}

// FuzzComponents: splitting and rating never panic, and errors are
// *abacus.Error naming a field.
func FuzzComponents(f *testing.F) {
	f.Add(int64(300), 1, 15, `{"prompt_token_num":"200","completion_token_num":100}`)
	f.Add(int64(1), 0, 11, `{"sku_kind":"6","sku_type":2,"sku_unit_type":"second"}`)
	f.Add(int64(5), 3, 16, `{"running":"false","users":"3"}`)
	f.Add(int64(0), 2, 13, ``)
	b := mustBook(f, []abacus.Price{
		licensed("m", rating.LicenseStub, "users", false),
		graduated("g", tiers("10:1", ":0.5")...),
	}, nil, nil)
	f.Fuzz(func(t *testing.T, value int64, valueType, scene int, extra string) {
		e := &abacus.UsageEvent{Account: alice, Value: value, ValueType: valueType, Scene: scene, ResourceID: "m", Time: jan10, Extra: extra}
		check := func(err error) {
			var ae *abacus.Error
			if err != nil && (!errors.As(err, &ae) || ae.Field == "") {
				t.Fatalf("error %T %v", err, err)
			}
		}
		cs, err := rating.Components(e)
		check(err)
		for _, c := range cs {
			if c.Quantity < 0 {
				t.Fatalf("negative component %+v", c)
			}
		}
		for _, res := range []string{"m", "g"} {
			e.ResourceID = res
			_, err = b.Rate(e, "USD", func(rating.Counter) int64 { return 5 })
			check(err)
		}
	})
}
