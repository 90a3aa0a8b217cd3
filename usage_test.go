package abacus_test

import (
	"errors"
	"math"
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
