package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
)

// testReadBatch: one ReadBatch asking for everything locks and reads the
// wallets and finds, of what it is asked for, exactly what is stored: event
// ids, whole events, minute slots, counters and carries, the book version,
// idempotency records and reversals; and it reserves fresh transaction and
// hold ids.
func testReadBatch(t *testing.T, st abacus.Store) {
	c := mustAccount(t, st, 1, "USD")
	ev := abacus.StoredEvent{
		UsageEvent: abacus.UsageEvent{ID: "ev-1", Account: c.ID, Value: 3, Scene: 11, ResourceID: "gpu", CustomerID: "space-1", Time: at(60), Extra: "{}"},
		Status:     abacus.EventUnpriced, ReceivedAt: at(61), Currency: "USD",
	}
	slot := abacus.MinuteSlot{Scene: 11, CustomerID: "space-1", Minute: at(60), EventID: "ev-1"}
	counter := abacus.UsageCounter{Account: c.ID, Key: "1|1|6:minute|gpu", Currency: "USD", Period: at(0), Quantity: 40, PriceID: 7}
	carry := abacus.Carry{Account: c.ID, Period: at(0), Residue: "0.0000004"}
	otherPeriod := abacus.Carry{Account: c.ID, Period: at(0).AddDate(0, 1, 0), Residue: "0.0000009"}
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		return tx.Apply(t.Context(), &abacus.Changes{Events: []abacus.StoredEvent{ev}, Minutes: []abacus.MinuteSlot{slot},
			Counters: []abacus.UsageCounter{counter}, Carries: []abacus.Carry{carry, otherPeriod}})
	})
	// Quantities add up; a version of 0 leaves the stored one.
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		more := counter
		more.Quantity, more.PriceID = 2, 0
		return tx.Apply(t.Context(), &abacus.Changes{Counters: []abacus.UsageCounter{more}})
	})
	counter.Quantity = 42
	other := mustAccount(t, st, 2, "USD")
	var before, beforeHolds []int64
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		read, err := tx.ReadBatch(t.Context(), abacus.BatchReads{TxIDs: 1, HoldIDs: 1})
		before, beforeHolds = read.TxIDs, read.HoldIDs
		return err
	})
	// A key, and a charge that was reverted.
	_, rev := funded(t, st, 3)
	x := mustPost(t, st, abacus.Transaction{Type: abacus.TxCharge, CreatedAt: at(70)}, leg{c.cash(), -5}, leg{rev.ID, 5})
	y := mustPost(t, st, abacus.Transaction{Type: abacus.TxRevert, Reverts: x.ID, CreatedAt: at(71)}, leg{c.cash(), 5}, leg{rev.ID, -5})
	key := abacus.IdempotencyRecord{Key: "read-batch", Hash: []byte{7}, TxID: x.ID, CreatedAt: at(70)}
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		return tx.Apply(t.Context(), &abacus.Changes{Keys: []abacus.IdempotencyRecord{key}})
	})
	for _, w := range mustWallets(t, st, c.ID) {
		c.w[w.Bucket] = w
	}
	if err := st.PriceBookAdd(t.Context(), []abacus.Price{{SKUType: 1, SKUKind: 1, ResourceID: "gpu", UnitType: "minute", Currency: "USD",
		Unit: 1, Model: abacus.ModelPerUnit, UnitPrice: decimal.New(1, -2), ValidFrom: at(0), CreatedAt: at(0)}}, nil); err != nil {
		t.Fatal(err)
	}
	var got abacus.BatchState
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		absentSlot := slot
		absentSlot.Minute = at(120)
		absentCounter := counter
		absentCounter.Key = "1|1|6:minute|cpu"
		var err error
		got, err = tx.ReadBatch(t.Context(), abacus.BatchReads{
			Lock:     []int64{c.cash()},
			Read:     []int64{c.voucher(), c.cash()},
			EventIDs: []string{"ev-2", "ev-1"},
			Targets:  []string{"ev-1", "ev-3"},
			Slots:    []abacus.MinuteSlot{{Scene: 11, CustomerID: "space-1", Minute: at(60)}, absentSlot},
			Counters: []abacus.UsageCounter{{Account: c.ID, Key: counter.Key, Currency: "USD", Period: at(0)}, absentCounter},
			Carries:  []abacus.Carry{{Account: c.ID, Period: at(0)}, {Account: other.ID, Period: at(0)}},
			Keys:     []string{"absent", "read-batch"},
			Reverted: []int64{x.ID, y.ID},
			TxIDs:    2,
			HoldIDs:  1,
			Book:     true,
		})
		return err
	})
	same(t, "wallets", got.Wallets, []abacus.Wallet{c.w[abacus.BucketCash], c.w[abacus.BucketVoucher]})
	if len(got.Seen) != 1 || got.Seen[0].ID != "ev-1" || got.Seen[0].Value != 3 || got.Seen[0].Account != c.ID {
		t.Fatalf("seen events %+v, want ev-1 alone, as stored", got.Seen)
	}
	if len(got.Stored) != 1 || got.Stored[0].ID != "ev-1" || got.Stored[0].Value != 3 || got.Stored[0].Status != abacus.EventUnpriced {
		t.Fatalf("stored events %+v, want ev-1 alone", got.Stored)
	}
	same(t, "taken", got.Taken, []abacus.MinuteSlot{slot})
	same(t, "counters", got.Counters, []abacus.UsageCounter{counter})
	same(t, "carries", got.Carries, []abacus.Carry{carry})
	var audited []abacus.Carry
	if err := st.Audit(t.Context(), func(r abacus.AuditReader) error { return r.Carries(collect(&audited)) }); err != nil {
		t.Fatal(err)
	}
	same(t, "the audited carries", audited, []abacus.Carry{carry, otherPeriod})
	if len(got.TxIDs) != 2 || got.TxIDs[0] <= before[0] || got.TxIDs[1] <= got.TxIDs[0] {
		t.Fatalf("reserved transaction ids %v, want two increasing ids after %d", got.TxIDs, before[0])
	}
	if len(got.HoldIDs) != 1 || got.HoldIDs[0] <= beforeHolds[0] {
		t.Fatalf("reserved hold ids %v, want one after %d", got.HoldIDs, beforeHolds[0])
	}
	same(t, "idempotency records", got.Records, []abacus.IdempotencyRecord{key})
	same(t, "reversals", got.Reversals, map[int64]int64{x.ID: y.ID})
	if got.BookVersion < 1 {
		t.Fatalf("book version %d after a price was added, want at least 1", got.BookVersion)
	}
}

// testMonthPaid: the Paid of Changes is added, bucket by bucket, to the
// row of its account, currency, period and resource, by Apply and by
// Commit alike, negative parts included; MonthPaid reads the rows of a
// month back by resource, none where none was written, and the audit
// streams every row, by account, currency, period and resource. A write
// that rolls back adds nothing.
func testMonthPaid(t *testing.T, st abacus.Store) {
	c, other := mustAccount(t, st, 1, "USD"), mustAccount(t, st, 2, "USD")
	oct, nov := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	paid := func(acct abacus.AccountID, cur abacus.Currency, period time.Time, cash, bonus, voucher int64) abacus.MonthPaid {
		return abacus.MonthPaid{Account: acct, Currency: cur, Period: period, ResourceID: "gpu", Paid: abacus.Drawn{Cash: micros(cash), Bonus: micros(bonus), Voucher: micros(voucher)}}
	}
	cpu := func(p abacus.MonthPaid) abacus.MonthPaid {
		p.ResourceID = "cpu"
		return p
	}
	// In the order the ledger sorts them: account, currency, period, resource.
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		return tx.Apply(t.Context(), &abacus.Changes{Paid: []abacus.MonthPaid{
			paid(c.ID, "EUR", oct, 0, 2, 0),
			cpu(paid(c.ID, "USD", oct, 6, 0, 0)),
			paid(c.ID, "USD", oct, 5, 7, 11),
			paid(c.ID, "USD", nov, 5_000_000_000_000, 0, 1),
			paid(other.ID, "USD", oct, 3, 0, 4),
		}})
	})
	// More for one row, some of it coming back, and a new row, by Commit.
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		return tx.Commit(t.Context(), &abacus.Changes{Paid: []abacus.MonthPaid{
			paid(c.ID, "USD", oct, -2, 0, -3),
			paid(other.ID, "EUR", nov, 9, 0, 0),
		}})
	})
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		return tx.Apply(t.Context(), &abacus.Changes{Paid: []abacus.MonthPaid{paid(c.ID, "USD", oct, 1, -7, 0)}})
	})
	undone := errors.New("undone")
	err := st.Write(t.Context(), func(tx abacus.WriteTx) error {
		if err := tx.Apply(t.Context(), &abacus.Changes{Paid: []abacus.MonthPaid{
			paid(c.ID, "USD", oct, 100, 100, 100), paid(c.ID, "USD", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), 100, 0, 0),
		}}); err != nil {
			return err
		}
		return undone
	})
	if !errors.Is(err, undone) {
		t.Fatalf("a write that fails: %v, want its error", err)
	}
	want := []abacus.MonthPaid{
		paid(c.ID, "EUR", oct, 0, 2, 0),
		cpu(paid(c.ID, "USD", oct, 6, 0, 0)),
		paid(c.ID, "USD", oct, 4, 0, 8),
		paid(c.ID, "USD", nov, 5_000_000_000_000, 0, 1),
		paid(other.ID, "EUR", nov, 9, 0, 0),
		paid(other.ID, "USD", oct, 3, 0, 4),
	}
	absent := []abacus.MonthPaid{
		paid(c.ID, "USD", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), 0, 0, 0), // rolled back
		paid(c.ID, "EUR", nov, 0, 0, 0),
		cpu(paid(c.ID, "USD", nov, 0, 0, 0)),
		paid(other.ID, "GBP", oct, 0, 0, 0),
		paid(accountID(3), "USD", oct, 0, 0, 0),
	}
	keys := append(slices.Clone(want), absent...)
	read := make([]map[string]abacus.Drawn, len(keys))
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		for i, p := range keys {
			var err error
			if read[i], err = tx.MonthPaid(t.Context(), p.Account, p.Currency, p.Period); err != nil {
				return err
			}
		}
		return nil
	})
	for i, p := range keys {
		month := map[string]abacus.Drawn{}
		for _, w := range want {
			if w.Account == p.Account && w.Currency == p.Currency && w.Period.Equal(p.Period) {
				month[w.ResourceID] = w.Paid
			}
		}
		same(t, fmt.Sprintf("MonthPaid(%s, %s, %s)", p.Account, p.Currency, p.Period.Format("2006-01")), read[i], month)
	}
	var got []abacus.MonthPaid
	if err := st.Audit(t.Context(), func(r abacus.AuditReader) error { return r.MonthsPaid(collect(&got)) }); err != nil {
		t.Fatal(err)
	}
	same(t, "audited months paid", got, want)
}

// testDeadLetters: dead letters come back as recorded, headers included,
// in id order and by page; a second letter with the same key is not
// recorded.
func testDeadLetters(t *testing.T, st abacus.Store) {
	ctx := t.Context()
	letters := []abacus.DeadLetter{
		{Key: "nats:s:d:1", Source: "nats", Subject: "accounting.metering.duration", Reason: "value: is not a number",
			Payload: []byte{'{', 0, 0xff, '}'}, ReceivedAt: at(10)},
		{Key: "nats:s:d:2", Source: "nats", Subject: "accounting.metering.duration", Reason: "ce-time: is not a time",
			Payload: []byte(`{"value":1}`), ReceivedAt: at(11),
			Headers: map[string][]string{"ce-id": {"e1"}, "ce-time": {"yesterday"}, "X-Twice": {"a", "b\"\u00e9"}}},
		{Source: "nats", Subject: "s", Reason: "no key", Payload: []byte("x"), ReceivedAt: at(12)},
	}
	for _, d := range letters {
		if published, err := st.DeadLetterAdd(ctx, d); err != nil || published {
			t.Fatalf("adding a new dead letter: published %v, %v", published, err)
		}
	}
	again := letters[1]
	again.Reason = "recorded twice"
	if published, err := st.DeadLetterAdd(ctx, again); err != nil || published {
		t.Fatalf("adding a dead letter again before it was published: published %v, %v", published, err)
	}
	got, err := st.DeadLetters(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(letters) {
		t.Fatalf("%d dead letters, want %d: %+v", len(got), len(letters), got)
	}
	for i := range got {
		if got[i].ID <= 0 || (i > 0 && got[i].ID <= got[i-1].ID) {
			t.Fatalf("dead letter ids %d after %d", got[i].ID, got[max(i-1, 0)].ID)
		}
		want := letters[i]
		want.ID = got[i].ID
		same(t, fmt.Sprintf("dead letter %d", i), got[i], want)
	}
	page, err := st.DeadLetters(ctx, got[0].ID, 1)
	if err != nil || len(page) != 1 || page[0].ID != got[1].ID {
		t.Fatalf("the page after the first: %+v %v", page, err)
	}
}

// testDeadLetterPagesByBytes: a page of dead letters ends after the one
// that brings its bytes to MaxDeadLetterPage, whatever its limit, so that
// a listing's memory is bounded although each may hold a message of up to
// NATS's max payload; the next page goes on from there.
func testDeadLetterPagesByBytes(t *testing.T, st abacus.Store) {
	ctx := t.Context()
	big := bytes.Repeat([]byte("x"), abacus.MaxDeadLetterPage*2/5)
	for i := range 3 {
		if _, err := st.DeadLetterAdd(ctx, abacus.DeadLetter{Source: "nats", Subject: "s", Reason: fmt.Sprint("big ", i), Payload: big,
			ReceivedAt: time.Date(2026, 11, 1, 0, 0, i, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
	}
	// Two are under the page's bytes; the third brings it past them.
	first, err := st.DeadLetters(ctx, 0, 10)
	if err != nil || len(first) != 3 {
		t.Fatalf("first page: %d letters, %v; want 3 (the third passes the page's bytes)", len(first), err)
	}
	if _, err := st.DeadLetterAdd(ctx, abacus.DeadLetter{Source: "nats", Subject: "s", Reason: "small", Payload: []byte("x"),
		ReceivedAt: time.Date(2026, 11, 1, 0, 1, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	if again, err := st.DeadLetters(ctx, 0, 10); err != nil || len(again) != 3 {
		t.Fatalf("with one more: %d letters, %v; want the page to end at the third", len(again), err)
	}
	rest, err := st.DeadLetters(ctx, first[2].ID, 10)
	if err != nil || len(rest) != 1 || rest[0].Reason != "small" {
		t.Fatalf("the page after: %+v %v", rest, err)
	}
}

// testDeadLettersPublished: a dead letter is not published until marked
// so; added again after that, it says it was, and the listing gives the
// time it was first marked. A letter added again before it was marked is
// not.
func testDeadLettersPublished(t *testing.T, st abacus.Store) {
	ctx := t.Context()
	d := abacus.DeadLetter{Key: "nats:s:d:7:1", Source: "nats", Subject: "accounting.metering.duration", Reason: "body: is not valid JSON",
		Payload: []byte("{"), ReceivedAt: at(10)}
	other := d
	other.Key = "nats:s:d:7:2"
	for _, l := range []abacus.DeadLetter{d, d, other} {
		if published, err := st.DeadLetterAdd(ctx, l); err != nil || published {
			t.Fatalf("adding %s before it was marked published: published %v, %v", l.Key, published, err)
		}
	}
	if err := st.DeadLetterPublished(ctx, d.Key, at(11)); err != nil {
		t.Fatal(err)
	}
	if published, err := st.DeadLetterAdd(ctx, d); err != nil || !published {
		t.Fatalf("adding a dead letter again after it was marked published: published %v, %v; want true", published, err)
	}
	if published, err := st.DeadLetterAdd(ctx, other); err != nil || published {
		t.Fatalf("adding again a dead letter never marked: published %v, %v; want false", published, err)
	}
	if err := st.DeadLetterPublished(ctx, d.Key, at(20)); err != nil {
		t.Fatalf("marking a dead letter published twice: %v", err)
	}
	wantCode(t, "marking an unknown dead letter published", st.DeadLetterPublished(ctx, "nats:s:d:7:3", at(12)), abacus.CodeNotFound)
	got, err := st.DeadLetters(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d dead letters, want 2: %+v", len(got), got)
	}
	want := d
	want.ID, want.PublishedAt = got[0].ID, at(11) // the first marking's time
	same(t, "the published dead letter", got[0], want)
	want = other
	want.ID = got[1].ID
	same(t, "the dead letter never marked", got[1], want)
}

// testUsageListLimits: the lists of dead letters and internal events take
// a limit of at least one and say so; none returns everything instead.
func testUsageListLimits(t *testing.T, st abacus.Store) {
	for _, limit := range []int{0, -1} {
		_, err := st.DeadLetters(t.Context(), 0, limit)
		checkLimitError(t, "DeadLetters", err)
		_, err = st.Outbox(t.Context(), 0, limit)
		checkLimitError(t, "Outbox", err)
	}
}

func checkLimitError(t *testing.T, what string, err error) {
	t.Helper()
	var ae *abacus.Error
	if !asError(err, &ae) || ae.Code != abacus.CodeInvalid || ae.Field != "limit" {
		t.Fatalf("%s with a limit below 1: %v, want an invalid limit", what, err)
	}
}

// testFreedMinutes: a slot is given up only by the event that holds it,
// and can be taken again in the same write.
func testFreedMinutes(t *testing.T, st abacus.Store) {
	a := abacus.MinuteSlot{Scene: 11, CustomerID: "space-1", Minute: at(60), EventID: "a"}
	b := abacus.MinuteSlot{Scene: 11, CustomerID: "space-2", Minute: at(60), EventID: "b"}
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		return tx.Apply(t.Context(), &abacus.Changes{Minutes: []abacus.MinuteSlot{a, b}})
	})
	notB := b
	notB.EventID = "not-b"
	taker := a
	taker.EventID = "c"
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		return tx.Apply(t.Context(), &abacus.Changes{FreedMinutes: []abacus.MinuteSlot{a, notB}, Minutes: []abacus.MinuteSlot{taker}})
	})
	var got abacus.BatchState
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		var err error
		got, err = tx.ReadBatch(t.Context(), abacus.BatchReads{Slots: []abacus.MinuteSlot{slotKey(a), slotKey(b)}})
		return err
	})
	same(t, "slots", sortedSlots(got.Taken), []abacus.MinuteSlot{taker, b})
}

func slotKey(s abacus.MinuteSlot) abacus.MinuteSlot {
	s.EventID = ""
	return s
}

func sortedSlots(s []abacus.MinuteSlot) []abacus.MinuteSlot {
	slices.SortFunc(s, func(x, y abacus.MinuteSlot) int { return strings.Compare(x.CustomerID, y.CustomerID) })
	return s
}

// testEventsListing: an account's events come in event-time order (ties
// in the order stored), paged from the last one seen, whatever order they
// arrived in; without an account, events come in the order stored.
func testEventsListing(t *testing.T, st abacus.Store) {
	a, b := mustAccount(t, st, 1, "USD"), mustAccount(t, st, 2, "USD")
	event := func(id string, acct customer, seconds int, status abacus.EventStatus) abacus.StoredEvent {
		return abacus.StoredEvent{UsageEvent: abacus.UsageEvent{ID: id, Account: acct.ID, Value: 1, Scene: 11, ResourceID: "gpu", Time: at(seconds), Extra: "{}"},
			Status: status, ReceivedAt: at(1000), Currency: "USD"}
	}
	evs := []abacus.StoredEvent{
		event("a1", a, 100, abacus.EventUnpriced), event("a2", a, 50, abacus.EventUnpriced), // a2 arrives late
		event("a3", a, 100, abacus.EventUnpriced), event("b1", b, 10, abacus.EventUnpriced), event("a4", a, 200, abacus.EventVoided),
	}
	evs[4].Uncommitted = true
	mustWrite(t, st, func(tx abacus.WriteTx) error { return tx.Apply(t.Context(), &abacus.Changes{Events: evs}) })
	list := func(q abacus.EventQuery) []string {
		t.Helper()
		got, err := st.Events(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		ids := []string{}
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		return ids
	}
	seqOf := func(id string) int64 {
		t.Helper()
		got, err := st.Events(t.Context(), abacus.EventQuery{IDs: []string{id}, Limit: 1})
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: %v %v", id, got, err)
		}
		return got[0].Seq
	}
	same(t, "a's first page", list(abacus.EventQuery{Account: a.ID, Limit: 2}), []string{"a2", "a1"})
	same(t, "a's second page", list(abacus.EventQuery{Account: a.ID, AfterSeq: seqOf("a1"), Limit: 2}), []string{"a3", "a4"})
	same(t, "a's last page", list(abacus.EventQuery{Account: a.ID, AfterSeq: seqOf("a4"), Limit: 2}), []string{})
	// b1's position is no position of a's listing: taken as one, it placed
	// b's event among a's by time, and answered with an empty page it looked
	// like "nothing new" (QA); so is a seq that does not exist.
	for _, after := range []int64{seqOf("b1"), seqOf("a4") + 1000} {
		if _, err := st.Events(t.Context(), abacus.EventQuery{Account: a.ID, AfterSeq: after, Limit: 10}); abacus.ErrorCodeOf(err) != abacus.CodeInvalid || !strings.Contains(err.Error(), "after") {
			t.Errorf("a's after %d: %v, want refused naming after", after, err)
		}
	}
	same(t, "a's [100, 200)", list(abacus.EventQuery{Account: a.ID, From: at(100), To: at(200), Limit: 10}), []string{"a1", "a3"})
	same(t, "a's voided", list(abacus.EventQuery{Account: a.ID, Status: abacus.EventVoided, Limit: 10}), []string{"a4"})
	same(t, "everyone's, after a2", list(abacus.EventQuery{AfterSeq: seqOf("a2"), Limit: 2}), []string{"a3", "b1"})
	same(t, "unpriced", list(abacus.EventQuery{Status: abacus.EventUnpriced, Limit: 10}), []string{"a1", "a2", "a3", "b1"})
	same(t, "by id", list(abacus.EventQuery{IDs: []string{"b1", "a1"}, Limit: 10}), []string{"a1", "b1"})
	same(t, "voided", list(abacus.EventQuery{Status: abacus.EventVoided, Limit: 10}), []string{"a4"})
	same(t, "unpriced after a2", list(abacus.EventQuery{Status: abacus.EventUnpriced, AfterSeq: seqOf("a2"), Limit: 10}), []string{"a3", "b1"})
	if _, err := st.Events(t.Context(), abacus.EventQuery{Status: "lost' OR 'x' = 'x", Limit: 10}); abacus.ErrorCodeOf(err) != abacus.CodeInvalid {
		t.Fatalf("an unknown status: %v, want it refused as invalid", err)
	}
	// A licence used without a subscription is flagged; an update sets or
	// clears the flag (a rerate, a reprice).
	same(t, "uncommitted", list(abacus.EventQuery{Uncommitted: true, Limit: 10}), []string{"a4"})
	same(t, "a's uncommitted", list(abacus.EventQuery{Account: a.ID, Uncommitted: true, Limit: 10}), []string{"a4"})
	flip := func(id string, uncommitted bool) {
		t.Helper()
		got, err := st.Events(t.Context(), abacus.EventQuery{IDs: []string{id}, Limit: 1})
		if err != nil || len(got) != 1 || got[0].Uncommitted == uncommitted {
			t.Fatalf("%s before its update: %+v %v", id, got, err)
		}
		e := got[0]
		e.Uncommitted = uncommitted
		mustWrite(t, st, func(tx abacus.WriteTx) error {
			return tx.Apply(t.Context(), &abacus.Changes{EventUpdates: []abacus.StoredEvent{e}})
		})
	}
	flip("b1", true)
	flip("a4", false)
	same(t, "uncommitted after updates", list(abacus.EventQuery{Uncommitted: true, Limit: 10}), []string{"b1"})
}

// testEventIDSpellings: an event id is the exact string the producer sent,
// however the store keeps it. A UUID and the same UUID in capitals are
// two events, as are ids that only look like UUIDs; each is found,
// listed, updated and refused again by its own spelling alone.
func testEventIDSpellings(t *testing.T, st abacus.Store) {
	a := mustAccount(t, st, 1, "USD")
	ids := []string{
		"0d4c5e1a-3b2f-4c6d-8e9f-a0b1c2d3e4f5", // as CSGHub's producers send them
		"0D4C5E1A-3B2F-4C6D-8E9F-A0B1C2D3E4F5",
		"0d4c5e1a3b2f4c6d8e9fa0b1c2d3e4f5",
		"0d4c5e1a-3b2f-4c6d-8e9f-a0b1c2d3e4fg",
		"{0d4c5e1a-3b2f-4c6d-8e9f-a0b1c2d3e4f5}",
		"ffffffff-ffff-ffff-ffff-ffffffffffff",
		"00000000-0000-0000-0000-000000000000",
		"ev-1",
	}
	var evs []abacus.StoredEvent
	for i, id := range ids {
		evs = append(evs, abacus.StoredEvent{UsageEvent: abacus.UsageEvent{ID: id, Account: a.ID, Value: int64(i + 1), Scene: 11,
			ResourceID: "gpu", Time: at(i), Extra: "{}"}, Status: abacus.EventUnpriced, ReceivedAt: at(100), Currency: "USD"})
	}
	mustWrite(t, st, func(tx abacus.WriteTx) error { return tx.Apply(t.Context(), &abacus.Changes{Events: evs}) })

	absent := "0d4c5e1a-3b2f-4c6d-8e9f-a0b1c2d3e4f6"
	var got abacus.BatchState
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		var err error
		got, err = tx.ReadBatch(t.Context(), abacus.BatchReads{EventIDs: append([]string{absent}, ids...), Targets: []string{ids[0], absent}})
		return err
	})
	same(t, "seen", sortedStrings(eventIDs(got.Seen)), sortedStrings(ids))
	if len(got.Stored) != 1 || got.Stored[0].ID != ids[0] || got.Stored[0].Value != 1 {
		t.Fatalf("stored events %+v, want %s alone, with value 1", got.Stored, ids[0])
	}

	listed, err := st.Events(t.Context(), abacus.EventQuery{IDs: []string{ids[1], ids[0], absent}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 || listed[0].ID != ids[0] || listed[0].Value != 1 || listed[1].ID != ids[1] || listed[1].Value != 2 {
		t.Fatalf("listed %+v, want %s (value 1) and %s (value 2)", listed, ids[0], ids[1])
	}
	all, err := st.Events(t.Context(), abacus.EventQuery{Account: a.ID, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	var allIDs []string
	for _, e := range all {
		allIDs = append(allIDs, e.ID)
	}
	same(t, "the account's events", allIDs, ids)

	voided := listed[0]
	voided.Status = abacus.EventVoided
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		return tx.Apply(t.Context(), &abacus.Changes{EventUpdates: []abacus.StoredEvent{voided}})
	})
	after, err := st.Events(t.Context(), abacus.EventQuery{IDs: ids[:2], Limit: 10})
	if err != nil || len(after) != 2 || after[0].Status != abacus.EventVoided || after[1].Status != abacus.EventUnpriced {
		t.Fatalf("after voiding %s: %+v %v, want it voided and %s untouched", ids[0], after, err, ids[1])
	}

	err = st.Write(t.Context(), func(tx abacus.WriteTx) error {
		return tx.Apply(t.Context(), &abacus.Changes{Events: evs[:1]})
	})
	if !errors.Is(err, abacus.ErrRetry) {
		t.Fatalf("storing %s a second time: %v, want ErrRetry (the unique key refuses it)", ids[0], err)
	}
}

func eventIDs(evs []abacus.StoredEvent) []string {
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	return ids
}

func sortedStrings(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// testPriceVersionTaken: a price with the key, currency and valid_from of
// a stored version is refused, naming it, and nothing of its call is
// stored: not the other prices, not a new book version.
func testPriceVersionTaken(t *testing.T, st abacus.Store) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	gpu := abacus.Price{SKUType: 1, SKUKind: 1, ResourceID: "gpu", UnitType: "minute", Currency: "USD",
		Unit: 1, Model: abacus.ModelPerUnit, UnitPrice: decimal.New(1, -2), ValidFrom: from, CreatedAt: from}
	if err := st.PriceBookAdd(t.Context(), []abacus.Price{gpu}, nil); err != nil {
		t.Fatal(err)
	}
	before, err := st.PriceBookLoad(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cpu, again := gpu, gpu
	cpu.ResourceID = "cpu"
	again.UnitPrice = decimal.New(2, -2)
	again.ValidFrom = from.In(time.FixedZone("", 3600)) // the same instant
	err = st.PriceBookAdd(t.Context(), []abacus.Price{cpu, again}, []abacus.Commitment{{Account: "c", Months: 12, From: from, Until: from.AddDate(1, 0, 0)}})
	var ae *abacus.Error
	if !errors.As(err, &ae) || ae.Code != abacus.CodeConflict || ae.Field != "prices[1]" || !strings.Contains(ae.Message, "valid from 2026-01-01T00:00:00Z already") {
		t.Fatalf("a second version with the same valid_from: %v", err)
	}
	after, err := st.PriceBookLoad(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v, err := st.PriceBookVersion(t.Context()); err != nil || v != after.Version {
		t.Fatalf("version %d (%v), loaded as %d", v, err, after.Version)
	}
	if after.Version != before.Version || len(after.Prices) != 1 || len(after.Commitments) != 0 {
		t.Fatalf("the refused call left version %d (was %d), %d prices, %d commitments", after.Version, before.Version, len(after.Prices), len(after.Commitments))
	}
	later := again
	later.ValidFrom = from.Add(time.Microsecond)
	if err := st.PriceBookAdd(t.Context(), []abacus.Price{later}, nil); err != nil {
		t.Fatalf("a version a microsecond later: %v", err)
	}
	if v, err := st.PriceBookVersion(t.Context()); err != nil || v != before.Version+1 {
		t.Fatalf("version %d (%v) after a version was added to %d", v, err, before.Version)
	}
}

// testPriceTooEarly: once an event was charged at a price version, a new
// version taking over from it must take effect after that event (the
// latest over every shard; an earlier use never lowers it), and a
// commitment may not cover a time in which its account has a charged
// event. A refused call stores nothing. Another currency, an account
// without charged events, an unpriced event, a version before the first
// (whose events were unpriced) and a commitment that ended before the
// account's events hold nothing back.
func testPriceTooEarly(t *testing.T, st abacus.Store) {
	ctx := t.Context()
	jan := func(day int) time.Time { return time.Date(2026, 1, day, 0, 0, 0, 0, time.UTC) }
	gpu := abacus.Price{SKUType: 1, SKUKind: 1, ResourceID: "gpu", UnitType: "minute", Currency: "USD",
		Unit: 1, Model: abacus.ModelPerUnit, UnitPrice: decimal.New(1, -2), ValidFrom: jan(1), CreatedAt: jan(1)}
	cpu := gpu
	cpu.ResourceID, cpu.ValidFrom = "cpu", jan(20)
	if err := st.PriceBookAdd(ctx, []abacus.Price{gpu, cpu}, nil); err != nil {
		t.Fatal(err)
	}
	book, err := st.PriceBookLoad(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, cpuID := book.Prices[0].ID, book.Prices[1].ID
	a, b := mustAccount(t, st, 1, "USD"), mustAccount(t, st, 2, "USD")
	event := func(eid string, acct customer, at time.Time, status abacus.EventStatus, prices ...int64) abacus.StoredEvent {
		return abacus.StoredEvent{UsageEvent: abacus.UsageEvent{ID: eid, Account: acct.ID, Value: 1, Scene: 11, ResourceID: "gpu", Time: at, Extra: "{}"},
			Status: status, ReceivedAt: jan(20), Currency: "USD", PriceIDs: prices}
	}
	onCPU := event("e3", b, jan(25), abacus.EventCharged, cpuID)
	onCPU.ResourceID = "cpu"
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		return tx.Apply(ctx, &abacus.Changes{
			Events: []abacus.StoredEvent{event("e1", a, jan(10), abacus.EventCharged, id), event("e2", a, jan(15), abacus.EventUnpriced), onCPU},
			PriceUses: []abacus.PriceUse{{PriceID: id, Shard: 0, Latest: jan(5)}, {PriceID: id, Shard: 3, Latest: jan(10)},
				{PriceID: cpuID, Shard: 1, Latest: jan(25)}},
		})
	})
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		return tx.Apply(ctx, &abacus.Changes{PriceUses: []abacus.PriceUse{{PriceID: id, Shard: 3, Latest: jan(2)}}})
	})
	before, err := st.PriceBookLoad(ctx)
	if err != nil {
		t.Fatal(err)
	}
	unchanged := func(what string) {
		t.Helper()
		after, err := st.PriceBookLoad(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after.Version != before.Version || len(after.Prices) != len(before.Prices) || len(after.Commitments) != len(before.Commitments) {
			t.Fatalf("%s: the call stored something", what)
		}
	}
	// Each refusal is checked as PriceBookAdd's and as PriceBookCheck's,
	// the dry run, which refuses the same and changes nothing either way.
	refused := func(what string, prices []abacus.Price, commitments []abacus.Commitment, field string) {
		t.Helper()
		for _, add := range []func(context.Context, []abacus.Price, []abacus.Commitment) error{st.PriceBookAdd, st.PriceBookCheck} {
			err := add(ctx, prices, commitments)
			var ae *abacus.Error
			if !errors.As(err, &ae) || ae.Code != abacus.CodeConflict || ae.Field != field || !strings.Contains(ae.Message, "2026-01-10T00:00:00Z") {
				t.Fatalf("%s: %v, want a conflict naming %s and the latest charged event", what, err, field)
			}
			unchanged(what)
		}
	}
	eur, atEvent, early := gpu, gpu, gpu
	eur.Currency = "EUR"
	atEvent.ValidFrom, atEvent.UnitPrice = jan(10), decimal.New(2, -2)
	early.ValidFrom = jan(3)
	refused("a version from the latest charged event's time", []abacus.Price{eur, atEvent}, nil, "prices[1].valid_from")
	refused("a version from before it", []abacus.Price{early}, nil, "prices[0].valid_from")
	year := func(acct customer, from time.Time) abacus.Commitment {
		return abacus.Commitment{Account: acct.ID, Months: 12, From: from, Until: from.AddDate(1, 0, 0)}
	}
	c := abacus.Commitment{Account: "c", Months: 12, From: jan(1), Until: jan(2)}
	refused("a commitment from the account's latest charged event", nil, []abacus.Commitment{c, year(a, jan(10))}, "commitments[1].from")
	// A volume price takes the discount in force at its month's start, so a
	// commitment that ends within a month reaches that month's events.
	refused("a commitment ending in the month of a charged event", nil,
		[]abacus.Commitment{{Account: a.ID, Months: 12, From: jan(1), Until: jan(5)}}, "commitments[0].until")

	later := atEvent
	later.ValidFrom = jan(10).Add(time.Microsecond)
	cpuBefore := cpu
	cpuBefore.ValidFrom = jan(5)
	ended := abacus.Commitment{Account: a.ID, Months: 12, From: jan(1).AddDate(0, -2, 0), Until: jan(1)}
	fine, fineCommitments := []abacus.Price{eur, later, cpuBefore}, []abacus.Commitment{c, year(a, jan(10).Add(time.Microsecond)), ended}
	if err := st.PriceBookCheck(ctx, fine, fineCommitments); err != nil {
		t.Fatalf("the dry run of what is accepted: %v", err)
	}
	unchanged("the dry run of what is accepted")
	err = st.PriceBookAdd(ctx, fine, fineCommitments)
	if err != nil {
		t.Fatalf("versions after the latest charged event, another currency, one before the first version; commitments of an account with "+
			"none charged, after the latest event, ended before it: %v", err)
	}
}
