package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
)

func jan(day int) time.Time { return time.Date(2026, 1, day, 0, 0, 0, 0, time.UTC) }

// gpuPrice is a version of one key, valid from jan(day).
func gpuPrice(day int, cents int64) abacus.Price {
	return abacus.Price{SKUType: 1, SKUKind: 1, ResourceID: "gpu", UnitType: "minute", Currency: "USD",
		Unit: 1, Model: abacus.ModelPerUnit, UnitPrice: decimal.New(cents, -2), ValidFrom: jan(day), CreatedAt: jan(day)}
}

func mustBook(t testing.TB, st abacus.Store) *abacus.PriceBook {
	t.Helper()
	b, err := st.PriceBookLoad(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// chargedAt records that the version id charged an event at latest, as a
// usage batch does.
func chargedAt(t testing.TB, st abacus.Store, id int64, latest time.Time) {
	t.Helper()
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		return tx.Apply(t.Context(), &abacus.Changes{PriceUses: []abacus.PriceUse{{PriceID: id, Shard: 1, Latest: latest}}})
	})
}

// testPriceRevisionRoundTrip: a version's revision is stored as given, by
// PriceBookAdd and by PriceBookCorrect, and comes back from the book and
// from the audit.
func testPriceRevisionRoundTrip(t *testing.T, st abacus.Store) {
	first, other := gpuPrice(1, 1), gpuPrice(1, 3)
	other.ResourceID, other.Revision = "cpu", 2
	if err := st.PriceBookAdd(t.Context(), []abacus.Price{first, other}, nil); err != nil {
		t.Fatal(err)
	}
	fix := gpuPrice(1, 2)
	fix.Revision = 1
	if err := st.PriceBookCorrect(t.Context(), []abacus.Price{fix}); err != nil {
		t.Fatal(err)
	}
	book := mustBook(t, st)
	want := []abacus.Price{first, other, fix}
	if len(book.Prices) != len(want) {
		t.Fatalf("%d prices, want %d: %+v", len(book.Prices), len(want), book.Prices)
	}
	for i := range want {
		want[i].ID = book.Prices[i].ID
	}
	same(t, "the book's prices", book.Prices, want)
	var audited []abacus.Price
	if err := st.Audit(t.Context(), func(r abacus.AuditReader) error { return r.Prices(collect(&audited)) }); err != nil {
		t.Fatal(err)
	}
	same(t, "the audited prices", audited, want)
}

// testPriceCorrectTooEarly: a correction may take effect before events
// already charged at the version it takes over from (the engine reprices
// them), where PriceBookAdd refuses it; it bumps the book's version.
func testPriceCorrectTooEarly(t *testing.T, st abacus.Store) {
	ctx := t.Context()
	if err := st.PriceBookAdd(ctx, []abacus.Price{gpuPrice(1, 1)}, nil); err != nil {
		t.Fatal(err)
	}
	chargedAt(t, st, mustBook(t, st).Prices[0].ID, jan(10))
	before := mustBook(t, st)
	early := gpuPrice(5, 2)
	var ae *abacus.Error
	if err := st.PriceBookAdd(ctx, []abacus.Price{early}, nil); !errors.As(err, &ae) || ae.Field != "prices[0].valid_from" {
		t.Fatalf("PriceBookAdd of a version before a charged event: %v, want it refused", err)
	}
	if err := st.PriceBookCorrect(ctx, []abacus.Price{early}); err != nil {
		t.Fatalf("PriceBookCorrect of the same version: %v", err)
	}
	after := mustBook(t, st)
	if after.Version <= before.Version || len(after.Prices) != 2 || !after.Prices[1].ValidFrom.Equal(jan(5)) {
		t.Fatalf("after the correction: version %d (was %d), prices %+v", after.Version, before.Version, after.Prices)
	}
}

// testPriceCorrectRevisionTaken: a correction at the next revision of a
// stored version is accepted; a second with the same revision is refused,
// naming it, and nothing of its call is stored. PriceBookAdd still refuses
// a version where revision 0 is taken.
func testPriceCorrectRevisionTaken(t *testing.T, st abacus.Store) {
	ctx := t.Context()
	if err := st.PriceBookAdd(ctx, []abacus.Price{gpuPrice(1, 1)}, nil); err != nil {
		t.Fatal(err)
	}
	fix := gpuPrice(1, 2)
	fix.Revision = 1
	if err := st.PriceBookCorrect(ctx, []abacus.Price{fix}); err != nil {
		t.Fatalf("revision 1 of a stored version: %v", err)
	}
	before := mustBook(t, st)
	cpu, again := gpuPrice(1, 5), fix
	cpu.ResourceID = "cpu"
	again.UnitPrice = decimal.New(3, -2)
	err := st.PriceBookCorrect(ctx, []abacus.Price{cpu, again})
	var ae *abacus.Error
	if !errors.As(err, &ae) || ae.Code != abacus.CodeConflict || ae.Field != "prices[1]" {
		t.Fatalf("a second revision 1: %v, want a conflict naming prices[1]", err)
	}
	after := mustBook(t, st)
	if after.Version != before.Version || len(after.Prices) != len(before.Prices) {
		t.Fatalf("the refused call left version %d (was %d) and %d prices (were %d)", after.Version, before.Version, len(after.Prices), len(before.Prices))
	}
	err = st.PriceBookAdd(ctx, []abacus.Price{gpuPrice(1, 4)}, nil)
	if !errors.As(err, &ae) || ae.Code != abacus.CodeConflict || ae.Field != "prices[0]" {
		t.Fatalf("PriceBookAdd at a stored valid_from: %v, want it refused as taken", err)
	}
}

// testPriceTooEarlyRevisions: the events charged at every revision of the
// version in force just before a new one hold it back, not only those of
// the highest: a correction leaves what its predecessor charged.
func testPriceTooEarlyRevisions(t *testing.T, st abacus.Store) {
	ctx := t.Context()
	if err := st.PriceBookAdd(ctx, []abacus.Price{gpuPrice(1, 1)}, nil); err != nil {
		t.Fatal(err)
	}
	chargedAt(t, st, mustBook(t, st).Prices[0].ID, jan(10))
	fix := gpuPrice(1, 2)
	fix.Revision = 1
	if err := st.PriceBookCorrect(ctx, []abacus.Price{fix}); err != nil {
		t.Fatal(err)
	}
	err := st.PriceBookAdd(ctx, []abacus.Price{gpuPrice(5, 3)}, nil)
	var ae *abacus.Error
	if !errors.As(err, &ae) || ae.Code != abacus.CodeConflict || ae.Field != "prices[0].valid_from" {
		t.Fatalf("a version before an event charged at revision 0: %v, want it refused", err)
	}
	later := gpuPrice(10, 3)
	later.ValidFrom = jan(10).Add(time.Microsecond)
	if err := st.PriceBookAdd(ctx, []abacus.Price{later}, nil); err != nil {
		t.Fatalf("a version after the event: %v", err)
	}
}

// testReprices: the reprices a usage batch writes come back from the audit
// as written, in the order stored, across batches; those of a write that
// rolls back are not stored.
func testReprices(t *testing.T, st abacus.Store) {
	a := mustAccount(t, st, 1, "USD")
	ev := abacus.StoredEvent{UsageEvent: abacus.UsageEvent{ID: "ev-1", Account: a.ID, Value: 3, Scene: 11, ResourceID: "gpu", Time: at(60), Extra: "{}"},
		Status: abacus.EventCharged, ReceivedAt: at(61), Currency: "USD", Charged: micros(30), PriceIDs: []int64{1}}
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		return tx.Apply(t.Context(), &abacus.Changes{Events: []abacus.StoredEvent{ev}})
	})
	stored, err := st.Events(t.Context(), abacus.EventQuery{IDs: []string{ev.ID}, Limit: 1})
	if err != nil || len(stored) != 1 {
		t.Fatalf("the event: %+v %v", stored, err)
	}
	ev = stored[0]
	want := []abacus.Reprice{
		{EventSeq: ev.Seq, Account: a.ID, Currency: "USD", Amount: micros(-12), PriceIDs: []int64{1, 7, 3}, CreatedAt: at(100)},
		{EventSeq: ev.Seq, Account: a.ID, Currency: "USD", EventTxID: 41, TxID: 42, Amount: micros(5), PriceIDs: []int64{8}, CreatedAt: at(101)},
	}
	ev.Charged, ev.PriceIDs = micros(18), []int64{8}
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		return tx.Commit(t.Context(), &abacus.Changes{EventUpdates: []abacus.StoredEvent{ev}, Reprices: want})
	})
	third := abacus.Reprice{EventSeq: ev.Seq + 1, Account: "b", Currency: "EUR", EventTxID: 9, Amount: micros(-1), CreatedAt: at(50)}
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		return tx.Apply(t.Context(), &abacus.Changes{Reprices: []abacus.Reprice{third}})
	})
	want = append(want, third)
	undone := errors.New("undone")
	err = st.Write(t.Context(), func(tx abacus.WriteTx) error {
		if err := tx.Apply(t.Context(), &abacus.Changes{Reprices: want[:1]}); err != nil {
			return err
		}
		return undone
	})
	if !errors.Is(err, undone) {
		t.Fatalf("a write that fails: %v, want its error", err)
	}
	var got []abacus.Reprice
	if err := st.Audit(t.Context(), func(r abacus.AuditReader) error { return r.Reprices(collect(&got)) }); err != nil {
		t.Fatal(err)
	}
	same(t, "audited reprices", got, want)
}

// tieredPrice is a graduated version of gpuPrice's key, valid from
// jan(day): its tiers count the month's usage.
func tieredPrice(day int) abacus.Price {
	p := gpuPrice(day, 1)
	p.Model, p.UnitPrice = abacus.ModelGraduated, decimal.Decimal{}
	p.Tiers = []abacus.PriceTier{{UpTo: 100, UnitPrice: decimal.New(2, -2)}, {UnitPrice: decimal.New(1, -2)}}
	return p
}

// testPriceBookOneCountedVersionAMonth: the store itself refuses a version
// that would put a second version counting usage in a month, whether it is
// added or a correction, and checks it in the transaction that stores it:
// of two calls that each pass against the book they started from, and
// race, one stores and the other is refused, leaving nothing behind.
func testPriceBookOneCountedVersionAMonth(t *testing.T, st abacus.Store) {
	ctx := t.Context()
	if err := st.PriceBookAdd(ctx, []abacus.Price{tieredPrice(1)}, nil); err != nil {
		t.Fatal(err)
	}
	var ae *abacus.Error
	for name, change := range map[string]func([]abacus.Price) error{
		"PriceBookAdd":     func(p []abacus.Price) error { return st.PriceBookAdd(ctx, p, nil) },
		"PriceBookCorrect": func(p []abacus.Price) error { return st.PriceBookCorrect(ctx, p) },
	} {
		before := mustBook(t, st)
		err := change([]abacus.Price{gpuPrice(3, 1), tieredPrice(15)})
		if !errors.As(err, &ae) || ae.Field != "prices[1].valid_from" {
			t.Fatalf("%s of a second counted version in January: %v, want prices[1].valid_from refused", name, err)
		}
		if after := mustBook(t, st); after.Version != before.Version || len(after.Prices) != len(before.Prices) {
			t.Fatalf("%s refused left version %d (was %d) and %d prices (were %d)", name, after.Version, before.Version, len(after.Prices), len(before.Prices))
		}
	}

	// February has no version yet: each of two from within it is valid
	// alone, and together they are not.
	for round := range 10 {
		first, other := tieredPrice(33), tieredPrice(34) // February 2 and 3
		first.ResourceID = fmt.Sprintf("gpu-%d", round)  // a fresh key each round
		other.ResourceID = first.ResourceID
		start := mustBook(t, st)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, p := range []abacus.Price{first, other} {
			wg.Go(func() { errs[i] = st.PriceBookAdd(ctx, []abacus.Price{p}, nil) })
		}
		wg.Wait()
		stored := 0
		for _, err := range errs {
			switch {
			case err == nil:
				stored++
			case !errors.As(err, &ae) || ae.Field != "prices[0].valid_from":
				t.Fatalf("round %d: %v, want prices[0].valid_from refused", round, err)
			}
		}
		book := mustBook(t, st)
		if stored != 1 || len(book.Prices) != len(start.Prices)+1 || book.Version != start.Version+1 {
			t.Fatalf("round %d: %d of two racing versions stored; the book went from %d prices at version %d to %d at %d",
				round, stored, len(start.Prices), start.Version, len(book.Prices), book.Version)
		}
	}
}
