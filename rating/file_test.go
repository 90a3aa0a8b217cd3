package rating_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
	"github.com/shopspring/decimal"
)

// lineOf returns the 1-based line of the first line of text containing marker.
func lineOf(t *testing.T, text, marker string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, marker) {
			return i + 1
		}
	}
	t.Fatalf("marker %q not in the file", marker)
	return 0
}

// The brief's example error, at line 14.
const tiersFile = `prices:
  - {sku_type: 1, sku_kind: 1, resource_id: a, sku_unit: 1, sku_unit_type: minute, currency: USD, valid_from: 2026-01-01T00:00:00Z, sku_price: "1"}
  - {sku_type: 1, sku_kind: 1, resource_id: b, sku_unit: 1, sku_unit_type: minute, currency: USD, valid_from: 2026-01-01T00:00:00Z, sku_price: "1"}
  - sku_type: 1
    sku_kind: 4
    resource_id: c
    sku_unit: 1
    sku_unit_type: token
    currency: USD
    valid_from: 2026-01-01T00:00:00Z
    model: graduated
    tiers:
      - {up_to: 1000, price: "0.01"}
      - up_to: 1000
        price: "0.02"
      - price: "0.03"
`

func TestParseFileBriefExample(t *testing.T) {
	_, _, err := rating.ParseFile(strings.NewReader(tiersFile), "prices.yaml")
	const want = "prices.yaml:14: prices[2].tiers[1].up_to: must be greater than 1000"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant  %s", err, want)
	}
	var fe *rating.FileError
	if !errors.As(err, &fe) || fe.Line != 14 || fe.File != "prices.yaml" {
		t.Errorf("FileError %+v", fe)
	}
	if abacus.ErrorCodeOf(err) != abacus.CodeInvalid {
		t.Errorf("code %s", abacus.ErrorCodeOf(err))
	}
}

// base is one valid per-unit price in YAML; cases add or replace lines.
const base = `prices:
  - sku_type: 1
    sku_kind: 1
    resource_id: "12"
    sku_unit: 1
    sku_unit_type: minute
    currency: USD
    valid_from: 2026-01-01T00:00:00Z
    sku_price: "0.05"
`

func TestParseFileErrors(t *testing.T) {
	replace := func(old, new string) string {
		if !strings.Contains(base, old) {
			panic(old)
		}
		return strings.Replace(base, old, new, 1)
	}
	graduatedPrice := replace(`    sku_price: "0.05"`, "    model: graduated\n    tiers:\n      - {up_to: 10, price: \"1\"}\n      - {price: \"0.5\"}")
	for _, tc := range []struct {
		name   string
		file   string
		marker string // the text on the line the error must name
		want   string // the error after "x.yaml:LINE: "
	}{
		{"bad decimal", replace(`"0.05"`, `"0.0.5"`), "0.0.5", `prices[0].sku_price: "0.0.5" is not a decimal number such as "0.05"`},
		{"exponent", replace(`"0.05"`, `1e3`), "1e3", `prices[0].sku_price: "1e3" is not a plain decimal number: write it without an exponent`},
		{"quoted exponent", replace(`"0.05"`, `"5E-2"`), "5E-2", `prices[0].sku_price: "5E-2" is not a plain decimal number: write it without an exponent`},
		{"leading dot", replace(`"0.05"`, `.05`), ".05", `prices[0].sku_price: ".05" is not a decimal number such as "0.05"`},
		// QA: read as 10 here and as 8 by YAML 1.1 tools.
		{"leading zero", replace(`"0.05"`, `010`), "010", `prices[0].sku_price: "010" has a leading zero, which some tools read as octal (YAML 1.1 reads 010 as 8): write it without`},
		{"leading zeros", replace(`"0.05"`, `00.5`), "00.5", `prices[0].sku_price: "00.5" has a leading zero, which some tools read as octal (YAML 1.1 reads 010 as 8): write it without`},
		{"leading zero integer", replace("sku_unit: 1", "sku_unit: 07"), "sku_unit: 07", `prices[0].sku_unit: "07" has a leading zero, which some tools read as octal (YAML 1.1 reads 010 as 8): write it without`},
		{"infinity", replace(`"0.05"`, `.inf`), ".inf", `prices[0].sku_price: ".inf" is not a decimal number such as "0.05"`},
		{"hex price", replace(`"0.05"`, `0x10`), "0x10", `prices[0].sku_price: "0x10" is not a decimal number such as "0.05"`},
		{"boolean price", replace(`"0.05"`, `true`), "sku_price", `prices[0].sku_price: must be a decimal number such as "0.05", not true`},
		{"unknown field", base + "    colour: red\n", "colour", "prices[0].colour: unknown field (known: sku_type, sku_kind, resource_id, sku_unit, sku_unit_type, sku_price, sku_cached_price, currency, valid_from, model, tiers, package, levels, discounts, license, desc)"},
		{"CSGHub's sku_desc is desc here", base + "    sku_desc: CPU\n", "sku_desc", "prices[0].sku_desc: unknown field (known: sku_type, sku_kind, resource_id, sku_unit, sku_unit_type, sku_price, sku_cached_price, currency, valid_from, model, tiers, package, levels, discounts, license, desc)"},
		{"unknown top-level field", base + "discounts: []\n", "discounts", "discounts: unknown field (known: prices, commitments)"},
		{"missing field", replace("    currency: USD\n", ""), "sku_type", "prices[0].currency: is required"},
		{"zero time", replace("2026-01-01T00:00:00Z", "0001-01-01T00:00:00Z"), "valid_from", `prices[0].valid_from: "0001-01-01T00:00:00Z" is the zero time, which abacus reads as no time: give a real one, such as 2000-01-01T00:00:00Z (no event is earlier)`},
		{"null field", replace("currency: USD", "currency: null"), "sku_type", "prices[0].currency: is required"},
		{"missing sku_price", replace(`    sku_price: "0.05"`+"\n", ""), "sku_type", "prices[0].sku_price: is required for the per_unit model"},
		{"sku_price on graduated", graduatedPrice + "    sku_price: \"1\"\n", "sku_price", "prices[0].sku_price: is not used by the graduated model (only by per_unit and package)"},
		{"tiers on per_unit", base + "    tiers: []\n", "tiers", "prices[0].tiers: is not used by the per_unit model (only by graduated and volume)"},
		{"tier without price", strings.Replace(graduatedPrice, `{price: "0.5"}`, `{flat_fee: "1"}`, 1), "flat_fee", "prices[0].tiers[1].price: is required"},
		{"last tier bounded", strings.Replace(graduatedPrice, `{price: "0.5"}`, `{up_to: 20, price: "0.5"}`, 1), "up_to: 20", "prices[0].tiers[1].up_to: must be absent (or 0): the last tier is unbounded"},
		{"tiers not a list", strings.Replace(graduatedPrice, "tiers:\n      - {up_to: 10, price: \"1\"}\n      - {price: \"0.5\"}", "tiers: {}", 1), "tiers", "prices[0].tiers: must be a list, not a mapping"},
		{"float integer", replace("sku_unit: 1", "sku_unit: 1.5"), "sku_unit: 1.5", `prices[0].sku_unit: "1.5" is not an integer`},
		{"exponent integer", replace("sku_unit: 1", "sku_unit: 1e3"), "sku_unit: 1e3", `prices[0].sku_unit: "1e3" is not an integer`},
		{"list integer", replace("sku_type: 1", "sku_type: [1]"), "sku_type", "prices[0].sku_type: must be an integer, not a list"},
		{"huge integer", replace("sku_type: 1", "sku_type: 99999999999"), "sku_type", `prices[0].sku_type: "99999999999" is out of range (-2147483648 to 2147483647)`},
		{"zero unit", replace("sku_unit: 1", "sku_unit: 0"), "sku_unit", "prices[0].sku_unit: 0 is not a number of base units (at least 1)"},
		{"bad currency", replace("currency: USD", "currency: dollars"), "currency", `prices[0].currency: "dollars" is not a currency code such as "USD"`},
		{"bad model", replace(`    sku_price: "0.05"`, "    model: flat"), "model", `prices[0].model: "flat" is not one of per_unit, graduated, volume, package, burst`},
		{"date only", replace("2026-01-01T00:00:00Z", "2026-01-01"), "valid_from", `prices[0].valid_from: "2026-01-01" is not an RFC 3339 time such as 2026-01-01T00:00:00Z`},
		{"no offset", replace("2026-01-01T00:00:00Z", "2026-01-01T00:00:00"), "valid_from", `prices[0].valid_from: "2026-01-01T00:00:00" is not an RFC 3339 time such as 2026-01-01T00:00:00Z`},
		{"nanoseconds", replace("2026-01-01T00:00:00Z", "2026-01-01T00:00:00.0000005Z"), "valid_from", `prices[0].valid_from: "2026-01-01T00:00:00.0000005Z" is finer than a microsecond, which is as fine as abacus keeps times`},
		{"negative price", replace(`"0.05"`, `-0.05`), "sku_price", "prices[0].sku_price: -0.05 is negative"},
		{"duplicate key", base + "    sku_kind: 4\n", "sku_kind: 4", `the key "sku_kind" is given twice`},
		{"alias", strings.Replace(base, "  - sku_type: 1", "  - &p\n    sku_type: 1", 1) + "  - *p\n", "*p", "YAML aliases (*name) are not supported in price files: write the value out"},
		{"parser error", base + "  - sku_type: [1\n", "[1", "invalid YAML: did not find expected ',' or ']' (in the block or flow collection that starts on this line)"},
		{"parser error on a later line", base + "  - sku_type: 1\n   sku_kind: 1\n", "  - sku_type: 1", "invalid YAML: did not find expected '-' indicator (in the block or flow collection that starts on this line)"},
		{"scanner error", base + "    desc: a: b\n", "a: b", "invalid YAML: mapping values are not allowed in this context"},
		{"tab", base + "\tdesc: x\n", "\tdesc", "invalid YAML: found character that cannot start any token"},
		{"not UTF-8", base + "    desc: r\xff\n", "desc", "invalid YAML: a byte that is not UTF-8"},
		{"two documents", base + "---\nprices: []\n", "---", "a price file holds one YAML document"},
		{"prices not a list", "prices: 5\n", "prices", "prices: must be a list, not \"5\""},
		{"price not a mapping", "prices:\n  - 5\n", "- 5", `prices[0]: must be a mapping, not "5"`},
		{"top level list", "- 1\n", "- 1", "must be a mapping, not a list"},
		{"licence type", base + "    license: {name: w, type: rent, burstable: true}\n", "license", `prices[0].license.type: "rent" is not one of install, instance, stub`},
		{"licence burstable", base + "    license: {name: w}\n", "license", "prices[0].license.burstable: is required"},
		{"licence burstable string", base + "    license: {name: w, burstable: \"yes\"}\n", "license", `prices[0].license.burstable: must be true or false, not the string "yes"`},
		{"stub needs a metric", base + "    license:\n      name: w\n      type: stub\n      burstable: true\n", "license", "prices[0].license.user_metric: is required for a stub licence: it names the extra field with the declared count"},
		{"stub metric a key abacus reads", base + "    license:\n      name: w\n      type: stub\n      user_metric: Prompt_Token_Num\n      burstable: true\n", "user_metric", `prices[0].license.user_metric: "Prompt_Token_Num" is a key of extra abacus reads for the event itself (sku_type, sku_kind, sku_unit_type, prompt_token_num, completion_token_num, prompt_token_cache_num, running): give the licence's count a key of its own, such as seats`},
		{"discount fraction", base + "    discounts:\n      - {months: 12, fraction: \"1.5\"}\n", "fraction", `prices[0].discounts[0].fraction: 1.5 is not a fraction from 0 up to (not including) 1: 0.25 takes 25% off`},
		{"level twice", strings.Replace(base, `    sku_price: "0.05"`, "    model: burst\n    levels:\n      - {level: 1, price: \"1\"}\n      - {level: 1, price: \"2\"}", 1), "price: \"2\"", "prices[0].levels[1].level: level 1 is listed twice (also levels[0])"},
		{"commitment account", base + "commitments:\n  - {account: alice, months: 12, from: 2026-01-01T00:00:00Z, until: 2027-01-01T00:00:00Z}\n", "alice", `commitments[0].account: "alice" is not a UUID`},
		{"commitment until", base + "commitments:\n  - account: " + string(alice) + "\n    months: 12\n    from: 2026-01-01T00:00:00Z\n    until: 2025-01-01T00:00:00Z\n", "until", "commitments[0].until: must be after from (2026-01-01T00:00:00Z)"},
		{"commitment months", base + "commitments:\n  - account: " + string(alice) + "\n    from: 2026-01-01T00:00:00Z\n    until: 2027-01-01T00:00:00Z\n", "account", "commitments[0].months: is required"},
		// QA: a line break split prices list's row, and "w4\n" looked like "w4".
		{"line break in resource_id", replace(`resource_id: "12"`, `resource_id: "12\n"`), "resource_id", "prices[0].resource_id: holds a character that is not printable (U+000A) at byte 2; a key is printable text"},
		{"zero-width space in resource_id", replace(`resource_id: "12"`, `resource_id: "12\u200b"`), "resource_id", "prices[0].resource_id: holds a character that is not printable (U+200B) at byte 2; a key is printable text"},
		{"line separator in resource_id", replace(`resource_id: "12"`, `resource_id: "1\u20282"`), "resource_id", "prices[0].resource_id: holds a character that is not printable (U+2028) at byte 1; a key is printable text"},
		{"tab in sku_unit_type", replace(`sku_unit_type: minute`, `sku_unit_type: "min\tute"`), "sku_unit_type", "prices[0].sku_unit_type: holds a character that is not printable (U+0009) at byte 3; a key is printable text"},
		{"commitment twice", base + "commitments:\n  - {account: " + string(alice) + ", months: 12, from: 2026-01-01T00:00:00Z, until: 2027-01-01T00:00:00Z}\n" +
			"  - {account: " + string(alice) + ", months: 12, from: 2026-01-01T01:00:00+01:00, until: 2027-01-01T00:00:00Z}\n", "+01:00",
			"commitments[1]: is the same commitment as commitments[0] (line 11)"},
		{"commitment field", base + "commitments:\n  - {account: " + string(alice) + ", months: 1, from: 2026-01-01T00:00:00Z, until: 2027-01-01T00:00:00Z, auto_renew: true}\n", "auto_renew", "commitments[0].auto_renew: unknown field (known: account, months, from, until, ended)"},
	} {
		_, _, err := rating.ParseFile(strings.NewReader(tc.file), "x.yaml")
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		var fe *rating.FileError
		if !errors.As(err, &fe) {
			t.Errorf("%s: %T %v", tc.name, err, err)
			continue
		}
		want := fmt.Sprintf("x.yaml:%d: %s", lineOf(t, tc.file, tc.marker), tc.want)
		if err.Error() != want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, err, want)
		}
	}
}

func TestParseFileDuplicateVersion(t *testing.T) {
	second := strings.TrimPrefix(strings.Replace(base, `"0.05"`, `"0.06"`, 1), "prices:\n")
	_, _, err := rating.ParseFile(strings.NewReader(base+second), "x.yaml")
	const want = "x.yaml:10: prices[1]: has the same key, currency and valid_from as prices[0] (line 2)"
	if err == nil || err.Error() != want || abacus.ErrorCodeOf(err) != abacus.CodeConflict {
		t.Errorf("got %v, want %s", err, want)
	}
	// Another time is another version.
	second = strings.Replace(second, "2026-01-01T00:00:00Z", "2026-02-01T00:00:00+01:00", 1)
	prices, _, err := rating.ParseFile(strings.NewReader(base+second), "x.yaml")
	if err != nil || len(prices) != 2 || !prices[1].ValidFrom.Equal(time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("two versions: %v %v", prices, err)
	}
}

func TestParseFileEmpty(t *testing.T) {
	for _, s := range []string{"", "  \n", "# nothing\n"} {
		_, _, err := rating.ParseFile(strings.NewReader(s), "x.yaml")
		if err == nil || err.Error() != "x.yaml: is empty: a price file is a mapping with prices and commitments" {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", " "} {
		if _, _, err := rating.ParseFile(strings.NewReader(s), "x.json"); err == nil {
			t.Errorf("empty JSON %q accepted", s)
		}
	}
	prices, commitments, err := rating.ParseFile(strings.NewReader("prices: []\n"), "x.yaml")
	if err != nil || len(prices) != 0 || len(commitments) != 0 {
		t.Errorf("no prices: %v %v %v", prices, commitments, err)
	}
}

const jsonFile = `{
  "prices": [
    {
      "sku_type": 1, "sku_kind": 1, "resource_id": "12", "sku_unit": 1,
      "sku_unit_type": "minute", "currency": "USD",
      "valid_from": "2026-01-01T00:00:00Z",
      "sku_price": 0.05
    }
  ]
}
`

func TestParseFileJSON(t *testing.T) {
	prices, _, err := rating.ParseFile(strings.NewReader(jsonFile), "prices.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(prices) != 1 || !prices[0].UnitPrice.Equal(d("0.05")) || prices[0].Model != abacus.ModelPerUnit {
		t.Fatalf("%+v", prices)
	}
	// JSON without an extension is sniffed, and a BOM before it, which
	// editors on Windows write, is read past.
	for _, name := range []string{"-", "prices.json"} {
		for _, body := range []string{jsonFile, "\ufeff" + jsonFile} {
			if _, _, err := rating.ParseFile(strings.NewReader(body), name); err != nil {
				t.Errorf("JSON named %s, %d bytes: %v", name, len(body), err)
			}
		}
	}
	replace := func(old, new string) string {
		if !strings.Contains(jsonFile, old) {
			panic(old)
		}
		return strings.Replace(jsonFile, old, new, 1)
	}
	for _, tc := range []struct {
		name   string
		file   string
		marker string
		want   string
	}{
		{"exponent", replace("0.05", "5e-2"), "5e-2", `prices[0].sku_price: "5e-2" is not a plain decimal number: write it without an exponent`},
		{"big exponent", replace("0.05", "1E3"), "1E3", `prices[0].sku_price: "1E3" is not a plain decimal number: write it without an exponent`},
		{"unknown field", replace(`"sku_kind": 1,`, `"sku_kind": 1, "skuPrice": 1,`), "skuPrice", "prices[0].skuPrice: unknown field (known: sku_type, sku_kind, resource_id, sku_unit, sku_unit_type, sku_price, sku_cached_price, currency, valid_from, model, tiers, package, levels, discounts, license, desc)"},
		{"missing field", replace(`"currency": "USD",`, ``), "{", "prices[0].currency: is required"},
		{"wrong type", replace(`"sku_unit": 1`, `"sku_unit": "one"`), "sku_unit", `prices[0].sku_unit: "one" is not an integer`},
		{"validation", replace(`"sku_unit": 1`, `"sku_unit": -1`), "sku_unit", "prices[0].sku_unit: -1 is not a number of base units (at least 1)"},
		{"duplicate key", replace(`"sku_unit": 1,`, `"sku_unit": 1, "sku_unit": 2,`), "sku_unit", "invalid YAML"}, // replaced below
		{"syntax", replace(`"sku_price": 0.05`, `"sku_price": 0.05,`), "}", "invalid JSON: invalid character '}' looking for beginning of object key string"},
		{"truncated", jsonFile[:40], "sku_type", "invalid JSON: unexpected end of file"},
		{"trailing data", jsonFile + "{}", "{}", "invalid JSON: unexpected { after the top-level value"},
		// encoding/json would read these as U+FFFD: a resource id that no
		// event could match (QA).
		{"not UTF-8", replace(`"sku_unit": 1`, "\"sku_unit\": 1, \"desc\": \"r\xff\""), "desc", "invalid JSON: a string holds bytes that are not UTF-8, or half of an escaped surrogate pair"},
		{"half a surrogate pair", replace(`"sku_unit": 1`, `"sku_unit": 1, "desc": "r\ud800"`), "desc", "invalid JSON: a string holds bytes that are not UTF-8, or half of an escaped surrogate pair"},
	} {
		if tc.name == "duplicate key" {
			tc.want = `the key "sku_unit" is given twice`
		}
		_, _, err := rating.ParseFile(strings.NewReader(tc.file), "p.json")
		line := lineOf(t, tc.file, tc.marker)
		if tc.name == "missing field" {
			line = 3 // the price's opening brace
		}
		if tc.name == "truncated" {
			line = 4
		}
		want := fmt.Sprintf("p.json:%d: %s", line, tc.want)
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, want)
		}
	}
}

// TestExampleFileRoundTrip: the example parses, makes a Book, and survives
// being written as JSON and YAML and read back.
func TestExampleFileRoundTrip(t *testing.T) {
	data, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prices, commitments, err := rating.ParseFile(bytes.NewReader(data), "example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	models := map[abacus.PriceModel]bool{}
	licences := map[string]bool{}
	cached := false
	for _, p := range prices {
		cached = cached || p.CachedPrice.Valid
		models[p.Model] = true
		if p.License != nil {
			licences[p.License.Type] = true
		}
	}
	if len(models) != 5 || !licences[rating.LicenseInstance] || !licences[rating.LicenseStub] || len(commitments) != 2 || !cached {
		t.Errorf("the example covers models %v, licences %v, %d commitments, a cached price %v", models, licences, len(commitments), cached)
	}
	if _, err := rating.NewBook(nil, prices, nil, commitments); err != nil {
		t.Fatalf("NewBook(nil, example): %v", err)
	}
	for _, name := range []string{"again.json", "again.yaml"} {
		var buf bytes.Buffer
		if err := rating.WriteFile(&buf, name, prices, commitments); err != nil {
			t.Fatal(err)
		}
		p2, c2, err := rating.ParseFile(bytes.NewReader(buf.Bytes()), name)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, buf.String())
		}
		if diff := diffPrices(prices, p2); diff != "" {
			t.Errorf("%s: %s", name, diff)
		}
		if len(c2) != len(commitments) {
			t.Fatalf("%s: %d commitments", name, len(c2))
		}
		for i := range c2 {
			a, b := commitments[i], c2[i]
			if a.Account != b.Account || a.Months != b.Months || !a.From.Equal(b.From) || !a.Until.Equal(b.Until) {
				t.Errorf("%s: commitment %d: %+v != %+v", name, i, a, b)
			}
		}
		// Writing what was read back gives the same bytes.
		var again bytes.Buffer
		if err := rating.WriteFile(&again, name, p2, c2); err != nil {
			t.Fatal(err)
		}
		if again.String() != buf.String() {
			t.Errorf("%s: a second round trip differs:\n%s\n---\n%s", name, buf.String(), again.String())
		}
	}
}

// TestExampleFileRates rates a few events against the example's book.
func TestExampleFileRates(t *testing.T) {
	f, err := os.Open("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	prices, commitments, err := rating.ParseFile(f, "example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 2, 10, 12, 0, 0, 0, time.UTC)
	b := mustBook(t, prices, []abacus.BurstLevel{{Resource: "cpu", Level: 3, EffectiveFrom: at.Add(-time.Hour)}}, commitments)
	usd, eur := newEngine(b, "USD"), newEngine(b, "EUR")
	wantCost := func(what string, r rating.Rating, want string) {
		t.Helper()
		if r.Unpriced {
			t.Errorf("%s: unpriced: %s", what, r.Reason)
		}
		wantCost(t, what, r.Cost, want)
	}
	ev := func(scene, vt int, res string, v int64, extra string) *abacus.UsageEvent {
		return &abacus.UsageEvent{ID: "x", Account: bob, Value: v, ValueType: vt, Scene: scene, ResourceID: res, Time: at, Extra: extra}
	}
	wantCost("space minutes", usd.rate(t, ev(11, 0, "12", 60, "")), "3")
	wantCost("tokens", usd.rate(t, ev(15, 1, "csghub://serverless/Qwen/Qwen2.5-7B-Instruct", 0, `{"prompt_token_num":"2000000","completion_token_num":"1000000"}`)), "2.1") // 0.5 + 0.4 + 1.2
	wantCost("GPU minutes, 3-month commitment", usd.rate(t, ev(10, 0, "77", 100, "")), "85.5")                                                                              // 90 × 0.95
	wantCost("repositories", usd.rate(t, ev(13, 2, "multisync", 101, "")), "10")
	cpu := ev(0, 0, "cpu", 4000*300, `{"sku_unit_type":"mhz_second"}`)
	wantCost("burst cpu, level 3, 3 % off", eur.rate(t, cpu), "0.0064343333333333333301") // 0.00663333333333333333 × 0.97
	r := eur.rate(t, ev(0, 0, "msft_p73_04837_core", 120, `{"running":false}`))
	wantCost("stopped Windows", r, "0")
	r = eur.rate(t, ev(0, 0, "msft_rds_user", 43200, `{"users":"3"}`))
	wantCost("RDS users", r, "12.6")
}

func diffPrices(a, b []abacus.Price) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d prices, want %d", len(b), len(a))
	}
	eq := func(x, y decimal.Decimal) bool { return x.Equal(y) }
	for i := range a {
		p, q := a[i], b[i]
		if p.SKUType != q.SKUType || p.SKUKind != q.SKUKind || p.ResourceID != q.ResourceID || p.UnitType != q.UnitType ||
			p.Currency != q.Currency || p.Unit != q.Unit || p.Model != q.Model || !eq(p.UnitPrice, q.UnitPrice) ||
			p.CachedPrice.Valid != q.CachedPrice.Valid || !eq(p.CachedPrice.Decimal, q.CachedPrice.Decimal) ||
			p.Package != q.Package || p.Desc != q.Desc || !p.ValidFrom.Equal(q.ValidFrom) ||
			len(p.Tiers) != len(q.Tiers) || len(p.Levels) != len(q.Levels) || len(p.Discounts) != len(q.Discounts) ||
			(p.License == nil) != (q.License == nil) {
			return fmt.Sprintf("price %d: %+v != %+v", i, p, q)
		}
		for j := range p.Tiers {
			if p.Tiers[j].UpTo != q.Tiers[j].UpTo || !eq(p.Tiers[j].UnitPrice, q.Tiers[j].UnitPrice) || !eq(p.Tiers[j].FlatFee, q.Tiers[j].FlatFee) {
				return fmt.Sprintf("price %d tier %d", i, j)
			}
		}
		for j := range p.Levels {
			if p.Levels[j].Level != q.Levels[j].Level || !eq(p.Levels[j].UnitPrice, q.Levels[j].UnitPrice) {
				return fmt.Sprintf("price %d level %d", i, j)
			}
		}
		for j := range p.Discounts {
			if p.Discounts[j].Months != q.Discounts[j].Months || !eq(p.Discounts[j].Fraction, q.Discounts[j].Fraction) {
				return fmt.Sprintf("price %d discount %d", i, j)
			}
		}
		if p.License != nil && *p.License != *q.License {
			return fmt.Sprintf("price %d licence %+v != %+v", i, *p.License, *q.License)
		}
	}
	return ""
}

// TestFileWarnsOfUnitTypesNoSceneGives: a sku_unit_type that is not lower
// case, or has spaces around it, or that no scene gives ("day"), matches
// no event whose unit type comes from its scene (QA: its usage stayed
// unpriced without a word). It is a warning, by line, not an error: an
// event may name it in its extra, and a book holding one must still
// import.
func TestFileWarnsOfUnitTypesNoSceneGives(t *testing.T) {
	file := strings.Replace(base, "sku_unit_type: minute", "sku_unit_type: Minute", 1) +
		strings.Replace(strings.Replace(strings.TrimPrefix(base, "prices:\n"), "sku_unit_type: minute", `sku_unit_type: "minute "`, 1), "resource_id: \"12\"", "resource_id: \"13\"", 1) +
		strings.Replace(strings.Replace(strings.TrimPrefix(base, "prices:\n"), "sku_unit_type: minute", `sku_unit_type: day`, 1), "resource_id: \"12\"", "resource_id: \"14\"", 1)
	f, err := rating.ReadFile(strings.NewReader(file), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := f.WarningsFor(f.Prices)
	want := []string{
		fmt.Sprintf(`p.yaml:%d: prices[0].sku_unit_type: "Minute" is not "minute", which events' unit types from their scenes are: only events that name it in extra.sku_unit_type will match it`, lineOf(t, file, "Minute")),
		fmt.Sprintf(`p.yaml:%d: prices[1].sku_unit_type: "minute " is not "minute", which events' unit types from their scenes are: only events that name it in extra.sku_unit_type will match it`, lineOf(t, file, `"minute "`)),
		fmt.Sprintf(`p.yaml:%d: prices[2].sku_unit_type: "day" is a unit type no scene gives (they give minute, token, count, repository): only events that name it in extra.sku_unit_type will match it`, lineOf(t, file, "sku_unit_type: day")),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("warnings:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := f.WarningsFor(f.Prices[1:2]); len(got) != 1 || got[0] != want[1] {
		t.Fatalf("the second price's alone: %q", got)
	}
	if got := f.WarningsFor(nil); len(got) != 0 {
		t.Fatalf("none added: %q", got)
	}
}

// TestFileWarnsOfPricesFewEventsMatch: a resource_id with spaces at an
// end, and a burst price without level 1 (every resource's level before
// its first cycle), import with a warning by line: their events had
// stayed unpriced without a word (QA).
func TestFileWarnsOfPricesFewEventsMatch(t *testing.T) {
	spaced := strings.Replace(base, `resource_id: "12"`, `resource_id: " 12"`, 1)
	burst := strings.Replace(strings.Replace(strings.TrimPrefix(base, "prices:\n"), `    sku_price: "0.05"`, "    model: burst\n    levels:\n      - {level: 0, price: \"1\"}\n      - {level: 2, price: \"2\"}", 1), `resource_id: "12"`, `resource_id: "13"`, 1)
	file := spaced + burst
	f, err := rating.ReadFile(strings.NewReader(file), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf(`p.yaml:%d: prices[0].resource_id: " 12" has spaces at an end: only events whose resource_id has them too will match it`, lineOf(t, file, `" 12"`)),
		fmt.Sprintf(`p.yaml:%d: prices[1].levels: lists no level 1, the level of a resource before its first burst cycle: its events will be unpriced until a cycle sets a level it lists`, lineOf(t, file, "levels:")),
	}
	if got := f.WarningsFor(f.Prices); !slices.Equal(got, want) {
		t.Fatalf("warnings:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	decomposed := strings.Replace(base, `resource_id: "12"`, `resource_id: "cafe\u0301"`, 1)
	f, err = rating.ReadFile(strings.NewReader(decomposed), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.WarningsFor(f.Prices), fmt.Sprintf("p.yaml:%d: prices[0].resource_id: \"cafe\\u0301\" is not in Unicode normalization form C (NFC), as the keys of events coming in must be: no new event will match it; write it composed", lineOf(t, decomposed, "cafe")); len(got) != 1 || got[0] != want {
		t.Fatalf("a key not composed: %q\nwant %q", got, want)
	}
	withOne, err := rating.ReadFile(strings.NewReader(strings.Replace(file, "level: 2", "level: 1", 1)), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := withOne.WarningsFor(withOne.Prices[1:]); len(got) != 0 {
		t.Fatalf("a burst price with level 1: %q", got)
	}
}

// TestFileStubMetricOnlyForStubs: only a stub licence counts under its
// user_metric, so only a stub's may not be a key abacus reads (QA: an
// instance licence naming running was refused).
func TestFileStubMetricOnlyForStubs(t *testing.T) {
	file := base + "    license: {name: w, type: instance, user_metric: running, burstable: true}\n"
	if _, err := rating.ReadFile(strings.NewReader(file), "p.yaml"); err != nil {
		t.Fatal(err)
	}
	// A stub's metric with spaces, or a character that does not show, is
	// warned of; a file holding one stored before still imports (QA).
	for metric, want := range map[string]string{
		`"seats "`:      `"seats " has spaces at an end`,
		`"  "`:          `"  " is only spaces`,
		`"seats\u200b"`: `"seats\u200b" holds a character that does not show`,
	} {
		file = base + "    license: {name: w, type: stub, user_metric: " + metric + ", burstable: true}\n"
		f, err := rating.ReadFile(strings.NewReader(file), "p.yaml")
		if err != nil {
			t.Fatal(err)
		}
		want = fmt.Sprintf("p.yaml:%d: prices[0].license.user_metric: %s: only events whose extra names the count so will be charged; the others are refused", lineOf(t, file, "license:"), want)
		if got := f.WarningsFor(f.Prices); len(got) != 1 || got[0] != want {
			t.Errorf("warnings %q, want %q", got, want)
		}
	}
}

// TestFileWarnsOfPricesFinerThanCosts: a price with more decimal places
// than an event's cost keeps is valid, but rounded away in each event; a
// warning says so by line (QA: a price of 10⁻²² charged nothing, unsaid).
// Trailing zeros past them lose nothing and are not warned of.
func TestFileWarnsOfPricesFinerThanCosts(t *testing.T) {
	file := strings.Replace(base, `sku_price: "0.05"`, `sku_price: "0.0000000000000000000001"`, 1) +
		strings.Replace(strings.Replace(strings.TrimPrefix(base, "prices:\n"), `sku_price: "0.05"`, `sku_price: "0.0500000000000000000000000"`, 1), `resource_id: "12"`, `resource_id: "13"`, 1)
	f, err := rating.ReadFile(strings.NewReader(file), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf(`p.yaml:%d: prices[0].sku_price: 0.0000000000000000000001 has more than 20 decimal places; an event's cost is exact to 20, so each event's cost is rounded there`,
		lineOf(t, file, "0.0000000000000000000001"))}
	if got := f.WarningsFor(f.Prices); !slices.Equal(got, want) {
		t.Fatalf("warnings:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCommitmentTerms: a commitment's until is its months after from: at
// a month's last day where the later month is shorter, an hour off across
// a clock change, or a day short where written as the last day in. One
// whose span is not its months is refused naming until (QA: 36 months
// ending after one earned 36 months' discounts).
func TestCommitmentTerms(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		months      int
		from, until string
		refused     string // the field, or "" for none
	}{
		{1, "2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z", ""},
		{1, "2028-01-31T00:00:00Z", "2028-02-29T00:00:00Z", ""},
		{3, "2026-02-01T00:00:00+01:00", "2026-05-01T00:00:00+02:00", ""},
		{12, "2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z", ""},
		{12, "2026-01-01T00:00:00Z", "2026-12-31T23:59:59Z", ""},
		{36, "2026-11-15T08:00:00+08:00", "2029-11-15T08:00:00+08:00", ""},
		{1200, "2026-01-01T00:00:00Z", "2126-01-01T00:00:00Z", ""},
		{36, "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", "commitments[0].until"},
		{1, "2026-02-01T00:00:00Z", "2026-02-26T00:00:00Z", "commitments[0].until"},
		{12, "2026-01-01T00:00:00Z", "2027-03-01T00:00:00Z", "commitments[0].until"},
		{1201, "2026-01-01T00:00:00Z", "2126-02-01T00:00:00Z", "commitments[0].months"},
	} {
		err := rating.CheckCommitmentTerms([]abacus.Commitment{{Account: "6f1c2a4e-8d3b-4c1a-9e2f-1a2b3c4d5e6f", Months: c.months, From: at(c.from), Until: at(c.until)}}, nil)
		var ae *abacus.Error
		switch {
		case c.refused == "" && err != nil:
			t.Errorf("%d months from %s until %s: %v", c.months, c.from, c.until, err)
		case c.refused != "" && (!errors.As(err, &ae) || ae.Field != c.refused):
			t.Errorf("%d months from %s until %s: %v, want %s refused", c.months, c.from, c.until, err, c.refused)
		}
	}
	err := rating.CheckCommitmentTerms([]abacus.Commitment{{Months: 1, From: at("2026-11-01T00:00:00Z"), Until: at("2026-11-05T00:00:00Z")}}, nil)
	if want := "commitments[0].until: 2026-11-05T00:00:00Z is not 1 month after from (2026-11-01T00:00:00Z), as months says: a commitment runs for its term; give until 2026-12-01T00:00:00Z, or the months from and until span"; err == nil || err.Error() != want {
		t.Errorf("the refusal: %v\nwant %s", err, want)
	}
}
