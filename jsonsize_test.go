package abacus_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/abacus-billing/abacus"
)

// TestJSONBytes: JSONBytes is what encoding/json writes without HTML
// escapes, as the API does, for text with every kind of escape, and for
// bytes that are not UTF-8 (base64).
func TestJSONBytes(t *testing.T) {
	encoded := func(v any) int {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(v)
		return b.Len() - 1 // its newline
	}
	for _, s := range []string{"", "plain", "\x01\x1f\n\t", `"quoted" \ back`, "<a href=x>&</a>", "é and 日本", "line\u2028sep", "bad \xff byte"} {
		if got, want := abacus.JSONBytes(s), encoded(s); got != want {
			t.Errorf("%q: %d, encoding/json writes %d", s, got, want)
		}
	}
	for _, raw := range [][]byte{{0xff}, {0xff, 0, 1}, {0xff, 0, 1, 2}} {
		if got, want := abacus.JSONBytes(raw), encoded(raw); got != want {
			t.Errorf("% x: %d, encoding/json writes %d", raw, got, want)
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
