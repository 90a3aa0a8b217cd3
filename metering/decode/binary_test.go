package decode_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/metering/decode"
)

// binaryData is the data of cloudEvent("e1", nil): the body of the same
// event in binary mode.
const binaryData = `{"value":7,"value_type":1,"scene":15,"op_uid":"aigateway","resource_id":"csghub://model-x",` +
	`"resource_name":"Model X","customer_id":"model-x","extra":"{\"prompt_token_num\":\"10\"}"}`

func binaryHeaders() http.Header {
	h := http.Header{}
	h.Set("ce-specversion", "1.0")
	h.Set("ce-id", "e1")
	h.Set("ce-source", "/aigateway")
	h.Set("ce-type", "com.opencsg.metering")
	h.Set("ce-subject", acct)
	h.Set("ce-time", "2026-08-18T10:00:00Z")
	h.Set("Content-Type", "application/json")
	return h
}

// TestBinaryCloudEventSameAsStructured: the same event in binary mode and
// in structured mode decodes to the same usage.
func TestBinaryCloudEventSameAsStructured(t *testing.T) {
	h := binaryHeaders()
	if !decode.BinaryHeader(h) || decode.BinaryHeader(http.Header{}) {
		t.Fatal("BinaryHeader does not go by ce-specversion")
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	got, err := decode.BinaryCloudEvent(h, true, []byte(binaryData))
	if err != nil || len(got) != 1 {
		t.Fatal(got, err)
	}
	checkItem(t, got[0])
	want, err := decode.CloudEvent([]byte(cloudEvent("e1", nil)))
	if err != nil || want[0].Err != nil {
		t.Fatal(want, err)
	}
	if !sameItem(got[0], want[0]) {
		t.Fatalf("binary %+v\nstructured %+v", got[0], want[0])
	}

	// The HTTP binding percent-encodes header values; NATS does not.
	h.Set("ce-id", "e%2F1")
	got, _ = decode.BinaryCloudEvent(h, true, []byte(binaryData))
	if got[0].Err != nil || got[0].Event.ID != "e/1" {
		t.Fatalf("percent-encoded id: %+v", got[0])
	}
	got, _ = decode.BinaryCloudEvent(h, false, []byte(binaryData))
	if got[0].Err != nil || got[0].Event.ID != "e%2F1" {
		t.Fatalf("id taken as it is: %+v", got[0])
	}
}

// TestBinaryCloudEventErrors: each problem is the item's error and names
// the header or body field a binary-mode sender wrote; a body that is not
// JSON fails the call.
func TestBinaryCloudEventErrors(t *testing.T) {
	for _, c := range []struct {
		name, header, value, contentType, body, field string
	}{
		{"no id", "ce-id", "", "application/json", binaryData, "ce-id"},
		{"no source", "ce-source", "", "application/json", binaryData, "ce-source"},
		{"no type", "ce-type", "", "application/json", binaryData, "ce-type"},
		{"old specversion", "ce-specversion", "0.3", "application/json", binaryData, "ce-specversion"},
		{"bad time", "ce-time", "yesterday", "application/json", binaryData, "ce-time"},
		{"the zero time", "ce-time", "0001-01-01T00:00:00Z", "application/json", binaryData, "ce-time"},
		{"dot id", "ce-id", ".", "application/json", binaryData, "ce-id"},
		{"dot dot id, percent-encoded", "ce-id", "%2E%2E", "application/json", binaryData, "ce-id"},
		{"bad subject", "ce-subject", "not-an-account", "application/json", binaryData, "ce-subject"},
		{"bad escape", "ce-source", "/gw%zz", "application/json", binaryData, "ce-source"},
		{"not JSON data", "", "", "text/plain", binaryData, "Content-Type"},
		// QA: taken in binary mode, refused in structured mode.
		{"datacontenttype header not JSON", "ce-datacontenttype", "text/plain", "application/json", binaryData, "ce-datacontenttype"},
		{"datacontenttype header not UTF-8", "ce-datacontenttype", "application/json; charset=latin1", "application/json", binaryData, "ce-datacontenttype"},
		{"data not an object", "", "", "application/json", `[1]`, "body"},
		{"bad value", "", "", "application/json", `{"value":1.5,"value_type":1,"scene":15,"resource_id":"x"}`, "value"},
		{"no scene", "", "", "application/json", `{"value":1,"value_type":1,"resource_id":"x"}`, "scene"},
		// QA: a usage field as a header was ignored, the body's charged.
		{"value as a header", "ce-value", "500", "application/json", binaryData, "ce-value"},
		{"scene as a header", "Ce-Scene", "13", "application/json", binaryData, "ce-scene"},
		{"user_uuid as a header", "ce-user_uuid", "x", "application/json", binaryData, "ce-user_uuid"},
	} {
		h := binaryHeaders()
		if c.header != "" {
			h.Set(c.header, c.value)
		}
		h.Set("Content-Type", c.contentType)
		items, err := decode.BinaryCloudEvent(h, true, []byte(c.body))
		if err != nil || len(items) != 1 {
			t.Fatalf("%s: %v %v", c.name, items, err)
		}
		checkItem(t, items[0])
		if items[0].Err == nil || items[0].Err.Field != c.field {
			t.Fatalf("%s: %+v, want an error naming %s", c.name, items[0], c.field)
		}
	}
	// Sent as the zero time, ce-time is out of range, not missing.
	h := binaryHeaders()
	h.Set("ce-time", "0001-01-01T00:00:00Z")
	items, _ := decode.BinaryCloudEvent(h, true, []byte(binaryData))
	if e := items[0].Err; e == nil || e.Message != "0001-01-01T00:00:00Z is not between the years 2000 and 9999" {
		t.Fatalf("ce-time at the zero time: %v", e)
	}
	for _, body := range []string{"", "  ", `{"value":`} {
		items, err := decode.BinaryCloudEvent(binaryHeaders(), true, []byte(body))
		var ae *abacus.Error
		if items != nil || !errors.As(err, &ae) || ae.Field != "body" {
			t.Fatalf("body %q: %v %v", body, items, err)
		}
	}
	h = binaryHeaders()
	h.Set("ce-datacontenttype", "application/json")
	if items, _ := decode.BinaryCloudEvent(h, true, []byte(binaryData)); items[0].Err != nil {
		t.Fatalf("ce-datacontenttype: application/json: %v", items[0].Err)
	}
	// ce-* headers without ce-specversion: not binary mode, but the body
	// is not taken for an event of its own either (QA: it was charged under
	// the uuid of its body).
	h = binaryHeaders()
	h.Del("ce-specversion")
	var ae *abacus.Error
	if _, err := decode.ForHeaders(h, true); !errors.As(err, &ae) || ae.Field != "ce-specversion" || !strings.Contains(ae.Message, "ce-id") {
		t.Fatalf("ce-id without ce-specversion: %v", err)
	}
	if _, err := decode.ForHeaders(http.Header{"Content-Type": {"application/json"}, "Ce-Traceparent": {"x"}}, true); err != nil {
		t.Fatalf("an extension header alone: %v", err)
	}
	// QA: ce-value beside a CSGHub body, no ce-specversion, was ignored.
	if _, err := decode.ForHeaders(http.Header{"Content-Type": {"application/json"}, "Ce-Value": {"500"}}, true); !errors.As(err, &ae) || ae.Field != "ce-value" {
		t.Fatalf("ce-value without ce-specversion: %v", err)
	}
	// Structured mode may carry binary mode's headers beside its body.
	for _, ct := range []string{decode.ContentTypeCloudEvent, decode.ContentTypeCloudEventBatch + "; charset=utf-8"} {
		if _, err := decode.ForHeaders(http.Header{"Content-Type": {ct}, "Ce-Id": {"e1"}}, true); err != nil {
			t.Fatalf("%s with ce-id: %v", ct, err)
		}
	}
}

// TestBinaryCloudEventRepeatedHeaders: a ce-* header or Content-Type sent
// twice is the item's error naming it, as a key twice in a JSON object is,
// however the names are spelled; the first value is not taken for the
// event, which would charge it to the first of two accounts.
func TestBinaryCloudEventRepeatedHeaders(t *testing.T) {
	other := "22222222-2222-4222-8222-222222222222"
	for _, c := range []struct {
		name, header, value, field, id string
	}{
		{"two subjects", "ce-subject", other, "ce-subject", "e1"},
		{"two ids", "ce-id", "e2", "ce-id", "e1"}, // answered by the first
		{"two times", "ce-time", "2026-08-18T11:00:00Z", "ce-time", "e1"},
		{"two spec versions", "ce-specversion", "1.0", "ce-specversion", "e1"},
		{"the same subject twice", "ce-subject", acct, "ce-subject", "e1"},
		{"an extension twice", "ce-traceparent", "00-1", "ce-traceparent", "e1"},
		{"two content types", "Content-Type", "application/json", "Content-Type", "e1"},
	} {
		h := binaryHeaders()
		if c.header == "ce-traceparent" {
			h.Add(c.header, "00-0")
		}
		h.Add(c.header, c.value)
		items, err := decode.BinaryCloudEvent(h, true, []byte(binaryData))
		if err != nil || len(items) != 1 {
			t.Fatalf("%s: %v %v", c.name, items, err)
		}
		checkItem(t, items[0])
		if e := items[0].Err; e == nil || e.Field != c.field || e.Code != abacus.CodeInvalid || e.Message != "appears more than once in the headers; send it once" || items[0].ID != c.id {
			t.Errorf("%s: %+v, want an error naming %s of the item %q", c.name, items[0], c.field, c.id)
		}
	}
	// NATS keeps names as sent: ce-subject and Ce-Subject are one header.
	h := map[string][]string{}
	for k, v := range binaryHeaders() {
		h[strings.ToLower(k)] = v
	}
	h["Ce-Subject"] = []string{other}
	items, err := decode.BinaryCloudEvent(h, false, []byte(binaryData))
	if err != nil || len(items) != 1 || items[0].Err == nil || items[0].Err.Field != "ce-subject" {
		t.Fatalf("ce-subject and Ce-Subject: %+v %v", items, err)
	}
	dec, err := decode.ForHeaders(h, false)
	if err != nil {
		t.Fatal(err)
	}
	if items, err := dec([]byte(binaryData), nil); err != nil || len(items) != 1 || items[0].Err == nil || items[0].Err.Field != "ce-subject" {
		t.Fatalf("ForHeaders, ce-subject and Ce-Subject: %+v %v", items, err)
	}

	// Content-Type twice: a whole request's error where it picks the mode,
	// as one that is not a media type is; in binary mode, the item's.
	two := http.Header{"Content-Type": {"application/json", "application/cloudevents-batch+json"}}
	var ae *abacus.Error
	if _, err := decode.ForHeaders(two, true); !errors.As(err, &ae) || ae.Field != "Content-Type" || ae.Code != abacus.CodeInvalid {
		t.Fatalf("ForHeaders with two content types: %v", err)
	}
	bin := binaryHeaders()
	bin["Content-Type"] = two["Content-Type"]
	if err := decode.BinaryContentType(bin); !errors.As(err, &ae) || ae.Field != "Content-Type" || ae.Code != abacus.CodeInvalid {
		t.Fatalf("BinaryContentType with two content types: %v", err)
	}
	dec, err = decode.ForHeaders(bin, true)
	if err != nil {
		t.Fatal(err)
	}
	if items, err := dec([]byte(binaryData), nil); err != nil || len(items) != 1 || items[0].Err == nil || items[0].Err.Field != "Content-Type" {
		t.Fatalf("binary mode with two content types: %+v %v", items, err)
	}
}

// TestBinaryCloudEventNamesHeadersInMessages: a body field that disagrees
// with an attribute names the attribute's header in its message too.
func TestBinaryCloudEventNamesHeadersInMessages(t *testing.T) {
	other := "22222222-2222-4222-8222-222222222222"
	for _, c := range []struct{ field, value, header string }{
		{"created_at", `"2026-08-18T11:00:00Z"`, "ce-time"},
		{"user_uuid", `"` + other + `"`, "ce-subject"},
	} {
		body := strings.Replace(binaryData, `{`, `{"`+c.field+`":`+c.value+`,`, 1)
		items, err := decode.BinaryCloudEvent(binaryHeaders(), true, []byte(body))
		if err != nil || len(items) != 1 {
			t.Fatalf("%s: %v %v", c.field, items, err)
		}
		e := items[0].Err
		if e == nil || e.Field != c.field || !strings.Contains(e.Message, "does not match "+c.header+" ") {
			t.Errorf("%s: %v, want an error naming %s, saying it does not match %s", c.field, e, c.field, c.header)
		}
	}
	// In structured mode the attribute is named as it is there.
	items, err := decode.CloudEvent([]byte(strings.Replace(cloudEvent("e1", nil), `"data":{`, `"data":{"created_at":"2026-08-18T11:00:00Z",`, 1)))
	if err != nil || len(items) != 1 || items[0].Err == nil || !strings.Contains(items[0].Err.Message, "does not match time ") {
		t.Fatalf("structured: %+v %v", items, err)
	}
}

// TestBinaryCloudEventDeepBody: a body deeper than encoding/json goes is
// read as structured mode reads the same data: a deep field it does not
// know is no fault, a deep field it reads is that field's (QA: the whole
// body was refused, naming MarshalJSON).
func TestBinaryCloudEventDeepBody(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 20_000) + "1" + strings.Repeat("}", 20_000)
	got, err := decode.BinaryCloudEvent(binaryHeaders(), true, []byte(strings.TrimSuffix(binaryData, "}")+`,"unknown":`+deep+"}"))
	if err != nil || len(got) != 1 || got[0].Err != nil {
		t.Fatalf("a deep field not read: %+v %v", got, err)
	}
	got, err = decode.BinaryCloudEvent(binaryHeaders(), true, []byte(strings.Replace(binaryData, `"value":7`, `"value":`+deep, 1)))
	if err != nil || len(got) != 1 || got[0].Err == nil || got[0].Err.Field != "value" {
		t.Fatalf("a deep value: %+v %v", got, err)
	}
	got, err = decode.BinaryCloudEvent(http.Header{"Ce-Specversion": {"1.0"}}, true, []byte(binaryData))
	if err != nil || len(got) != 1 || got[0].Err == nil || got[0].Err.Field == "body" {
		t.Fatalf("attributes missing: %+v %v", got, err)
	}
}

// TestBinaryCloudEventErrorsKeepID: a binary-mode event rejected for its
// ce-id still names it by it: one too long by a marked prefix, one not
// percent-encoded as it came.
func TestBinaryCloudEventErrorsKeepID(t *testing.T) {
	for _, c := range []struct{ id, want string }{
		{strings.Repeat("z", 256), strings.Repeat("z", 252) + "…"},
		{"e%zz", "e%zz"},
		{"e%41", "eA"},
	} {
		h := binaryHeaders()
		h.Set("ce-id", c.id)
		h.Add("ce-source", "/again")
		items, err := decode.BinaryCloudEvent(h, true, []byte(binaryData))
		if err != nil || len(items) != 1 {
			t.Fatalf("%q: %v %v", c.id, items, err)
		}
		checkItem(t, items[0])
		if items[0].Err == nil || items[0].ID != c.want {
			t.Errorf("%q: %+v, want the item %q", c.id, items[0], c.want)
		}
	}
}
