package decode_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/metering/decode"
)

// Every fuzz target checks the same contract: no panic, and every item
// either a valid event that Validate leaves unchanged or an error that
// names a field.

func jsonSeeds(f *testing.F) {
	for _, s := range []string{
		csghub("a"),
		jsonArray(csghub("a"), csghub("b", "value=1.5"), "7", csghub("c", `extra={"k":[1,{"x":null}]}`)),
		jsonArray(cloudEvent("e1", nil), cloudEvent("e2", []string{"-subject"}, `user_uuid="`+acct+`"`)),
		cloudEvent("e1", nil, `uuid="e1"`, `created_at="2026-08-18T18:00:00+08:00"`),
		csghub("a", `value="12"`, `created_at="2026-08-18t10:00:00.123456789-05:45"`),
		csghub("a", `value=1e400`, `value_type=-0`),
		csghub("a", `value=-9223372036854775808`),
		`[{"uuid":"a","uuid":"b"}]`,
		`[[],{},null,"",0]`,
		"[]", "{}", "", "\ufeff{}",
	} {
		f.Add([]byte(s))
	}
}

func checkBody(t *testing.T, items []decode.Item, err error) {
	if err != nil {
		if items != nil {
			t.Fatalf("items %v with error %v", items, err)
		}
		return
	}
	for _, it := range items {
		checkItem(t, it)
		if it.Line != 0 {
			t.Fatalf("line %d outside a file", it.Line)
		}
	}
}

func FuzzCSGHubJSON(f *testing.F) {
	jsonSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := decode.CSGHubJSON(body)
		checkBody(t, items, err)
		auto, err2 := decode.ForContentType("application/json")
		if err2 != nil {
			t.Fatal(err2)
		}
		items2, err2 := auto(body, nil)
		checkBody(t, items2, err2)
		if (err == nil) != (err2 == nil) || len(items) != len(items2) {
			t.Fatalf("CSGHubJSON: %d items, %v; application/json: %d items, %v", len(items), err, len(items2), err2)
		}
	})
}

func FuzzCloudEventsBatch(f *testing.F) {
	jsonSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := decode.CloudEventsBatch(body)
		checkBody(t, items, err)
		one, err := decode.CloudEvent(body)
		checkBody(t, one, err)
		if err == nil && len(one) != 1 {
			t.Fatalf("structured mode gave %d items", len(one))
		}
	})
}

func FuzzNDJSON(f *testing.F) {
	f.Add([]byte(csghub("a") + "\n\n" + cloudEvent("b", nil) + "\r\n{bad\n42\n" + csghub("c", "value=2.5")))
	f.Add([]byte("\ufeff" + csghub("a")))
	f.Add([]byte("\n\n\n"))
	f.Add([]byte(csghub("a") + "\ufeff" + csghub("b") + csghub("c") + "\n" + csghub("d") + `{"uuid":`))
	f.Add([]byte(`{"specversion":"1.0","data":{"value":"1"}}` + "\n" + `{"specversion":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := readAll(t, decode.NewNDJSONReader(bytes.NewReader(body)))
		if err != nil {
			t.Fatalf("error from an in-memory reader: %v", err)
		}
		if n := bytes.Count(body, []byte("\n")) + 1; len(items) > n {
			t.Fatalf("%d items from %d lines", len(items), n)
		}
	})
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte(csvHeader + csvRow("a") + csvRow("b", "=", "1.5") + "\n" + `c,"x""y",1` + "\n"))
	f.Add([]byte("\ufeffvalue,uuid,user_uuid,scene,value_type,created_at\r\n1,a," + acct + ",11,0,2026-08-18T10:00:00Z\r\n"))
	f.Add([]byte(csvHeader + csvRow("a", "=", "=", "=", "=", "=", "=", `"multi`+"\n"+`line"`) + `"unterminated`))
	f.Add([]byte(csvHeader + csvRow("a", "=", "=", "=", "=", "=", "=", "=", "=", "=", `"{""k"":1}"`)))
	f.Add([]byte("uuid,user_uuid\n"))
	// A stray quote closed by a later line's, the lines parsing together.
	unquoted := func(id, customer string) string {
		return csvRow(id, "=", "=", "=", "=", "=", "=", "=", customer, "=", "")
	}
	f.Add([]byte(csvHeader + unquoted("a", `"c`) + unquoted("b", "=") + unquoted("c", `c"`) + unquoted("d", "=")))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decode.NewCSVReader(bytes.NewReader(body))
		if err != nil {
			if r != nil {
				t.Fatal("reader and error")
			}
			var ae *abacus.Error
			if !errors.As(err, &ae) || ae.Field == "" || strings.TrimSpace(ae.Message) == "" {
				t.Fatalf("header error %#v", err)
			}
			return
		}
		items, err := readAll(t, r)
		if err != nil {
			t.Fatalf("error from an in-memory reader: %v", err)
		}
		if n := bytes.Count(body, []byte("\n")) + 1; len(items) > n {
			t.Fatalf("%d items from %d lines", len(items), n)
		}
		for i := 1; i < len(items); i++ { // no line is answered twice
			if items[i].Line <= items[i-1].Line {
				t.Fatalf("item %d is of line %d, after one of line %d", i, items[i].Line, items[i-1].Line)
			}
		}
		// Every line after the header is answered, by an event or an
		// error, but blank ones: none is lost inside another's record.
		var want, got []int
		header := false
		for i, l := range bytes.SplitAfter(bytes.TrimPrefix(body, []byte("\ufeff")), []byte("\n")) {
			if len(bytes.Trim(l, " \t\r\n")) == 0 {
				continue
			}
			if header {
				want = append(want, i+1)
			}
			header = true
		}
		for _, it := range items {
			got = append(got, it.Line)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("lines answered %v, want %v", got, want)
		}
	})
}
