package decode_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/abacus-billing/abacus/metering/decode"
)

// badUTF8 is a string field's JSON text holding the raw byte 0xff, which
// encoding/json would turn into U+FFFD: then "iu3\xff" and "iu3\ufffd"
// would be one id, and a real event would be dropped as a duplicate.
const badUTF8 = "\"iu3\xff\""

// loneSurrogate is an escape encoding/json also turns into U+FFFD.
const loneSurrogate = `"iu3\ud800"`

// TestInvalidUTF8InCSGHubFields: every string field of a CSGHub event
// holding invalid UTF-8 rejects that item alone, naming the field.
func TestInvalidUTF8InCSGHubFields(t *testing.T) {
	for _, bad := range []string{badUTF8, loneSurrogate, `"a\"\n` + "\xfe" + `"`} {
		for _, field := range []string{"uuid", "user_uuid", "op_uid", "resource_id", "resource_name", "customer_id", "created_at"} {
			body := jsonArray(csghub("good-1"), csghub("bad-1", field+"="+bad), csghub("good-2"))
			items, err := decode.CSGHubJSON([]byte(body))
			if err != nil || len(items) != 3 {
				t.Fatalf("%s %q: %v %v", field, bad, items, err)
			}
			checkRejectsOnly(t, items, 1, field)
		}
	}
	// extra is a string holding a JSON object, as CSGHub sends it.
	items, err := decode.CSGHubJSON([]byte(jsonArray(csghub("good-1"), csghub("bad-1", "extra=\"{\\\"k\\\":\\\"\xff\\\"}\""))))
	if err != nil {
		t.Fatal(err)
	}
	checkRejectsOnly(t, items, 1, "extra")
}

// TestInvalidUTF8DoesNotCollide: an id with a raw invalid byte is refused,
// so it cannot take the place of the id that spells U+FFFD. The decoder is
// picked as the HTTP endpoint picks it.
func TestInvalidUTF8DoesNotCollide(t *testing.T) {
	h := http.Header{"Content-Type": {"application/json"}}
	dec, err := decode.ForHeaders(h, true)
	if err != nil {
		t.Fatal(err)
	}
	items, err := dec([]byte(jsonArray(csghub("iu3\xff"), csghub(`iu3\ud800`), csghub("iu3\ufffd"))), nil)
	if err != nil || len(items) != 3 {
		t.Fatal(items, err)
	}
	for i := 0; i < 2; i++ {
		if items[i].Err == nil || items[i].Err.Field != "uuid" {
			t.Fatalf("item %d: %+v, want an error naming uuid", i, items[i])
		}
	}
	if items[2].Err != nil || items[2].Event.ID != "iu3\ufffd" {
		t.Fatalf("the id spelling U+FFFD: %+v", items[2])
	}
}

// TestInvalidUTF8InCloudEvents: in structured and batch mode the
// attributes and the data's fields are checked alike.
func TestInvalidUTF8InCloudEvents(t *testing.T) {
	cases := []struct {
		mods, dataMods []string
		field          string
	}{
		{[]string{"id=" + badUTF8}, nil, "id"},
		{[]string{"subject=" + badUTF8}, nil, "subject"},
		{[]string{"source=" + badUTF8}, nil, "source"},
		{[]string{"type=" + loneSurrogate}, nil, "type"},
		{[]string{"time=" + badUTF8}, nil, "time"},
		{[]string{"specversion=" + badUTF8}, nil, "specversion"},
		{[]string{"datacontenttype=\"application/json; x=\xff\""}, nil, "datacontenttype"},
		{nil, []string{"resource_id=" + badUTF8}, "data.resource_id"},
		{nil, []string{"resource_name=" + loneSurrogate}, "data.resource_name"},
		{nil, []string{"op_uid=" + badUTF8}, "data.op_uid"},
		{nil, []string{"customer_id=" + badUTF8}, "data.customer_id"},
		{nil, []string{"extra=\"{\\\"k\\\":\\\"\xff\\\"}\""}, "data.extra"},
	}
	for _, c := range cases {
		bad := cloudEvent("bad-1", c.mods, c.dataMods...)
		items, err := decode.CloudEventsBatch([]byte(jsonArray(cloudEvent("good-1", nil), bad, cloudEvent("good-2", nil))))
		if err != nil || len(items) != 3 {
			t.Fatalf("%s: %v %v", c.field, items, err)
		}
		checkRejectsOnly(t, items, 1, c.field)
		one, err := decode.CloudEvent([]byte(bad))
		if err != nil || len(one) != 1 {
			t.Fatalf("%s structured: %v %v", c.field, one, err)
		}
		checkRejectsOnly(t, one, 0, c.field)
	}
}

// TestInvalidUTF8InBinaryCloudEvent: a header (raw, or percent-encoded as
// the HTTP binding has it) or a body field with invalid UTF-8 is refused,
// naming the header or the field. json.Marshal would otherwise have
// replaced the bytes on the way to the structured form.
func TestInvalidUTF8InBinaryCloudEvent(t *testing.T) {
	for _, c := range []struct {
		header, value  string
		percentEncoded bool
		body, field    string
	}{
		{"ce-id", "iu3\xff", false, binaryData, "ce-id"},
		{"ce-id", "iu3%FF", true, binaryData, "ce-id"},
		{"ce-source", "/gw%C3", true, binaryData, "ce-source"},
		{"ce-type", "t\xff", false, binaryData, "ce-type"},
		{"ce-subject", "\xff", false, binaryData, "ce-subject"},
		{"", "", true, strings.Replace(binaryData, `"Model X"`, "\"Model \xff\"", 1), "resource_name"},
		{"", "", true, strings.Replace(binaryData, `"model-x"`, `"m\udfff"`, 1), "customer_id"},
	} {
		h := binaryHeaders()
		if c.header != "" {
			h[http.CanonicalHeaderKey(c.header)] = []string{c.value}
		}
		items, err := decode.BinaryCloudEvent(h, c.percentEncoded, []byte(c.body))
		if err != nil || len(items) != 1 {
			t.Fatalf("%s: %v %v", c.field, items, err)
		}
		checkRejectsOnly(t, items, 0, c.field)
	}
}

// TestInvalidUTF8InFiles: NDJSON lines and CSV records are refused one by
// one, naming the field, and the lines around them are charged.
func TestInvalidUTF8InFiles(t *testing.T) {
	ndjson := csghub("n1") + "\n" +
		csghub("n2", "resource_id="+badUTF8) + "\n" +
		cloudEvent("n3", []string{"source=" + badUTF8}) + "\n" +
		csghub(`n4\udc00`) + "\n" +
		csghub("n5") + "\n"
	items, err := readAll(t, decode.NewNDJSONReader(strings.NewReader(ndjson)))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{{1, "n1", ""}, {2, "n2", "resource_id"}, {3, "n3", "source"}, {4, "n4\ufffd", "uuid"}, {5, "n5", ""}})

	csv := csvHeader + csvRow("c1") +
		csvRow("c2", "=", "=", "=", "=", "op\xff") +
		csvRow("c3\xff") +
		csvRow("c4", "=", "=", "=", "=", "=", "=", "=", "\xc3") +
		csvRow("c5")
	items, err = readAll(t, mustCSV(t, csv))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{{2, "c1", ""}, {3, "c2", "op_uid"}, {4, "c3\ufffd", "uuid"}, {5, "c4", "customer_id"}, {6, "c5", ""}})
}

// checkRejectsOnly asserts that items[bad] is refused as invalid UTF-8,
// naming field, and every other item is a good event.
func checkRejectsOnly(t *testing.T, items []decode.Item, bad int, field string) {
	t.Helper()
	for i, it := range items {
		checkItem(t, it)
		if i != bad {
			if it.Err != nil {
				t.Fatalf("item %d: %v", i, it.Err)
			}
			continue
		}
		if it.Err == nil {
			t.Fatalf("item %d with invalid UTF-8 in %s was accepted: %+v", i, field, it.Event)
		}
		if it.Err.Field != field || !strings.Contains(it.Err.Message, "UTF-8") {
			t.Fatalf("item %d: %q: %s, want an error naming %s that says UTF-8", i, it.Err.Field, it.Err.Message, field)
		}
	}
}
