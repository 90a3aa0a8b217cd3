package abacus_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/abacus-billing/abacus"
)

// TestJSONBytes: JSONBytes is what encoding/json writes, for text with
// every kind of escape, and for bytes that are not UTF-8 (base64).
func TestJSONBytes(t *testing.T) {
	for _, s := range []string{"", "plain", "\x01\x1f\n\t", `"quoted" \ back`, "<a href=x>&</a>", "é and 日本", "line\u2028sep", "bad \xff byte"} {
		b, _ := json.Marshal(s)
		if got := abacus.JSONBytes(s); got != len(b) {
			t.Errorf("%q: %d, encoding/json writes %d", s, got, len(b))
		}
	}
	for _, raw := range [][]byte{{0xff}, {0xff, 0, 1}, {0xff, 0, 1, 2}} {
		b, _ := json.Marshal(raw)
		if got := abacus.JSONBytes(raw); got != len(b) {
			t.Errorf("% x: %d, encoding/json writes %d", raw, got, len(b))
		}
	}
}

// TestPageSizesCountEscapes: a dead letter's or an event's size for a
// page is what it takes as JSON: control characters six bytes each (QA:
// a page of them took six times what was counted).
func TestPageSizesCountEscapes(t *testing.T) {
	d := abacus.DeadLetter{Payload: []byte(strings.Repeat("\x01", 1000))}
	e := abacus.StoredEvent{UsageEvent: abacus.UsageEvent{ResourceName: strings.Repeat("\x01", 1000)}}
	if d.Bytes() < 6000 || e.TextBytes() < 6000 {
		t.Fatalf("1,000 control characters: a dead letter of %d bytes, an event of %d", d.Bytes(), e.TextBytes())
	}
}
