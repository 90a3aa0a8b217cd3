package decode_test

import (
	"errors"
	"net/http"
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
	return h
}

// TestBinaryCloudEventSameAsStructured: the same event in binary mode and
// in structured mode decodes to the same usage.
func TestBinaryCloudEventSameAsStructured(t *testing.T) {
	h := binaryHeaders()
	if !decode.BinaryHeader(h.Get) || decode.BinaryHeader(http.Header{}.Get) {
		t.Fatal("BinaryHeader does not go by ce-specversion")
	}
	got, err := decode.BinaryCloudEvent(h.Get, true, "application/json; charset=utf-8", []byte(binaryData))
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
	got, _ = decode.BinaryCloudEvent(h.Get, true, "application/json", []byte(binaryData))
	if got[0].Err != nil || got[0].Event.ID != "e/1" {
		t.Fatalf("percent-encoded id: %+v", got[0])
	}
	got, _ = decode.BinaryCloudEvent(h.Get, false, "application/json", []byte(binaryData))
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
		{"data not an object", "", "", "application/json", `[1]`, "body"},
		{"bad value", "", "", "application/json", `{"value":1.5,"value_type":1,"scene":15,"resource_id":"x"}`, "value"},
		{"no scene", "", "", "application/json", `{"value":1,"value_type":1,"resource_id":"x"}`, "scene"},
	} {
		h := binaryHeaders()
		if c.header != "" {
			h.Set(c.header, c.value)
		}
		items, err := decode.BinaryCloudEvent(h.Get, true, c.contentType, []byte(c.body))
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
	items, _ := decode.BinaryCloudEvent(h.Get, true, "application/json", []byte(binaryData))
	if e := items[0].Err; e == nil || e.Message != "0001-01-01T00:00:00Z is not between the years 2000 and 9999" {
		t.Fatalf("ce-time at the zero time: %v", e)
	}
	for _, body := range []string{"", "  ", `{"value":`} {
		items, err := decode.BinaryCloudEvent(binaryHeaders().Get, true, "application/json", []byte(body))
		var ae *abacus.Error
		if items != nil || !errors.As(err, &ae) || ae.Field != "body" {
			t.Fatalf("body %q: %v %v", body, items, err)
		}
	}
}
