package decode_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/metering/decode"
)

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestCSGHubJSONMapsEveryField(t *testing.T) {
	items, err := decode.CSGHubJSON([]byte(csghub("6F1C2E3D-0000-4000-8000-00000000000A")))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 {
		t.Fatalf("%d items", len(items))
	}
	it := items[0]
	checkItem(t, it)
	if it.Err != nil {
		t.Fatal(it.Err)
	}
	want := abacus.UsageEvent{
		ID:           "6f1c2e3d-0000-4000-8000-00000000000a",
		Account:      acct,
		Value:        12,
		ValueType:    0,
		Scene:        11,
		OpUID:        "deployer",
		ResourceID:   "12",
		ResourceName: "CPU basic",
		CustomerID:   "u-user-space-1",
		Time:         mustTime("2026-08-18T02:00:00Z"),
		Extra:        `{"from_source":"space"}`,
	}
	if it.Event != want {
		t.Fatalf("got  %+v\nwant %+v", it.Event, want)
	}
	if it.ID != want.ID || it.Line != 0 {
		t.Fatalf("ID %q line %d", it.ID, it.Line)
	}
}

type csghubCase struct {
	name  string
	mods  []string
	field string                              // the field the error names; "" for a good event
	check func(*testing.T, abacus.UsageEvent) // for a good event
	msg   string                              // a part of the error message
}

func value(n int64) func(*testing.T, abacus.UsageEvent) {
	return func(t *testing.T, ev abacus.UsageEvent) {
		if ev.Value != n {
			t.Fatalf("value %d, want %d", ev.Value, n)
		}
	}
}

func at(s string) func(*testing.T, abacus.UsageEvent) {
	return func(t *testing.T, ev abacus.UsageEvent) {
		if want := mustTime(s); !ev.Time.Equal(want) || ev.Time.Location() != time.UTC {
			t.Fatalf("time %v, want %v in UTC", ev.Time, want)
		}
	}
}

func extra(s string) func(*testing.T, abacus.UsageEvent) {
	return func(t *testing.T, ev abacus.UsageEvent) {
		if ev.Extra != s {
			t.Fatalf("extra %q, want %q", ev.Extra, s)
		}
	}
}

var csghubCases = []csghubCase{
	// good events
	{name: "plain", check: value(12)},
	{name: "value zero", mods: []string{"value=0"}, check: value(0)},
	{name: "value as string", mods: []string{`value="12"`}, check: value(12)},
	{name: "value max int64", mods: []string{"value=9223372036854775807"}, check: value(9223372036854775807)},
	{name: "value max int64 as string", mods: []string{`value="9223372036854775807"`}, check: value(9223372036854775807)},
	{name: "value minus zero", mods: []string{"value=-0"}, check: value(0)},
	{name: "tokens", mods: []string{"value_type=1", "scene=15"}, check: func(t *testing.T, ev abacus.UsageEvent) {
		if ev.ValueType != 1 || ev.Scene != 15 {
			t.Fatalf("%+v", ev)
		}
	}},
	{name: "offset +05:45", mods: []string{`created_at="2026-08-18T10:00:00+05:45"`}, check: at("2026-08-18T04:15:00Z")},
	{name: "offset -03:30", mods: []string{`created_at="2026-08-18T22:00:00-03:30"`}, check: at("2026-08-19T01:30:00Z")},
	{name: "offset -00:00", mods: []string{`created_at="2026-08-18T22:00:00-00:00"`}, check: at("2026-08-18T22:00:00Z")},
	{name: "time Z", mods: []string{`created_at="2026-08-18T10:00:00Z"`}, check: at("2026-08-18T10:00:00Z")},
	{name: "time fraction", mods: []string{`created_at="2026-08-18T10:00:00.5+01:00"`}, check: at("2026-08-18T09:00:00.5Z")},
	{name: "time nanoseconds kept to microseconds", mods: []string{`created_at="2026-08-18T10:00:00.123456789Z"`}, check: at("2026-08-18T10:00:00.123456Z")},
	{name: "time long fraction", mods: []string{`created_at="2026-08-18T10:00:00.1234567891234Z"`}, check: at("2026-08-18T10:00:00.123456Z")},
	{name: "time lower case t and z", mods: []string{`created_at="2026-08-18t10:00:00z"`}, check: at("2026-08-18T10:00:00Z")},
	{name: "time space separator with offset", mods: []string{`created_at="2026-08-18 10:00:00+08:00"`}, check: at("2026-08-18T02:00:00Z")},
	{name: "extra as string kept verbatim", mods: []string{`extra="{ \"prompt_token_num\": \"10\" }"`}, check: extra(`{ "prompt_token_num": "10" }`)},
	{name: "extra as object compacted", mods: []string{`extra={ "prompt_token_num" : "10", "n": [1, 2] }`}, check: extra(`{"prompt_token_num":"10","n":[1,2]}`)},
	{name: "extra empty string", mods: []string{`extra=""`}, check: extra("")},
	{name: "extra null", mods: []string{`extra=null`}, check: extra("")},
	{name: "extra the string null", mods: []string{`extra="null"`}, check: extra("")}, // a nil map marshalled, as Go producers send it
	{name: "extra half a surrogate pair", mods: []string{`extra={"sku_unit_type":"\ud800"}`}, field: "extra", msg: "surrogate"},
	{name: "extra as a string, half a surrogate pair", mods: []string{`extra="{\"sku_unit_type\":\"\\ud800\"}"`}, field: "extra", msg: "surrogate"},
	{name: "extra blank", mods: []string{`extra=" "`}, check: extra("")},
	{name: "extra missing", mods: []string{`-extra`}, check: extra("")},
	{name: "optional text missing or null", mods: []string{"-op_uid", "resource_id=null", "-resource_name", "customer_id=null"}, check: func(t *testing.T, ev abacus.UsageEvent) {
		if ev.OpUID != "" || ev.ResourceID != "" || ev.ResourceName != "" || ev.CustomerID != "" {
			t.Fatalf("%+v", ev)
		}
	}},
	{name: "unknown fields ignored", mods: []string{`new_field={"a":[1,2,{"b":null}]}`, `values="x"`, `ops_id=5`}, check: value(12)},
	{name: "field in another case", mods: []string{`VALUE=1000`}, field: "VALUE", msg: "value spelled in another case"},
	{name: "field only in another case", mods: []string{"-resource_id", `Resource_ID="gpu"`}, field: "Resource_ID", msg: "resource_id spelled"},
	{name: "upper case account", mods: []string{`user_uuid="` + strings.ToUpper(acct) + `"`}, check: func(t *testing.T, ev abacus.UsageEvent) {
		if ev.Account != acct {
			t.Fatalf("account %q", ev.Account)
		}
	}},

	// value
	{name: "value fraction", mods: []string{"value=1.5"}, field: "value", msg: "fraction"},
	{name: "value point zero", mods: []string{"value=1.0"}, field: "value", msg: "decimal point"},
	{name: "value exponent", mods: []string{"value=1e3"}, field: "value", msg: "exponent"},
	{name: "value exponent upper", mods: []string{"value=12E+2"}, field: "value", msg: "exponent"},
	{name: "value fraction and exponent", mods: []string{"value=1.5e-3"}, field: "value", msg: "exponent"},
	{name: "value overflow", mods: []string{"value=9223372036854775808"}, field: "value", msg: "64-bit"},
	{name: "value huge", mods: []string{"value=" + strings.Repeat("9", 400)}, field: "value", msg: "64-bit"},
	{name: "value negative overflow", mods: []string{"value=-9223372036854775809"}, field: "value", msg: "64-bit"},
	{name: "value negative", mods: []string{"value=-1"}, field: "value", msg: "negative"},
	{name: "value string fraction", mods: []string{`value="12.5"`}, field: "value", msg: "fraction"},
	{name: "value string exponent", mods: []string{`value="1e2"`}, field: "value", msg: "exponent"},
	{name: "value string overflow", mods: []string{`value="99999999999999999999"`}, field: "value", msg: "64-bit"},
	{name: "value string words", mods: []string{`value="twelve"`}, field: "value", msg: "not a whole number"},
	{name: "value string spaces", mods: []string{`value=" 12"`}, field: "value"},
	{name: "value string plus", mods: []string{`value="+12"`}, field: "value"},
	{name: "value string empty", mods: []string{`value=""`}, field: "value"},
	{name: "value string hex", mods: []string{`value="0x10"`}, field: "value"},
	{name: "value bool", mods: []string{"value=true"}, field: "value", msg: "boolean"},
	{name: "value object", mods: []string{`value={"n":1}`}, field: "value", msg: "object"},
	{name: "value array", mods: []string{"value=[1]"}, field: "value", msg: "array"},
	{name: "value null", mods: []string{"value=null"}, field: "value", msg: "required"},
	{name: "value missing", mods: []string{"-value"}, field: "value", msg: "required"},
	{name: "value twice", mods: []string{`value=1,"value":2`}, field: "value", msg: "more than once"},

	// value_type and scene
	{name: "value_type out of range", mods: []string{"value_type=4"}, field: "value_type"},
	{name: "value_type negative", mods: []string{"value_type=-1"}, field: "value_type"},
	{name: "value_type string", mods: []string{`value_type="1"`}, field: "value_type", msg: "string"},
	{name: "value_type fraction", mods: []string{"value_type=1.5"}, field: "value_type", msg: "fraction"},
	{name: "value_type overflow", mods: []string{"value_type=4294967296"}, field: "value_type", msg: "32-bit"},
	{name: "value_type missing", mods: []string{"-value_type"}, field: "value_type", msg: "required"},
	{name: "scene out of range", mods: []string{"scene=1000"}, field: "scene"},
	{name: "scene negative", mods: []string{"scene=-5"}, field: "scene"},
	{name: "scene string", mods: []string{`scene="11"`}, field: "scene"},
	{name: "scene exponent", mods: []string{"scene=1e1"}, field: "scene", msg: "exponent"},
	{name: "scene missing", mods: []string{"-scene"}, field: "scene", msg: "required"},

	// ids
	{name: "uuid missing", mods: []string{"-uuid"}, field: "uuid", msg: "required"},
	{name: "uuid empty", mods: []string{`uuid=""`}, field: "uuid", msg: "required"},
	{name: "uuid number", mods: []string{`uuid=5`}, field: "uuid", msg: "number"},
	{name: "uuid with space", mods: []string{`uuid="a b"`}, field: "uuid"},
	{name: "uuid too long", mods: []string{`uuid="` + strings.Repeat("a", 256) + `"`}, field: "uuid"},
	{name: "uuid dot", mods: []string{`uuid="."`}, field: "uuid", msg: "voided"},
	{name: "uuid dot dot", mods: []string{`uuid=".."`}, field: "uuid", msg: "voided"},
	{name: "uuid with no-break space", mods: []string{`uuid="a\u00a0b"`}, field: "uuid", msg: "printable"},
	{name: "uuid with zero-width space", mods: []string{`uuid="a\u200bb"`}, field: "uuid", msg: "printable"},
	{name: "uuid with line separator", mods: []string{`uuid="a\u2028b"`}, field: "uuid", msg: "printable"},
	{name: "uuid with byte order mark", mods: []string{`uuid="\ufeffab"`}, field: "uuid", msg: "printable"},
	{name: "uuid with next line", mods: []string{`uuid="ab\u0085"`}, field: "uuid", msg: "printable"},
	{name: "uuid of dots and letters", mods: []string{`uuid="...a.b"`}, check: func(t *testing.T, ev abacus.UsageEvent) {
		if ev.ID != "...a.b" {
			t.Fatalf("id %q", ev.ID)
		}
	}},
	{name: "user_uuid missing", mods: []string{"-user_uuid"}, field: "user_uuid", msg: "required"},
	{name: "user_uuid not a uuid", mods: []string{`user_uuid="alice"`}, field: "user_uuid", msg: "UUID"},
	{name: "user_uuid system account", mods: []string{`user_uuid="00000000-0000-0000-0000-000000000001"`}, field: "user_uuid", msg: "system"},
	{name: "user_uuid object", mods: []string{`user_uuid={}`}, field: "user_uuid", msg: "object"},

	// text
	{name: "op_uid number", mods: []string{"op_uid=5"}, field: "op_uid"},
	{name: "resource_id object", mods: []string{`resource_id={"id":12}`}, field: "resource_id"},
	{name: "resource_id number", mods: []string{`resource_id=12`}, field: "resource_id"},
	{name: "resource_name bool", mods: []string{"resource_name=false"}, field: "resource_name"},
	{name: "customer_id array", mods: []string{`customer_id=["x"]`}, field: "customer_id"},
	{name: "resource_id too long", mods: []string{`resource_id="` + strings.Repeat("r", 1001) + `"`}, field: "resource_id"},
	{name: "op_uid NUL", mods: []string{`op_uid="a\u0000b"`}, field: "op_uid", msg: "NUL"},

	// created_at
	{name: "created_at missing", mods: []string{"-created_at"}, field: "created_at", msg: "required"},
	{name: "created_at null", mods: []string{"created_at=null"}, field: "created_at", msg: "required"},
	{name: "created_at empty", mods: []string{`created_at=""`}, field: "created_at"},
	{name: "created_at without offset", mods: []string{`created_at="2026-08-18 10:00:00"`}, field: "created_at", msg: "no UTC offset"},
	{name: "created_at T without offset", mods: []string{`created_at="2026-08-18T10:00:00.25"`}, field: "created_at", msg: "no UTC offset"},
	{name: "created_at date only", mods: []string{`created_at="2026-08-18"`}, field: "created_at", msg: "RFC 3339"},
	{name: "created_at unix number", mods: []string{`created_at=1786000000`}, field: "created_at", msg: "number"},
	{name: "created_at offset 24h", mods: []string{`created_at="2026-08-18T10:00:00+24:00"`}, field: "created_at", msg: "offset"},
	{name: "created_at offset without colon", mods: []string{`created_at="2026-08-18T10:00:00+0800"`}, field: "created_at"},
	{name: "created_at comma fraction", mods: []string{`created_at="2026-08-18T10:00:00,5Z"`}, field: "created_at"},
	{name: "created_at empty fraction", mods: []string{`created_at="2026-08-18T10:00:00.Z"`}, field: "created_at"},
	{name: "created_at Feb 30", mods: []string{`created_at="2026-02-30T10:00:00Z"`}, field: "created_at", msg: "day out of range"},
	{name: "created_at hour 25", mods: []string{`created_at="2026-08-18T25:00:00Z"`}, field: "created_at"},
	{name: "created_at leap second", mods: []string{`created_at="2026-12-31T23:59:60Z"`}, field: "created_at"},
	{name: "created_at year 1999", mods: []string{`created_at="1999-12-31T23:59:59Z"`}, field: "created_at", msg: "2000"},
	{name: "created_at the zero time", mods: []string{`created_at="0001-01-01T00:00:00Z"`}, field: "created_at", msg: "0001-01-01T00:00:00Z is not between the years 2000 and 9999"},
	{name: "created_at the zero time with an offset", mods: []string{`created_at="0001-01-01T08:00:00+08:00"`}, field: "created_at", msg: "0001-01-01T00:00:00Z is not between the years 2000 and 9999"},
	{name: "created_at a microsecond before 2000", mods: []string{`created_at="1999-12-31T23:59:59.999999Z"`}, field: "created_at", msg: "1999-12-31T23:59:59.999999Z is not between the years 2000 and 9999"},
	{name: "created_at 1999 in UTC", mods: []string{`created_at="2000-01-01T00:30:00+01:00"`}, field: "created_at", msg: "2000"},
	{name: "created_at year 10000 in UTC", mods: []string{`created_at="9999-12-31T23:30:00-01:00"`}, field: "created_at", msg: "9999"},
	{name: "created_at 2000 in UTC", mods: []string{`created_at="1999-12-31T23:30:00-01:00"`}, check: at("2000-01-01T00:30:00Z")},
	{name: "created_at trailing text", mods: []string{`created_at="2026-08-18T10:00:00Z junk"`}, field: "created_at"},

	// extra
	{name: "extra not JSON", mods: []string{`extra="from_source=space"`}, field: "extra", msg: "JSON object"},
	{name: "extra JSON array string", mods: []string{`extra="[1,2]"`}, field: "extra"},
	{name: "extra JSON string string", mods: []string{`extra="\"x\""`}, field: "extra"},
	{name: "extra number", mods: []string{"extra=5"}, field: "extra", msg: "number"},
	{name: "extra array", mods: []string{"extra=[]"}, field: "extra", msg: "array"},
	{name: "extra key twice", mods: []string{`extra={"prompt_token_num":5,"prompt_token_num":3}`}, field: "extra.prompt_token_num", msg: "more than once"},
	{name: "extra string key twice", mods: []string{`extra="{\"n\":1,\"\\u006e\":2}"`}, field: "extra.n", msg: "more than once"},
	{name: "extra too long", mods: []string{`extra="{\"k\":\"` + strings.Repeat("x", abacus.MaxEventExtra) + `\"}"`}, field: "extra", msg: "longer"},
	{name: "extra object too long", mods: []string{`extra={"k":"` + strings.Repeat("x", abacus.MaxEventExtra) + `"}`}, field: "extra", msg: "longer"},
}

func TestCSGHubJSONFields(t *testing.T) {
	for _, c := range csghubCases {
		t.Run(c.name, func(t *testing.T) {
			body := jsonArray(csghub("good-1"), csghub("case-id", c.mods...), csghub("good-2"))
			items, err := decode.CSGHubJSON([]byte(body))
			if err != nil {
				t.Fatalf("body error: %v", err)
			}
			if len(items) != 3 {
				t.Fatalf("%d items", len(items))
			}
			for _, it := range items {
				checkItem(t, it)
			}
			for i, id := range []string{"good-1", "", "good-2"} {
				if i == 1 {
					continue
				}
				if items[i].Err != nil || items[i].Event.ID != id {
					t.Fatalf("neighbour %d: %+v", i, items[i])
				}
			}
			checkCase(t, items[1], c.field, c.msg, c.check)
		})
	}
}

func checkCase(t *testing.T, it decode.Item, field, msg string, check func(*testing.T, abacus.UsageEvent)) {
	t.Helper()
	if field == "" {
		if it.Err != nil {
			t.Fatalf("unexpected error: %v", it.Err)
		}
		if check != nil {
			check(t, it.Event)
		}
		return
	}
	if it.Err == nil {
		t.Fatalf("no error; want one naming %s (event %+v)", field, it.Event)
	}
	if it.Err.Field != field {
		t.Fatalf("error names %q, want %q: %v", it.Err.Field, field, it.Err)
	}
	if it.Err.Code != abacus.CodeInvalid {
		t.Fatalf("code %q", it.Err.Code)
	}
	if !strings.Contains(it.Err.Message, msg) {
		t.Fatalf("message %q does not say %q", it.Err.Message, msg)
	}
	t.Logf("%v", it.Err)
}

func TestCSGHubJSONErrorsKeepID(t *testing.T) {
	items, err := decode.CSGHubJSON([]byte(jsonArray(
		csghub("A0000000-0000-4000-8000-000000000001", "value=1.5"),
		csghub("evt-2", "created_at=5"),
		csghub(strings.Repeat("x", 300)),
		csghub("x", "uuid=7"),
		csghub("first", `value=1,"uuid":"second"`),
		csghub("", `uuid=5,"uuid":"second"`),
		csghub("x", "uuid=null"),
		csghub(strings.Repeat("é", 200)),
		csghub("bad\xff"),
		csghub(""),
	)))
	if err != nil {
		t.Fatal(err)
	}
	// An id over 255 bytes is answered as its first bytes, cut on a
	// character and marked: bounded, and still the producer's to match.
	want := []string{"a0000000-0000-4000-8000-000000000001", "evt-2", strings.Repeat("x", 252) + "…", "7", "first", "5", "",
		strings.Repeat("é", 126) + "…", "bad\ufffd", ""}
	fields := []string{"value", "created_at", "uuid", "uuid", "uuid", "uuid", "uuid", "uuid", "uuid", "uuid"}
	for i, it := range items {
		if it.Err == nil || it.ID != want[i] || it.Err.Field != fields[i] {
			t.Fatalf("item %d: ID %q, want %q (%v), naming %s", i, it.ID, want[i], it.Err, fields[i])
		}
		if len(it.ID) > abacus.MaxEventIDLength {
			t.Fatalf("item %d: ID of %d bytes", i, len(it.ID))
		}
	}
}

// TestCloudEventErrorsKeepID: a CloudEvent rejected for its id still
// names it by it: an id given twice by the first, one too long by a
// marked prefix.
func TestCloudEventErrorsKeepID(t *testing.T) {
	items, err := decode.CloudEventsBatch([]byte(jsonArray(
		cloudEvent("ce-1", []string{`source="/a","id":"ce-1b"`}),
		cloudEvent(strings.Repeat("y", 1000), nil),
		cloudEvent("x", []string{"id=42"}),
		cloudEvent("ce-4", []string{`specversion="1.0","specversion":"1.0"`}),
	)))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ce-1", strings.Repeat("y", 252) + "…", "42", "ce-4"}
	fields := []string{"id", "id", "id", "specversion"}
	for i, it := range items {
		checkItem(t, it)
		if it.Err == nil || it.ID != want[i] || it.Err.Field != fields[i] {
			t.Fatalf("item %d: ID %q, want %q (%v), naming %s", i, it.ID, want[i], it.Err, fields[i])
		}
	}
}

// TestCSGHubEventAsCloudEventKeepsUUID: a CSGHub event in a CloudEvents
// batch, or with a stray specversion in an array, is refused by its uuid
// (QA: answered with an empty one, its producer could match it only by
// place).
func TestCSGHubEventAsCloudEventKeepsUUID(t *testing.T) {
	csghub := `{"uuid":"u-1","user_uuid":"` + acct + `","value":1,"value_type":0,"scene":1}`
	stray := `{"uuid":"u-2","specversion":"1.0","user_uuid":"` + acct + `","value":1,"value_type":0,"scene":1}`
	batch, err := decode.CloudEventsBatch([]byte("[" + csghub + "]"))
	if err != nil {
		t.Fatal(err)
	}
	auto, err := decode.ForContentType(decode.ContentTypeJSON)
	if err != nil {
		t.Fatal(err)
	}
	array, err := auto([]byte("["+stray+"]"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range []decode.Item{batch[0], array[0]} {
		checkItem(t, it)
		if want := fmt.Sprintf("u-%d", i+1); it.Err == nil || it.ID != want {
			t.Fatalf("item %d: ID %q (%v), want %q and an error", i, it.ID, it.Err, want)
		}
	}
}

func TestCSGHubJSONSingleObjectAndBody(t *testing.T) {
	items, err := decode.CSGHubJSON([]byte("\ufeff \n" + csghub("one") + "\n"))
	if err != nil || len(items) != 1 || items[0].Err != nil {
		t.Fatalf("%+v %v", items, err)
	}
	items, err = decode.CSGHubJSON([]byte("[]"))
	if err != nil || len(items) != 0 {
		t.Fatalf("empty array: %+v %v", items, err)
	}
	for _, body := range []string{"", "  ", "42", `"x"`, "null", "true", "{", `[{"uuid":"a"},`, "not json", csghub("a") + csghub("b"), "[] []", "{} x"} {
		items, err := decode.CSGHubJSON([]byte(body))
		var ae *abacus.Error
		if !errors.As(err, &ae) || ae.Field != "body" || items != nil {
			t.Fatalf("body %q: items %v, err %v", body, items, err)
		}
	}
	// An element that is not an object is an item error naming its index.
	items, err = decode.CSGHubJSON([]byte(jsonArray(csghub("a"), "42", `"s"`, "null", "[]", csghub("b"))))
	if err != nil || len(items) != 6 {
		t.Fatalf("%v %v", items, err)
	}
	for i, f := range []string{"", "[1]", "[2]", "[3]", "[4]", ""} {
		checkItem(t, items[i])
		got := ""
		if items[i].Err != nil {
			got = items[i].Err.Field
		}
		if got != f {
			t.Fatalf("item %d: field %q, want %q", i, got, f)
		}
	}
}

type ceCase struct {
	name     string
	mods     []string
	dataMods []string
	field    string
	msg      string
	check    func(*testing.T, abacus.UsageEvent)
}

var ceCases = []ceCase{
	{name: "plain", check: func(t *testing.T, ev abacus.UsageEvent) {
		want := abacus.UsageEvent{ID: "ce-id", Account: acct, Value: 7, ValueType: 1, Scene: 15, OpUID: "aigateway",
			ResourceID: "csghub://model-x", ResourceName: "Model X", CustomerID: "model-x",
			Time: mustTime("2026-08-18T10:00:00Z"), Extra: `{"prompt_token_num":"10"}`}
		if ev != want {
			t.Fatalf("got  %+v\nwant %+v", ev, want)
		}
	}},
	{name: "time offset", mods: []string{`time="2026-08-18T10:00:00+05:45"`}, check: at("2026-08-18T04:15:00Z")},
	{name: "no datacontenttype", mods: []string{"-datacontenttype"}, check: value(7)},
	{name: "datacontenttype with charset", mods: []string{`datacontenttype="application/json; charset=utf-8"`}, check: value(7)},
	{name: "extensions ignored", mods: []string{`traceparent="00-abc"`, `dataschema="https://x/y"`, `myext=5`}, check: value(7)},
	{name: "value as string", dataMods: []string{`value="7"`}, check: value(7)},
	{name: "extra object", dataMods: []string{`extra={"a": "b"}`}, check: extra(`{"a":"b"}`)},
	{name: "data repeats the attributes", dataMods: []string{`uuid="ce-id"`, `user_uuid="` + strings.ToUpper(acct) + `"`, `created_at="2026-08-18T18:00:00+08:00"`}, check: value(7)},
	{name: "subject from data", mods: []string{"-subject"}, dataMods: []string{`user_uuid="` + acct2 + `"`}, check: func(t *testing.T, ev abacus.UsageEvent) {
		if ev.Account != acct2 {
			t.Fatalf("account %q", ev.Account)
		}
	}},
	{name: "time from data", mods: []string{"-time"}, dataMods: []string{`created_at="2026-08-18T10:00:00+05:45"`}, check: at("2026-08-18T04:15:00Z")},
	{name: "unknown data fields ignored", dataMods: []string{`model="x"`, `tokens={"in":1}`}, check: value(7)},
	{name: "data field in another case", dataMods: []string{`Value=1000`}, field: "data.Value", msg: "value spelled in another case"},

	{name: "specversion missing", mods: []string{"-specversion"}, field: "specversion", msg: "required"},
	{name: "specversion 0.3", mods: []string{`specversion="0.3"`}, field: "specversion", msg: "1.0"},
	{name: "specversion 1", mods: []string{`specversion="1"`}, field: "specversion"},
	{name: "specversion number", mods: []string{`specversion=1.0`}, field: "specversion", msg: "number"},
	{name: "id missing", mods: []string{"-id"}, field: "id", msg: "required"},
	{name: "id empty", mods: []string{`id=""`}, field: "id", msg: "required"},
	{name: "id number", mods: []string{`id=5`}, field: "id", msg: "number"},
	{name: "id with space", mods: []string{`id="a b"`}, field: "id"},
	{name: "id dot", mods: []string{`id="."`}, field: "id", msg: "voided"},
	{name: "id dot dot", mods: []string{`id=".."`}, field: "id", msg: "voided"},
	{name: "id with zero-width space", mods: []string{`id="a\u200bb"`}, field: "id", msg: "printable"},
	{name: "source missing", mods: []string{"-source"}, field: "source"},
	{name: "source number", mods: []string{"source=1"}, field: "source"},
	{name: "type missing", mods: []string{"-type"}, field: "type"},
	{name: "type empty", mods: []string{`type=""`}, field: "type"},
	{name: "subject missing", mods: []string{"-subject"}, field: "subject", msg: "required"},
	// Attributes in another case, which encoding/json would read as the
	// attribute (QA: "Subject" named another account, "Data" another value).
	{name: "Subject beside subject", mods: []string{`Subject="` + acct2 + `"`}, field: "Subject", msg: "subject spelled in another case"},
	{name: "Subject alone", mods: []string{"-subject", `Subject="` + acct + `"`}, field: "Subject", msg: "subject spelled"},
	{name: "ID beside id", mods: []string{`ID="other"`}, field: "ID", msg: "id spelled"},
	{name: "Time beside time", mods: []string{`Time="2026-11-29T10:00:00Z"`}, field: "Time", msg: "time spelled"},
	{name: "Data beside data", mods: []string{`Data={"value":3000}`}, field: "Data", msg: "data spelled"},
	{name: "DataContentType", mods: []string{`DataContentType="text/plain"`}, field: "DataContentType", msg: "datacontenttype spelled"},
	// CSGHub fields beside the attributes, which would be ignored (QA).
	{name: "value beside the attributes", mods: []string{`value=500`}, field: "value", msg: "a CSGHub field beside the CloudEvent's attributes"},
	{name: "user_uuid beside the attributes", mods: []string{`user_uuid="` + acct2 + `"`}, field: "user_uuid", msg: "carries usage in data"},
	{name: "uuid beside the attributes", mods: []string{`uuid="other"`}, field: "uuid", msg: "CSGHub field"},
	{name: "Value beside the attributes", mods: []string{`Value=3`}, field: "Value", msg: "CSGHub field"},
	{name: "subject not a uuid", mods: []string{`subject="alice"`}, field: "subject", msg: "UUID"},
	{name: "subject number", mods: []string{`subject=1`}, field: "subject"},
	{name: "time missing", mods: []string{"-time"}, field: "time", msg: "required"},
	{name: "time the zero time", mods: []string{`time="0001-01-01T00:00:00Z"`}, field: "time", msg: "is not between the years 2000 and 9999"},
	{name: "data.created_at the zero time without time", mods: []string{"-time"}, dataMods: []string{`created_at="0001-01-01T00:00:00Z"`}, field: "data.created_at", msg: "is not between the years 2000 and 9999"},
	{name: "time without offset", mods: []string{`time="2026-08-18T10:00:00"`}, field: "time", msg: "offset"},
	{name: "time number", mods: []string{`time=1786000000`}, field: "time"},
	{name: "datacontenttype text", mods: []string{`datacontenttype="text/plain"`}, field: "datacontenttype"},
	{name: "datacontenttype xml", mods: []string{`datacontenttype="application/xml"`}, field: "datacontenttype"},
	{name: "datacontenttype not UTF-8", mods: []string{`datacontenttype="application/json; charset=latin1"`}, field: "datacontenttype", msg: "in UTF-8"},
	{name: "data_base64", mods: []string{"-data", `data_base64="eyJ2YWx1ZSI6MX0="`}, field: "data_base64", msg: "not supported"},
	{name: "data_base64 beside data", mods: []string{`data_base64=""`}, field: "data_base64"},
	{name: "data missing", mods: []string{"-data"}, field: "data", msg: "required"},
	{name: "data null", mods: []string{"data=null"}, field: "data", msg: "required"},
	{name: "data string", mods: []string{`data="{\"value\":1}"`}, field: "data", msg: "string"},
	{name: "data array", mods: []string{`data=[]`}, field: "data", msg: "array"},
	{name: "data twice", mods: []string{`x=1,"data":{}`}, field: "data", msg: "more than once"},
	{name: "data.value fraction", dataMods: []string{"value=1.5"}, field: "data.value", msg: "fraction"},
	{name: "data.value exponent", dataMods: []string{"value=1E5"}, field: "data.value", msg: "exponent"},
	{name: "data.value overflow", dataMods: []string{"value=18446744073709551616"}, field: "data.value", msg: "64-bit"},
	{name: "data.value negative", dataMods: []string{"value=-3"}, field: "data.value", msg: "negative"},
	{name: "data.value missing", dataMods: []string{"-value"}, field: "data.value", msg: "required"},
	{name: "data.value twice", dataMods: []string{`value=1,"value":1`}, field: "data.value", msg: "more than once"},
	{name: "data.extra key twice", dataMods: []string{`extra={"running":true,"running":false}`}, field: "data.extra.running", msg: "more than once"},
	{name: "data.value_type string", dataMods: []string{`value_type="x"`}, field: "data.value_type"},
	{name: "data.value_type out of range", dataMods: []string{`value_type=9`}, field: "data.value_type"},
	{name: "data.scene out of range", dataMods: []string{`scene=5000`}, field: "data.scene"},
	{name: "data.resource_id number", dataMods: []string{`resource_id=5`}, field: "data.resource_id"},
	{name: "data.customer_id too long", dataMods: []string{`customer_id="` + strings.Repeat("c", 1001) + `"`}, field: "data.customer_id"},
	{name: "data.extra not an object", dataMods: []string{`extra="[]"`}, field: "data.extra"},
	{name: "data.extra number", dataMods: []string{`extra=1`}, field: "data.extra"},
	{name: "data.uuid mismatch", dataMods: []string{`uuid="other-id"`}, field: "data.uuid", msg: "does not match"},
	{name: "data.uuid number", dataMods: []string{`uuid=5`}, field: "data.uuid"},
	{name: "data.user_uuid mismatch", dataMods: []string{`user_uuid="` + acct2 + `"`}, field: "data.user_uuid", msg: "does not match"},
	{name: "data.created_at mismatch", dataMods: []string{`created_at="2026-08-18T10:00:01Z"`}, field: "data.created_at", msg: "does not match"},
	{name: "data.created_at bad", dataMods: []string{`created_at="yesterday"`}, field: "data.created_at"},
	{name: "data.user_uuid bad without subject", mods: []string{"-subject"}, dataMods: []string{`user_uuid="bob"`}, field: "data.user_uuid", msg: "UUID"},
	{name: "data.created_at bad without time", mods: []string{"-time"}, dataMods: []string{`created_at="1999-01-01T00:00:00Z"`}, field: "data.created_at", msg: "2000"},
}

func TestCloudEventsBatchFields(t *testing.T) {
	for _, c := range ceCases {
		t.Run(c.name, func(t *testing.T) {
			body := jsonArray(cloudEvent("good-1", nil), cloudEvent("ce-id", c.mods, c.dataMods...), cloudEvent("good-2", nil))
			items, err := decode.CloudEventsBatch([]byte(body))
			if err != nil {
				t.Fatalf("body error: %v", err)
			}
			if len(items) != 3 {
				t.Fatalf("%d items", len(items))
			}
			for _, it := range items {
				checkItem(t, it)
			}
			if items[0].Err != nil || items[2].Err != nil || items[0].ID != "good-1" || items[2].ID != "good-2" {
				t.Fatalf("neighbours: %+v / %+v", items[0], items[2])
			}
			checkCase(t, items[1], c.field, c.msg, c.check)
			if c.field != "" && c.field != "id" && items[1].ID != "ce-id" {
				t.Fatalf("error item ID %q", items[1].ID)
			}

			// The same event alone, in structured mode.
			one, err := decode.CloudEvent([]byte(cloudEvent("ce-id", c.mods, c.dataMods...)))
			if err != nil || len(one) != 1 {
				t.Fatalf("structured: %v %v", one, err)
			}
			checkItem(t, one[0])
			if !sameItem(one[0], items[1]) {
				t.Fatalf("structured %+v, batch %+v", one[0], items[1])
			}
		})
	}
}

func TestCloudEventBody(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func([]byte) ([]decode.Item, error)
		body string
	}{
		{"structured array", decode.CloudEvent, jsonArray(cloudEvent("a", nil))},
		{"structured number", decode.CloudEvent, "1"},
		{"structured broken", decode.CloudEvent, `{"specversion":"1.0"`},
		{"structured empty", decode.CloudEvent, ""},
		{"batch object", decode.CloudEventsBatch, cloudEvent("a", nil)},
		{"batch string", decode.CloudEventsBatch, `"x"`},
		{"batch broken", decode.CloudEventsBatch, `[` + cloudEvent("a", nil)},
	} {
		items, err := c.f([]byte(c.body))
		var ae *abacus.Error
		if !errors.As(err, &ae) || ae.Field != "body" || items != nil {
			t.Fatalf("%s: items %v err %v", c.name, items, err)
		}
	}
	items, err := decode.CloudEventsBatch([]byte(jsonArray(cloudEvent("a", nil), "7", csghub("b"))))
	if err != nil || len(items) != 3 {
		t.Fatal(items, err)
	}
	if items[0].Err != nil || items[1].Err == nil || items[1].Err.Field != "[1]" || items[2].Err == nil || items[2].Err.Field != "specversion" {
		t.Fatalf("%+v", items)
	}
	if items[2].ID != "b" { // a CSGHub event has no "id": its uuid names it
		t.Fatalf("ID %q", items[2].ID)
	}
}

func TestForContentType(t *testing.T) {
	csg := jsonArray(csghub("c1"), csghub("c2", "value=1.5"))
	ces := jsonArray(cloudEvent("e1", nil), cloudEvent("e2", nil, "value=1.5"))
	mixed := jsonArray(csghub("c1"), cloudEvent("e1", nil))
	for _, c := range []struct {
		ct, body string
		ids      []string
		fields   []string
	}{
		{"application/json", csg, []string{"c1", "c2"}, []string{"", "value"}},
		{"application/json; charset=UTF-8", csghub("c1"), []string{"c1"}, []string{""}},
		{"Application/JSON", ces, []string{"e1", "e2"}, []string{"", "data.value"}},
		{"application/json", cloudEvent("e1", nil), []string{"e1"}, []string{""}},
		{"application/json", mixed, []string{"c1", "e1"}, []string{"", ""}},
		{"application/json", cloudEvent("e1", []string{`specversion="0.3"`}), []string{"e1"}, []string{"specversion"}},
		{"application/cloudevents+json", cloudEvent("e1", nil), []string{"e1"}, []string{""}},
		{"application/cloudevents+json; charset=utf-8", cloudEvent("e1", nil), []string{"e1"}, []string{""}},
		{"application/cloudevents-batch+json", ces, []string{"e1", "e2"}, []string{"", "data.value"}},
		{"application/cloudevents-batch+json", jsonArray(csghub("c1")), []string{"c1"}, []string{"specversion"}},
	} {
		f, err := decode.ForContentType(c.ct)
		if err != nil {
			t.Fatalf("%s: %v", c.ct, err)
		}
		items, err := f([]byte(c.body), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.ct, err)
		}
		if len(items) != len(c.ids) {
			t.Fatalf("%s: %d items", c.ct, len(items))
		}
		for i, it := range items {
			checkItem(t, it)
			field := ""
			if it.Err != nil {
				field = it.Err.Field
			}
			if it.ID != c.ids[i] || field != c.fields[i] {
				t.Fatalf("%s item %d: ID %q field %q (%v)", c.ct, i, it.ID, field, it.Err)
			}
		}
	}
	f, _ := decode.ForContentType("application/cloudevents+json")
	if _, err := f([]byte(ces), nil); err == nil {
		t.Fatal("structured mode accepted an array")
	}
	// A type or charset not taken is unsupported; a header missing or
	// not a media type at all, invalid.
	for ct, code := range map[string]abacus.ErrorCode{"": abacus.CodeInvalid, "text/plain": abacus.CodeUnsupportedMedia, "application/xml": abacus.CodeUnsupportedMedia,
		"application/x-ndjson": abacus.CodeUnsupportedMedia, "text/csv": abacus.CodeUnsupportedMedia, "application/json; charset=latin1": abacus.CodeUnsupportedMedia,
		"application/": abacus.CodeInvalid, ";;": abacus.CodeInvalid} {
		f, err := decode.ForContentType(ct)
		var ae *abacus.Error
		if f != nil || !errors.As(err, &ae) || ae.Field != "Content-Type" || ae.Code != code {
			t.Fatalf("%q: %v %v, want %s", ct, f != nil, err, code)
		}
	}
}

// A value must never pass through float64: 2^53+1 is not representable
// as a float64 and must survive exactly.
func TestValueExactBeyondFloat(t *testing.T) {
	items, err := decode.CSGHubJSON([]byte(csghub("big", "value=9007199254740993")))
	if err != nil || items[0].Err != nil || items[0].Event.Value != 9007199254740993 {
		t.Fatalf("%+v %v", items, err)
	}
}

// TestArrayOfTooManyItems: a body of more than MaxItems items is refused
// as too large before any is decoded, however few bytes it takes.
func TestArrayOfTooManyItems(t *testing.T) {
	ones := func(n int) []byte { return []byte("[" + strings.Repeat("1,", n-1) + "1]") }
	items, err := decode.CSGHubJSON(ones(decode.MaxItems))
	if err != nil || len(items) != decode.MaxItems || items[0].Err == nil {
		t.Fatalf("%d items, %v: want each rejected on its own", len(items), err)
	}
	for _, dec := range []func([]byte) ([]decode.Item, error){decode.CSGHubJSON, decode.CloudEventsBatch} {
		items, err = dec(ones(decode.MaxItems + 1))
		var ae *abacus.Error
		if !errors.As(err, &ae) || ae.Code != abacus.CodeTooLarge || ae.Field != "body" || items != nil {
			t.Fatalf("%d items: %v", len(items), err)
		}
	}
}

// TestDecoderReservesBeforeDecoding: a Decoder tells reserve how many
// items the body holds before it decodes any, in every mode, and an error
// of reserve ends the call with nothing decoded: the HTTP endpoint waits
// there for memory for them.
func TestDecoderReservesBeforeDecoding(t *testing.T) {
	full := errors.New("no room")
	binary := map[string][]string{"ce-specversion": {"1.0"}, "ce-id": {"b1"}, "ce-source": {"s"}, "ce-type": {"t"},
		"ce-subject": {"f47ac10b-58cc-4372-a567-0e02b2c3d479"}, "ce-time": {"2026-08-18T10:00:00Z"}}
	for _, c := range []struct {
		name    string
		headers map[string][]string
		body    string
		items   int
	}{
		{"array", nil, jsonArray(csghub("r1"), csghub("r2"), "1"), 3},
		{"object", nil, csghub("r1"), 1},
		{"batch", map[string][]string{"Content-Type": {decode.ContentTypeCloudEventBatch}}, "[" + cloudEvent("c1", nil) + "]", 1},
		{"binary", binary, `{"value": 1, "value_type": 0, "scene": 1}`, 1},
	} {
		dec, err := decode.ForHeaders(c.headers, false)
		if err != nil {
			t.Fatal(err)
		}
		asked := -1
		items, err := dec([]byte(c.body), func(n int) error { asked = n; return nil })
		if err != nil || len(items) != c.items || asked != c.items {
			t.Fatalf("%s: %d items, reserved %d: %v", c.name, len(items), asked, err)
		}
		if items, err := dec([]byte(c.body), func(int) error { return full }); err != full || items != nil {
			t.Fatalf("%s, refused by reserve: %v %v", c.name, items, err)
		}
	}
	dec, _ := decode.ForHeaders(nil, false)
	for _, body := range []string{"[1,", "[" + strings.Repeat("1,", decode.MaxItems) + "1]"} {
		if _, err := dec([]byte(body), func(int) error { t.Fatalf("%.10s…: reserve asked for a body refused whole", body); return nil }); err == nil {
			t.Fatalf("%.10s…: no error", body)
		}
	}
}

// TestWireFieldKeepsSubfields: an error about a part of a field (from
// rating an event's extra) is named in the item's own format.
func TestWireFieldKeepsSubfields(t *testing.T) {
	items, err := decode.CloudEventsBatch([]byte(jsonArray(cloudEvent("ce-1", nil))))
	if err != nil || len(items) != 1 {
		t.Fatalf("%+v %v", items, err)
	}
	for field, want := range map[string]string{
		"extra.prompt_token_num": "data.extra.prompt_token_num",
		"extra":                  "data.extra",
		"created_at":             "time",
		"extras":                 "extras",
		"amount":                 "amount",
	} {
		if got := items[0].WireField(field); got != want {
			t.Errorf("%s: %s, want %s", field, got, want)
		}
	}
}

// TestDeepItemFailsAlone: an event nested deeper than encoding/json goes,
// anywhere in it, is an error of that item, and the rest of the batch
// decodes (QA: one made the whole batch "not valid JSON"). A body that is
// not well formed at that depth is still refused whole.
func TestDeepItemFailsAlone(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 20_000) + "1" + strings.Repeat("}", 20_000)
	for _, c := range []struct {
		name, elem, field string
	}{
		{"event", strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000), "[1]"},
		{"extra", csghub("deep", "extra="+deep), "extra"},
		{"value", csghub("deep", "value="+deep), "value"},
	} {
		items, err := decode.CSGHubJSON([]byte(jsonArray(csghub("a"), c.elem, csghub("b"))))
		if err != nil || len(items) != 3 {
			t.Fatalf("%s: %d items, %v", c.name, len(items), err)
		}
		for i, want := range []string{"", c.field, ""} {
			checkItem(t, items[i])
			got := ""
			if items[i].Err != nil {
				got = items[i].Err.Field
			}
			if got != want {
				t.Fatalf("%s: item %d: field %q (%v), want %q", c.name, i, got, items[i].Err, want)
			}
		}
	}
	items, err := decode.CloudEventsBatch([]byte(jsonArray(cloudEvent("a", nil), cloudEvent("deep", nil, "extra="+deep))))
	if err != nil || len(items) != 2 || items[0].Err != nil || items[1].Err == nil || items[1].Err.Field != "data.extra" {
		t.Fatalf("CloudEvents: %+v %v", items, err)
	}
	items, err = decode.CSGHubJSON([]byte(jsonArray(csghub("a"), deep[:len(deep)-1])))
	var ae *abacus.Error
	if !errors.As(err, &ae) || ae.Field != "body" || items != nil {
		t.Fatalf("a deep element not closed: %+v %v", items, err)
	}
}

// TestUTF16BodySaysSo: a body in UTF-16 is refused saying so, not as an
// invalid character 'ÿ' (QA).
func TestUTF16BodySaysSo(t *testing.T) {
	for _, bom := range []string{"\xff\xfe", "\xfe\xff"} {
		_, err := decode.CSGHubJSON([]byte(bom + "[\x00]\x00"))
		if err == nil || !strings.Contains(err.Error(), "UTF-16") {
			t.Fatalf("%q: %v", bom, err)
		}
	}
}

// TestDeepAndBrokenSaysWhere: a body both deeper than encoding/json goes
// and broken is refused where it breaks, not as too deep (QA).
func TestDeepAndBrokenSaysWhere(t *testing.T) {
	deep := strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000)
	body := jsonArray(csghub("a"), deep, csghub("b")+",")
	_, err := decode.CSGHubJSON([]byte(body))
	if err == nil || strings.Contains(err.Error(), "depth") || !strings.Contains(err.Error(), fmt.Sprintf("invalid character ']' (at byte %d)", len(body))) {
		t.Fatalf("%v", err)
	}
	_, err = decode.CSGHubJSON([]byte("[" + deep))
	if err == nil || !strings.Contains(err.Error(), "ends before its value does") {
		t.Fatalf("%v", err)
	}
}
