package storetest

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
)

func testTransactions(t *testing.T, st abacus.Store) {
	c, rev := funded(t, st, 1)
	eur := mustAccount(t, st, 2, "EUR")
	adjEUR := mustSystem(t, st, "EUR", abacus.SystemAdjustments)
	x1 := mustPost(t, st, abacus.Transaction{Type: abacus.TxCharge, Memo: "charge ✓", CreatedAt: at(20)},
		leg{rev.ID, 3}, leg{c.bonus(), -1}, leg{c.voucher(), -2})
	x2 := mustPost(t, st, abacus.Transaction{Type: abacus.TxAdjust, CreatedAt: at(21)}, leg{adjEUR.ID, -9}, leg{eur.cash(), 9})
	x3 := mustPost(t, st, abacus.Transaction{Type: abacus.TxRevert, Reverts: x1.ID, CreatedAt: at(22)},
		leg{c.voucher(), 2}, leg{rev.ID, -3}, leg{c.bonus(), 1})
	x4 := mustPost(t, st, abacus.Transaction{Type: abacus.TxHoldPost, HoldID: 5, CreatedAt: at(23)}, leg{c.cash(), -4}, leg{rev.ID, 4})
	for _, x := range []abacus.Transaction{x1, x2, x3, x4} {
		if !slices.IsSortedFunc(x.Postings, func(p, q abacus.Posting) int { return cmp.Compare(p.WalletID, q.WalletID) }) {
			t.Fatalf("fixture: postings not in wallet order: %+v", x.Postings)
		}
	}
	same(t, "Transactions, postings in wallet order", mustTransactions(t, st, x3.ID, 999_999, x1.ID, x4.ID, x2.ID, x1.ID),
		[]abacus.Transaction{x1, x2, x3, x4})
	same(t, "Transactions of one id", mustTransactions(t, st, x2.ID), []abacus.Transaction{x2})
	same(t, "Transactions of missing ids", mustTransactions(t, st, 999_999, -1, 0), []abacus.Transaction(nil))
	same(t, "Transactions of no ids", mustTransactions(t, st), []abacus.Transaction(nil))
}

func mustEntries(t testing.TB, st abacus.Store, q abacus.EntryQuery) []abacus.Entry {
	t.Helper()
	es, err := st.Entries(t.Context(), q)
	if err != nil {
		t.Fatalf("Entries(%+v): %v", q, err)
	}
	return es
}

// entriesOf returns the postings of txs on account, in page order: newest
// transaction first, then by wallet.
func entriesOf(account abacus.AccountID, txs ...abacus.Transaction) []abacus.Entry {
	var out []abacus.Entry
	for _, x := range txs {
		for _, p := range x.Postings {
			if p.Account == account {
				out = append(out, abacus.Entry{Posting: p, Type: x.Type, Memo: x.Memo, CreatedAt: x.CreatedAt})
			}
		}
	}
	slices.SortFunc(out, func(a, b abacus.Entry) int {
		if c := cmp.Compare(b.TxID, a.TxID); c != 0 {
			return c
		}
		return cmp.Compare(a.WalletID, b.WalletID)
	})
	return out
}

func testEntries(t *testing.T, st abacus.Store) {
	c := mustAccount(t, st, 1, "USD")
	d := mustAccount(t, st, 2, "USD")
	rev := mustSystem(t, st, "USD", abacus.SystemRevenue)
	revEUR := mustSystem(t, st, "EUR", abacus.SystemRevenue)
	adjEUR := mustSystem(t, st, "EUR", abacus.SystemAdjustments)
	same(t, "Entries of an account without postings", mustEntries(t, st, abacus.EntryQuery{Account: c.ID, Limit: 10}), []abacus.Entry(nil))
	x1 := mustPost(t, st, abacus.Transaction{Type: abacus.TxCharge, Memo: "one", CreatedAt: at(1)}, leg{c.cash(), -1}, leg{rev.ID, 1})
	x2 := mustPost(t, st, abacus.Transaction{Type: abacus.TxCharge, Memo: "two", CreatedAt: at(2)}, leg{d.cash(), -2}, leg{rev.ID, 2})
	x3 := mustPost(t, st, abacus.Transaction{Type: abacus.TxTransfer, Memo: "three", CreatedAt: at(3)},
		leg{c.voucher(), 3}, leg{c.cash(), -3})
	x4 := mustPost(t, st, abacus.Transaction{Type: abacus.TxAdjust, CreatedAt: at(4)}, leg{revEUR.ID, 4}, leg{adjEUR.ID, -4})
	all := []abacus.Transaction{x1, x2, x3, x4}

	want := entriesOf(c.ID, all...)
	if len(want) != 3 {
		t.Fatalf("fixture: %+v", want)
	}
	same(t, "Entries", mustEntries(t, st, abacus.EntryQuery{Account: c.ID, Limit: 100}), want)
	same(t, "Entries of another account", mustEntries(t, st, abacus.EntryQuery{Account: d.ID, Limit: 100}), entriesOf(d.ID, all...))
	same(t, "Entries of a system account in two currencies", mustEntries(t, st, abacus.EntryQuery{Account: abacus.SystemRevenue.ID(), Limit: 100}),
		entriesOf(abacus.SystemRevenue.ID(), all...))
	same(t, "Entries of a missing account", mustEntries(t, st, abacus.EntryQuery{Account: accountID(9), Limit: 100}), []abacus.Entry(nil))
	same(t, "Entries with a limit", mustEntries(t, st, abacus.EntryQuery{Account: c.ID, Limit: 2}), want[:2])

	// A cursor may name a position no entry of the account has.
	cursors := []struct {
		after abacus.EntryCursor
		want  []abacus.Entry
	}{
		{abacus.EntryCursor{TxID: x3.ID, WalletID: 0}, want},                    // before every wallet of x3
		{abacus.EntryCursor{TxID: x3.ID, WalletID: c.cash()}, want[1:]},         // between x3's two postings
		{abacus.EntryCursor{TxID: x3.ID, WalletID: 1 << 62}, want[2:]},          // after every wallet of x3
		{abacus.EntryCursor{TxID: x2.ID, WalletID: d.cash()}, want[2:]},         // a posting of another account
		{abacus.EntryCursor{TxID: x4.ID + 1000, WalletID: 0}, want},             // newer than everything
		{abacus.EntryCursor{TxID: x1.ID, WalletID: c.cash()}, []abacus.Entry{}}, // the oldest
		{abacus.EntryCursor{TxID: -1, WalletID: 0}, []abacus.Entry{}},           // below every id
		{abacus.EntryCursor{TxID: math.MinInt64, WalletID: math.MaxInt64}, []abacus.Entry{}},
	}
	for _, cur := range cursors {
		got := mustEntries(t, st, abacus.EntryQuery{Account: c.ID, After: cur.after, Limit: 100})
		same(t, "Entries after a cursor", got, cur.want)
	}

	for _, limit := range []int{0, -1} {
		_, err := st.Entries(t.Context(), abacus.EntryQuery{Account: c.ID, Limit: limit})
		wantCode(t, "Entries with a limit below 1", err, abacus.CodeInvalid)
	}
}

// testEntriesPaging pages through an account whose transactions have one,
// two and three postings on it, with page sizes that put page boundaries
// between the postings of one transaction.
func testEntriesPaging(t *testing.T, st abacus.Store) {
	c := mustAccount(t, st, 1, "USD")
	d := mustAccount(t, st, 2, "USD")
	rev := mustSystem(t, st, "USD", abacus.SystemRevenue).ID
	clr := mustSystem(t, st, "USD", abacus.SystemPaymentClearing).ID
	promo := mustSystem(t, st, "USD", abacus.SystemPromotions).ID
	adj := mustSystem(t, st, "USD", abacus.SystemAdjustments).ID
	specs := []struct {
		typ  abacus.TxType
		legs []leg
	}{
		{abacus.TxTopup, []leg{{c.cash(), 100}, {clr, -100}}},
		{abacus.TxGrant, []leg{{c.bonus(), 50}, {promo, -50}}},
		{abacus.TxGrant, []leg{{c.voucher(), 20}, {promo, -20}}},
		{abacus.TxCharge, []leg{{c.voucher(), -20}, {c.cash(), -10}, {rev, 30}}},
		{abacus.TxTransfer, []leg{{c.cash(), -5}, {c.bonus(), 5}}},
		{abacus.TxTopup, []leg{{d.cash(), 7}, {clr, -7}}},
		{abacus.TxCharge, []leg{{c.cash(), -1}, {c.bonus(), -2}, {rev, 3}}},
		{abacus.TxAdjust, []leg{{c.bonus(), 1}, {c.voucher(), 1}, {c.cash(), 1}, {adj, -3}}},
		{abacus.TxCharge, []leg{{c.bonus(), -1}, {rev, 1}}},
		{abacus.TxTransfer, []leg{{c.bonus(), -4}, {d.bonus(), 4}}},
		{abacus.TxTransfer, []leg{{d.voucher(), -1}, {c.voucher(), 1}}},
	}
	var txs []abacus.Transaction
	for i, s := range specs {
		txs = append(txs, mustPost(t, st, abacus.Transaction{Type: s.typ, CreatedAt: at(i)}, s.legs...))
	}
	for _, acct := range []abacus.AccountID{c.ID, d.ID, abacus.SystemRevenue.ID()} {
		want := entriesOf(acct, txs...)
		for _, limit := range []int{1, 2, 3, 7, len(want), len(want) + 1, 1000} {
			var got []abacus.Entry
			var after abacus.EntryCursor
			for page := 0; ; page++ {
				if page > len(want)+1 {
					t.Fatalf("account %s, limit %d: paging does not end", acct, limit)
				}
				es := mustEntries(t, st, abacus.EntryQuery{Account: acct, After: after, Limit: limit})
				if len(es) > limit {
					t.Fatalf("account %s, limit %d: a page of %d entries", acct, limit, len(es))
				}
				got = append(got, es...)
				if len(es) < limit {
					break
				}
				last := es[len(es)-1]
				after = abacus.EntryCursor{TxID: last.TxID, WalletID: last.WalletID}
			}
			same(t, "paging "+string(acct)+" by "+strconv.Itoa(limit), got, want)
		}
	}
}

// testEntriesDuringWrites pages while another goroutine keeps committing
// transactions with two postings on the account. The first two entries
// must always be the two postings of one transaction: a page must not mix
// what it read before and after a commit.
func testEntriesDuringWrites(t *testing.T, st abacus.Store) {
	c := mustAccount(t, st, 1, "USD")
	mustPost(t, st, abacus.Transaction{Type: abacus.TxTransfer, CreatedAt: at(0)}, leg{c.cash(), -1}, leg{c.bonus(), 1})
	ctx := t.Context()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var writes atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; !stop.Load(); i++ {
			sign := int64(1 - 2*(i%2))
			err := st.Write(ctx, func(tx abacus.WriteTx) error {
				read, err := tx.ReadBatch(ctx, abacus.BatchReads{Lock: []int64{c.cash(), c.bonus()}, Read: []int64{c.cash(), c.bonus()}, TxIDs: 1})
				if err != nil {
					return err
				}
				ws := read.Wallets
				x := abacus.Transaction{ID: read.TxIDs[0], Type: abacus.TxTransfer, CreatedAt: at(i)}
				for j := range ws {
					w := &ws[j]
					amount := sign
					if w.ID == c.bonus() {
						amount = -sign
					}
					w.Balance = micros(w.Balance.Micros() + amount)
					w.Version++
					x.Postings = append(x.Postings, abacus.Posting{TxID: x.ID, WalletID: w.ID, Account: w.Account, Bucket: w.Bucket,
						Currency: w.Currency, Amount: micros(amount), BalanceAfter: w.Balance, Version: w.Version})
				}
				return tx.Apply(ctx, &abacus.Changes{Transactions: []abacus.Transaction{x}, Wallets: ws})
			})
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("writer: %v", err)
				}
				return
			}
			writes.Add(1)
		}
	}()
	defer wg.Wait()
	defer stop.Store(true)
	deadline := time.Now().Add(3 * time.Second)
	for reads := 0; time.Now().Before(deadline) && (reads < 200 || writes.Load() < 50); reads++ {
		first := mustEntries(t, st, abacus.EntryQuery{Account: c.ID, Limit: 1})
		if len(first) != 1 {
			t.Fatalf("first page: %+v", first)
		}
		e := first[0]
		if e.WalletID != c.cash() {
			t.Fatalf("first page is %d/%d, the bonus posting of the newest transaction: its cash posting (wallet %d) will never be shown",
				e.TxID, e.WalletID, c.cash())
		}
		second := mustEntries(t, st, abacus.EntryQuery{Account: c.ID, Limit: 1, After: abacus.EntryCursor{TxID: e.TxID, WalletID: e.WalletID}})
		if len(second) != 1 || second[0].TxID != e.TxID || second[0].WalletID != c.bonus() {
			t.Fatalf("after %d/%d came %+v, want the bonus posting of transaction %d", e.TxID, e.WalletID, second, e.TxID)
		}
	}
}

func testHold(t *testing.T, st abacus.Store) {
	c, rev := funded(t, st, 1)
	h := mustHold(t, st, abacus.Hold{Account: c.ID, Currency: "USD", Amount: micros(3), Memo: "m",
		Legs:          []abacus.HoldLeg{{WalletID: c.bonus(), Amount: micros(2)}, {WalletID: c.cash(), Amount: micros(1)}},
		CounterWallet: rev.ID, ExpiresAt: at(60), CreatedAt: at(1)})
	same(t, "Hold", mustHoldGet(t, st, h.ID), h)
	for _, id := range []int64{h.ID + 1, 0, -1} {
		_, err := st.Hold(t.Context(), id)
		wantCode(t, "Hold of a missing hold", err, abacus.CodeNotFound)
	}
	var expired abacus.Hold
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		b := lock(t, tx, c.cash(), c.bonus(), rev.ID)
		expired = b.resolve(h, abacus.HoldExpired, at(61), abacus.Zero, 0)
		return b.apply()
	})
	same(t, "expired Hold", mustHoldGet(t, st, h.ID), expired)
}

func testHoldsDue(t *testing.T, st abacus.Store) {
	c, rev := funded(t, st, 1)
	mk := func(expires time.Time) abacus.Hold {
		return mustHold(t, st, abacus.Hold{Account: c.ID, Currency: "USD", Amount: micros(1),
			Legs: []abacus.HoldLeg{{WalletID: c.cash(), Amount: micros(1)}}, CounterWallet: rev.ID, ExpiresAt: expires, CreatedAt: at(0)})
	}
	hC := mk(at(20))
	hA := mk(at(10))
	hB := mk(at(20))
	mk(at(30))
	mk(time.Time{}) // never expires
	hF := mk(at(5))
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		b := lock(t, tx, c.cash(), rev.ID)
		b.resolve(hF, abacus.HoldVoided, at(6), abacus.Zero, 0)
		return b.apply()
	})
	expiry := map[int64]time.Time{hA.ID: hA.ExpiresAt, hB.ID: hB.ExpiresAt, hC.ID: hC.ExpiresAt}
	due := func(now time.Time, limit int) []int64 {
		t.Helper()
		ids, err := st.HoldsDue(t.Context(), now, limit)
		if err != nil {
			t.Fatalf("HoldsDue(%s, %d): %v", now, limit, err)
		}
		return ids
	}
	set := func(ids ...int64) []int64 { s := slices.Clone(ids); slices.Sort(s); return s }

	zone := time.FixedZone("UTC-7", -7*3600)
	same(t, "HoldsDue at an expiry", set(due(at(20).In(zone), 10)...), set(hA.ID, hB.ID, hC.ID))
	same(t, "HoldsDue a nanosecond after an expiry", set(due(at(20).Add(time.Nanosecond), 10)...), set(hA.ID, hB.ID, hC.ID))
	same(t, "HoldsDue a microsecond before an expiry", due(at(20).Add(-time.Microsecond), 10), []int64{hA.ID})
	same(t, "HoldsDue before any expiry", due(at(9), 10), []int64(nil))
	// A limit returns the holds that expire first.
	same(t, "HoldsDue with limit 1", due(at(100), 1), []int64{hA.ID})
	two := due(at(100), 2)
	if len(two) != 2 || two[0] != hA.ID || !expiry[two[1]].Equal(at(20)) {
		t.Fatalf("HoldsDue with limit 2: %v, want %d then one of %d, %d", two, hA.ID, hB.ID, hC.ID)
	}
	three := due(at(100), 3)
	if len(three) != 3 || three[0] != hA.ID || !expiry[three[1]].Equal(at(20)) || !expiry[three[2]].Equal(at(20)) {
		t.Fatalf("HoldsDue with limit 3: %v", three)
	}
	for _, limit := range []int{0, -1} {
		_, err := st.HoldsDue(t.Context(), at(100), limit)
		wantCode(t, "HoldsDue with a limit below 1", err, abacus.CodeInvalid)
	}
}
