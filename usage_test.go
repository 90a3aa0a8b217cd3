package abacus_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
)

func validEvent() abacus.UsageEvent {
	return abacus.UsageEvent{
		ID: "ev-1", Account: "11111111-2222-4333-8444-555555555555", Value: 3, Scene: 11,
		OpUID: "deployer", ResourceID: "12", ResourceName: "CPU basic", CustomerID: "u-1",
		Time: time.Date(2026, 8, 18, 2, 0, 0, 0, time.UTC), Extra: `{"from_source":"space"}`,
	}
}

// TestValidateRefusesInvalidUTF8: every text field with a byte that is not
// UTF-8 is refused by its wire name, saying so, and the event is left as
// it was.
func TestValidateRefusesInvalidUTF8(t *testing.T) {
	if ev := validEvent(); ev.Validate() != nil {
		t.Fatalf("the base event fails: %v", ev.Validate())
	}
	for field, spoil := range map[string]func(*abacus.UsageEvent){
		"uuid":          func(e *abacus.UsageEvent) { e.ID = "iu3\xff" },
		"user_uuid":     func(e *abacus.UsageEvent) { e.Account = "11111111-2222-4333-8444-55555555555\xff" },
		"op_uid":        func(e *abacus.UsageEvent) { e.OpUID = "op\xed\xa0\x80" },
		"resource_id":   func(e *abacus.UsageEvent) { e.ResourceID = "\xc3" },
		"resource_name": func(e *abacus.UsageEvent) { e.ResourceName = "CPU \xfe" },
		"customer_id":   func(e *abacus.UsageEvent) { e.CustomerID = "u-\xff" },
		"extra":         func(e *abacus.UsageEvent) { e.Extra = "{\"k\":\"\xff\"}" },
	} {
		ev := validEvent()
		spoil(&ev)
		before := ev
		err := ev.Validate()
		var ae *abacus.Error
		if !errors.As(err, &ae) || ae.Field != field || ae.Code != abacus.CodeInvalid || ae.Message != "is not valid UTF-8" {
			t.Errorf("%s: %v, want an error naming %s that says it is not valid UTF-8", field, err, field)
		}
		if ev != before {
			t.Errorf("%s: a refused event was changed: %+v", field, ev)
		}
	}
}

func TestDrawnOf(t *testing.T) {
	var d abacus.Drawn
	*d.Of(abacus.BucketCash), *d.Of(abacus.BucketBonus), *d.Of(abacus.BucketVoucher) =
		abacus.AmountFromMicros(1), abacus.AmountFromMicros(20), abacus.AmountFromMicros(300)
	if d.Cash.Micros() != 1 || d.Bonus.Micros() != 20 || d.Voucher.Micros() != 300 || d.Of(abacus.BucketMain) != nil {
		t.Fatalf("%+v", d)
	}
	if sum, err := d.Sum(); err != nil || sum.Micros() != 321 {
		t.Fatalf("sum %s %v", sum, err)
	}
	d.Cash = abacus.AmountFromMicros(math.MaxInt64)
	if _, err := d.Sum(); err == nil {
		t.Fatal("a sum past int64 must fail")
	}
}

// TestValidateRefusesIDsThatLookAlike: an id with a character that shows
// nothing or looks like a space, so that two ids could look the same and
// differ, or one a URL path cannot hold (. and .., which clients drop
// before a void reaches abacus, and /, which its route takes for a trailing
// slash), is refused naming uuid; ids of visible
// characters in any script, dots among them, are taken as they are.
func TestValidateRefusesIDsThatLookAlike(t *testing.T) {
	for _, id := range []string{"a\u00a0b", "a\u200bb", "a\u2028b", "\ufeffab", "ab\u0085", "a\u3000b", "a\u00adb", "a b", "a\tb", ".", "..", "/"} {
		ev := validEvent()
		ev.ID = id
		err := ev.Validate()
		var ae *abacus.Error
		if !errors.As(err, &ae) || ae.Field != "uuid" || ae.Code != abacus.CodeInvalid {
			t.Errorf("id %q: %v, want an error naming uuid", id, err)
		}
	}
	for _, id := range []string{"événement-1", "caf\u00e9-1", "事件-1", "a.b", "...", ".a", "e\u0301", "//", "a/", "/a"} {
		ev := validEvent()
		ev.ID = id
		if err := ev.Validate(); err != nil || ev.ID != id {
			t.Errorf("id %q: %v (stored as %q)", id, err, ev.ID)
		}
	}
}

// TestCheckNewEvent: the id of an event coming in must be in Unicode
// normalization form C, where "cafe\u0301" and "café" look the same and
// would be charged twice (QA), and not the nil UUID; its scene must not
// be one CSGHub credits, and it must name a resource. (Validate lets them by, for the events stored
// before the rule: the ledger asks CheckNewEvent only of events it does
// not hold.)
func TestCheckNewEvent(t *testing.T) {
	for _, id := range []string{"cafe\u0301-1", "e\u0301", "\u212b", "\u1100\u1161", "00000000-0000-0000-0000-000000000000",
		"00000000000000000000000000000000", "null", "NULL", "undefined", "None", "nil", "<nil>", "NaN", "(null)", "nullptr"} {
		if err := abacus.CheckNewEvent(&abacus.UsageEvent{ID: id, Scene: 11, ResourceID: "gpu"}); abacus.ErrorCodeOf(err) != abacus.CodeInvalid || !strings.Contains(err.Error(), "uuid") {
			t.Errorf("id %q: %v, want refused naming uuid", id, err)
		}
	}
	for _, id := range []string{"caf\u00e9-1", "\u00c5", "\uac00", "\u0301", "plain-1", "事件-1", "null-1", "0000000000000000000000000000000a"} {
		if err := abacus.CheckNewEvent(&abacus.UsageEvent{ID: id, Scene: 11, ResourceID: "gpu"}); err != nil {
			t.Errorf("id %q: %v", id, err)
		}
	}
	// Text a reader would not see: a control character anywhere but as a
	// name's whitespace, and in a key any character that is not printable.
	for _, c := range []struct {
		field string
		set   func(*abacus.UsageEvent, string)
		bad   []string
		good  []string
	}{
		{"op_uid", func(e *abacus.UsageEvent, v string) { e.OpUID = v }, []string{"op\x1b[31m", "op\x00"}, []string{"op-1", "操作", "op\t1", "op\u00a0\u3000"}},
		{"resource_id", func(e *abacus.UsageEvent, v string) { e.ResourceID = v }, []string{"gpu\r", "gpu\n", "g\x7fpu", "gpu\u0085", "gpu\u200b", "\ufeffgpu", "gpu\u00a0a100", "cafe\u0301"}, []string{"gpu", "gpu a100", "显卡", "caf\u00e9"}},
		{"customer_id", func(e *abacus.UsageEvent, v string) { e.CustomerID = v }, []string{"space\x00", "space\x1b]0;x\x07"}, []string{"space-1"}},
		{"resource_name", func(e *abacus.UsageEvent, v string) { e.ResourceName = v }, []string{"A100\x1b[2J", "A100\u009b"}, []string{"A100\tx\r\ny", "A100\u200b", "👩\u200d💻"}},
	} {
		for _, v := range c.bad {
			e := abacus.UsageEvent{ID: "e-1", Scene: 11, ResourceID: "gpu"}
			c.set(&e, v)
			if err := abacus.CheckNewEvent(&e); abacus.ErrorCodeOf(err) != abacus.CodeInvalid || !strings.HasPrefix(err.Error(), c.field+": ") || !strings.Contains(err.Error(), "U+") && !strings.Contains(err.Error(), "(NFC)") {
				t.Errorf("%s %q: %v, want refused naming %s and the character, or NFC", c.field, v, err, c.field)
			}
		}
		for _, v := range c.good {
			e := abacus.UsageEvent{ID: "e-1", Scene: 11, ResourceID: "gpu"}
			c.set(&e, v)
			if err := abacus.CheckNewEvent(&e); err != nil {
				t.Errorf("%s %q: %v", c.field, v, err)
			}
		}
	}
	for scene, charged := range map[int]bool{0: true, 1: false, 2: true, 3: false, 4: true, 10: true, 15: true, 40: true, 41: false, 99: true} {
		err := abacus.CheckNewEvent(&abacus.UsageEvent{ID: "e-1", Scene: scene, ResourceID: "gpu"})
		if charged && err != nil || !charged && (abacus.ErrorCodeOf(err) != abacus.CodeInvalid || !strings.Contains(err.Error(), "scene")) {
			t.Errorf("scene %d: %v", scene, err)
		}
	}
	// Every price is keyed by a resource_id, so an event without one would
	// wait unpriced for a price that cannot be written.
	if err := abacus.CheckNewEvent(&abacus.UsageEvent{ID: "e-1", Scene: 11}); abacus.ErrorCodeOf(err) != abacus.CodeInvalid || !strings.HasPrefix(err.Error(), "resource_id: ") {
		t.Errorf("no resource_id: %v, want refused naming resource_id", err)
	}
}

// TestValidateRefusesTheNilAccount: usage of the nil UUID, which a
// producer that lost its user's id sends, is refused naming user_uuid, as
// a system account's is; the nil UUID as an event id is refused only for
// new events (CheckNewEvent), so one stored earlier is still a duplicate.
func TestValidateRefusesTheNilAccount(t *testing.T) {
	for _, acct := range []abacus.AccountID{"00000000-0000-0000-0000-000000000000", abacus.SystemRevenue.ID()} {
		ev := validEvent()
		ev.Account = acct
		var ae *abacus.Error
		if err := ev.Validate(); !errors.As(err, &ae) || ae.Field != "user_uuid" || ae.Code != abacus.CodeInvalid {
			t.Errorf("account %s: %v, want an error naming user_uuid", acct, err)
		}
	}
	ev := validEvent()
	ev.ID = "00000000-0000-0000-0000-000000000000"
	if err := ev.Validate(); err != nil {
		t.Errorf("the nil UUID as an event id: %v", err)
	}
}

// TestValidateEventTime: a time sent, the zero time among them, is out of
// range before 2000 and after 9999, in the words Validate uses.
func TestValidateEventTime(t *testing.T) {
	for _, at := range []time.Time{{}, time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		err := abacus.ValidateEventTime(at)
		var ae *abacus.Error
		if !errors.As(err, &ae) || ae.Field != "created_at" || ae.Message != at.Format(time.RFC3339)+" is not between the years 2000 and 9999" {
			t.Errorf("%s: %v", at, err)
			continue
		}
		ev := validEvent()
		ev.Time = at
		if at.IsZero() {
			ev.Time = at.Add(time.Nanosecond) // the same instant once kept to microseconds; Validate takes the zero time for none
		}
		if verr := ev.Validate(); verr == nil || verr.Error() != err.Error() {
			t.Errorf("%s: Validate says %v, ValidateEventTime %v", at, verr, err)
		}
	}
	if err := abacus.ValidateEventTime(time.Date(2026, 8, 18, 2, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
}

// TestValidateEventIDLength: an id is at most MaxEventIDLength bytes of
// UTF-8, and the error says bytes, which is what is counted: 63 four-byte
// characters fit where 64 do not.
func TestValidateEventIDLength(t *testing.T) {
	for _, c := range []struct {
		id string
		ok bool
	}{
		{strings.Repeat("x", abacus.MaxEventIDLength), true},
		{strings.Repeat("x", abacus.MaxEventIDLength+1), false},
		{strings.Repeat("😀", 63), true},
		{strings.Repeat("😀", 64), false},
	} {
		ev := validEvent()
		ev.ID = c.id
		err := ev.Validate()
		var ae *abacus.Error
		switch {
		case c.ok && err != nil:
			t.Errorf("an id of %d bytes: %v", len(c.id), err)
		case !c.ok && (!errors.As(err, &ae) || ae.Field != "uuid" || !strings.Contains(ae.Message, fmt.Sprintf("is %d bytes long", len(c.id)))):
			t.Errorf("an id of %d bytes: %v, want it refused naming uuid and its length in bytes", len(c.id), err)
		}
	}
}

// TestCanonicalEventID: every spelling CSGHub's uuid type reads as one
// UUID is one event id; anything else is kept as sent.
func TestCanonicalEventID(t *testing.T) {
	const want = "9100000a-0000-4000-8000-00000000000b"
	for _, id := range []string{want, "9100000A-0000-4000-8000-00000000000B", "{9100000a-0000-4000-8000-00000000000b}",
		"urn:uuid:9100000a-0000-4000-8000-00000000000b", "URN:UUID:9100000A-0000-4000-8000-00000000000B"} {
		if got := abacus.CanonicalEventID(id); got != want {
			t.Errorf("%q: %q, want %q", id, got, want)
		}
		ev := validEvent()
		ev.ID = id
		if err := ev.Validate(); err != nil || ev.ID != want {
			t.Errorf("Validate %q: %v, ID %q", id, err, ev.ID)
		}
		// What an earlier release stored as sent is kept to find it by.
		if wantSent := map[bool]string{true: id}[id[0] == '{' || id[0] == 'u' || id[0] == 'U']; ev.SentID != wantSent {
			t.Errorf("Validate %q: SentID %q, want %q", id, ev.SentID, wantSent)
		}
	}
	for _, id := range []string{"order-17", "{9100000a-0000-4000-8000-00000000000b", "9100000a-0000-4000-8000-00000000000b}",
		"urn:uuid:{9100000a-0000-4000-8000-00000000000b}", "9100000a00004000800000000000000b", "d41d8cd98f00b204e9800998ecf8427e", "uuid:9100000a-0000-4000-8000-00000000000b"} {
		if got := abacus.CanonicalEventID(id); got != id {
			t.Errorf("%q: %q, want it as sent", id, got)
		}
	}
}
