package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
)

// testCommitmentEnds: a commitment of a stored term coming in moves that
// commitment's end, which stays on record; an end that would change the
// charge of an event already charged, ending the discount under it or
// giving the discount back to one charged without it, is refused naming
// ended and the event, and changes nothing; a new commitment may come in
// ended.
func testCommitmentEnds(t *testing.T, st abacus.Store) {
	ctx := t.Context()
	day := func(month time.Month, d int) time.Time { return time.Date(2026, month, d, 0, 0, 0, 0, time.UTC) }
	gpu := abacus.Price{SKUType: 1, SKUKind: 1, ResourceID: "gpu", UnitType: "minute", Currency: "USD",
		Unit: 1, Model: abacus.ModelPerUnit, UnitPrice: decimal.New(1, -2), ValidFrom: day(1, 1), CreatedAt: day(1, 1)}
	a, b := mustAccount(t, st, 1, "USD"), mustAccount(t, st, 2, "USD")
	year := abacus.Commitment{Account: a.ID, Months: 12, From: day(1, 1), Until: day(1, 1).AddDate(1, 0, 0)}
	if err := st.PriceBookAdd(ctx, []abacus.Price{gpu}, []abacus.Commitment{year}); err != nil {
		t.Fatal(err)
	}
	book, err := st.PriceBookLoad(ctx)
	if err != nil {
		t.Fatal(err)
	}
	chargeTo := func(acct abacus.AccountID, id string, at time.Time) {
		t.Helper()
		mustWrite(t, st, func(tx abacus.WriteTx) error {
			return tx.Apply(ctx, &abacus.Changes{Events: []abacus.StoredEvent{{
				UsageEvent: abacus.UsageEvent{ID: id, Account: acct, Value: 1, Scene: 11, ResourceID: "gpu", Time: at, Extra: "{}"},
				Status:     abacus.EventCharged, ReceivedAt: at, Currency: "USD", PriceIDs: []int64{book.Prices[0].ID}}}})
		})
	}
	charge := func(id string, at time.Time) { t.Helper(); chargeTo(a.ID, id, at) }
	charge("feb", day(2, 10))
	charge("mar", day(3, 20))

	ends := func() []time.Time {
		t.Helper()
		book, err := st.PriceBookLoad(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []time.Time
		for _, c := range book.Commitments {
			if !c.Until.Equal(c.From.AddDate(1, 0, 0)) || c.Months != 12 {
				t.Fatalf("a commitment's term changed: %+v", c)
			}
			out = append(out, c.End())
		}
		return out
	}
	same := func(what string, want ...time.Time) {
		t.Helper()
		got := ends()
		if len(got) != len(want) {
			t.Fatalf("%s: the commitments end at %v, want %v", what, got, want)
		}
		for i := range got {
			if !got[i].Equal(want[i]) {
				t.Fatalf("%s: the commitments end at %v, want %v", what, got, want)
			}
		}
	}
	refused := func(what string, c abacus.Commitment, field, event string, want ...time.Time) {
		t.Helper()
		for _, add := range []func(context.Context, []abacus.Price, []abacus.Commitment) error{st.PriceBookAdd, st.PriceBookCheck} {
			err := add(ctx, nil, []abacus.Commitment{c})
			var ae *abacus.Error
			if !errors.As(err, &ae) || ae.Code != abacus.CodeConflict || ae.Field != field || !strings.Contains(ae.Message, event) {
				t.Fatalf("%s: %v, want a conflict naming %s and the event at %s", what, err, field, event)
			}
			same(what, want...)
		}
	}
	ended := func(at time.Time) abacus.Commitment { c := year; c.Ended = at; return c }

	refused("an end before a charged event", ended(day(3, 1)), "commitments[0].ended", "2026-03-20T00:00:00Z", year.Until)
	if err := st.PriceBookCheck(ctx, nil, []abacus.Commitment{ended(day(4, 15))}); err != nil {
		t.Fatalf("the dry run of an end after every charged event: %v", err)
	}
	same("the dry run", year.Until)
	if err := st.PriceBookAdd(ctx, nil, []abacus.Commitment{ended(day(4, 15))}); err != nil {
		t.Fatalf("an end after every charged event: %v", err)
	}
	same("ended", day(4, 15))
	if err := st.PriceBookAdd(ctx, nil, []abacus.Commitment{ended(day(4, 15))}); err != nil {
		t.Fatalf("the same end again: %v", err)
	}
	same("the same end again", day(4, 15))

	// Charged without the discount after its end, an event keeps the end
	// from moving past it; an end moved earlier, over no charged event,
	// is taken.
	charge("may", day(5, 5))
	charge("jun", day(6, 10))
	refused("an end moved past an event charged without the discount", ended(day(6, 15)), "commitments[0].ended", "2026-05-05T00:00:00Z", day(4, 15))
	refused("the end undone", year, "commitments[0].ended", "2026-05-05T00:00:00Z", day(4, 15))
	// The refusal says how far it may move: to the start of the month of
	// the first event after it, as a price that counts usage takes the
	// discount of its month's start.
	err = st.PriceBookAdd(ctx, nil, []abacus.Commitment{ended(day(6, 15))})
	if err == nil || !strings.Contains(err.Error(), "end it at 2026-05-01T00:00:00Z at the latest") {
		t.Fatalf("the refusal of an end moved later: %v", err)
	}
	if err := st.PriceBookAdd(ctx, nil, []abacus.Commitment{ended(day(5, 1))}); err != nil {
		t.Fatalf("an end moved as late as the refusal said: %v", err)
	}
	same("moved later", day(5, 1))
	err = st.PriceBookAdd(ctx, nil, []abacus.Commitment{ended(day(5, 2))})
	if err == nil || !strings.Contains(err.Error(), "so its end cannot move later") {
		t.Fatalf("the refusal of an end moved into the month of the next event: %v", err)
	}
	if err := st.PriceBookAdd(ctx, nil, []abacus.Commitment{ended(day(4, 1))}); err != nil {
		t.Fatalf("an end moved earlier: %v", err)
	}
	same("moved earlier", day(4, 1))

	// A new commitment may come in ended; its end's month must not hold a
	// charged event, as a price that counts usage takes the discount of the
	// month's start for the whole month.
	may := abacus.Commitment{Account: a.ID, Months: 12, From: day(5, 1), Until: day(5, 1).AddDate(1, 0, 0), Ended: day(5, 3)}
	refused("a new commitment ended in the month of a charged event", may, "commitments[0].ended", "2026-05-05T00:00:00Z", day(4, 1))
	other := abacus.Commitment{Account: b.ID, Months: 12, From: day(2, 1), Until: day(2, 1).AddDate(1, 0, 0), Ended: day(8, 1)}
	if err := st.PriceBookAdd(ctx, nil, []abacus.Commitment{other}); err != nil {
		t.Fatalf("a new commitment ended: %v", err)
	}
	same("a new commitment ended", day(4, 1), day(8, 1))

	// An event after a mid-month end, in its month, took that month's
	// discount from a price that counts usage: no earlier end can take it
	// back, and the refusal says so rather than to end it after the event
	// (QA: that end was refused too).
	c := mustAccount(t, st, 3, "USD")
	third := abacus.Commitment{Account: c.ID, Months: 12, From: day(1, 1), Until: day(1, 1).AddDate(1, 0, 0), Ended: day(6, 15)}
	if err := st.PriceBookAdd(ctx, nil, []abacus.Commitment{third}); err != nil {
		t.Fatal(err)
	}
	chargeTo(c.ID, "c-jun", day(6, 20))
	third.Ended = day(6, 1)
	err = st.PriceBookAdd(ctx, nil, []abacus.Commitment{third})
	var ae *abacus.Error
	if !errors.As(err, &ae) || ae.Field != "commitments[0].ended" || !strings.Contains(ae.Message, "2026-06-20T00:00:00Z") || !strings.Contains(ae.Message, "so its end cannot move earlier") {
		t.Fatalf("an end moved earlier over an event in its month after it: %v", err)
	}
	same("the refused earlier end", day(4, 1), day(8, 1), day(6, 15))
}
