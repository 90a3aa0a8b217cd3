package storetest

import (
	"math"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
)

// testTimesRoundTrip writes times in a zone other than UTC and with
// nanoseconds, and reads them back, through every read that returns them,
// in UTC and truncated to the microsecond.
func testTimesRoundTrip(t *testing.T, st abacus.Store) {
	ist := time.FixedZone("IST", 5*3600+1800)
	pst := time.FixedZone("PST", -8*3600)
	times := []time.Time{
		time.Date(2024, 2, 29, 23, 59, 59, 999_999_999, ist),
		time.Date(1969, 12, 31, 23, 59, 59, 123_456_789, time.UTC), // before the epoch
		time.Date(1970, 1, 1, 0, 0, 0, 1_000, pst),
		time.Date(1900, 1, 1, 0, 0, 0, 999, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_000, time.UTC),
		time.Date(2038, 1, 19, 3, 14, 8, 0, ist),
	}
	rev := mustSystem(t, st, "USD", abacus.SystemRevenue)
	for i, tm := range times {
		want := tm.Truncate(time.Microsecond).UTC()
		later := tm.Add(36 * time.Hour)
		wantLater := later.Truncate(time.Microsecond).UTC()
		what := want.Format(time.RFC3339Nano)

		a := abacus.Account{ID: accountID(i + 1), Kind: abacus.KindUser, Currency: "USD", CreatedAt: tm}
		got, _, err := st.AccountCreate(t.Context(), a)
		if err != nil {
			t.Fatal(err)
		}
		a.CreatedAt = want
		same(t, what+": AccountCreate", got, a)
		stored, err := st.AccountGet(t.Context(), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		same(t, what+": AccountGet", stored, a)
		c := customer{Account: a, w: map[abacus.Bucket]abacus.Wallet{}}
		for _, w := range mustWallets(t, st, a.ID) {
			c.w[w.Bucket] = w
		}

		var x abacus.Transaction
		var h abacus.Hold
		mustWrite(t, st, func(tx abacus.WriteTx) error {
			b := lock(t, tx, c.cash(), rev.ID)
			x = b.post(abacus.Transaction{Type: abacus.TxCharge, CreatedAt: tm}, leg{c.cash(), -1}, leg{rev.ID, 1})
			h = b.hold(abacus.Hold{Account: a.ID, Currency: "USD", Amount: micros(1), Legs: []abacus.HoldLeg{{WalletID: c.cash(), Amount: micros(1)}},
				CounterWallet: rev.ID, ExpiresAt: later, CreatedAt: tm})
			b.key(abacus.IdempotencyRecord{Key: what, Hash: []byte{1}, TxID: x.ID, CreatedAt: tm})
			return b.apply()
		})
		x.CreatedAt = want
		for j := range x.Postings {
			x.Postings[j].TxID = x.ID
		}
		h.CreatedAt, h.ExpiresAt = want, wantLater
		same(t, what+": Transactions", mustTransactions(t, st, x.ID), []abacus.Transaction{x})
		same(t, what+": Entries", mustEntries(t, st, abacus.EntryQuery{Account: a.ID, Limit: 10}), entriesOf(a.ID, x))
		same(t, what+": Hold", mustHoldGet(t, st, h.ID), h)
		same(t, what+": idempotency record", keysOf(t, st, what),
			[]abacus.IdempotencyRecord{{Key: what, Hash: []byte{1}, TxID: x.ID, CreatedAt: want}})
		mustWrite(t, st, func(tx abacus.WriteTx) error {
			hs, err := tx.HoldsLock(t.Context(), []int64{h.ID})
			if err != nil {
				return err
			}
			same(t, what+": HoldsLock", hs, []abacus.Hold{h})
			b := lock(t, tx, c.cash(), rev.ID)
			h = b.resolve(h, abacus.HoldExpired, later, abacus.Zero, 0)
			return b.apply()
		})
		h.ResolvedAt = wantLater
		same(t, what+": resolved Hold", mustHoldGet(t, st, h.ID), h)

		k := abacus.NewAPIKeyWithToken("key_"+what, "", abacus.RoleAdmin, "", what, tm)
		if err := st.APIKeyCreate(t.Context(), k); err != nil {
			t.Fatal(err)
		}
		if err := st.APIKeyRevoke(t.Context(), k.ID, later); err != nil {
			t.Fatal(err)
		}
		k.CreatedAt, k.RevokedAt = want, wantLater
		same(t, what+": APIKeyByHash", mustKeyByHash(t, st, k.Hash), k)
	}
	// And the audit streams give the same times as the reads.
	s := auditAll(t, st)
	for _, x := range s.Transactions {
		same(t, "audited transaction", x, withoutPostings(mustTransactions(t, st, x.ID)[0]))
	}
	for _, h := range s.Holds {
		same(t, "audited hold", h, mustHoldGet(t, st, h.ID))
	}
	for _, k := range s.Idempotency {
		same(t, "audited key", []abacus.IdempotencyRecord{k}, keysOf(t, st, k.Key))
	}
	for _, k := range mustAPIKeys(t, st) {
		same(t, "listed key", k, mustKeyByHash(t, st, k.Hash))
	}
}

// testAmountsRoundTrip stores the largest and smallest amounts an int64
// holds in every amount column.
func testAmountsRoundTrip(t *testing.T, st abacus.Store) {
	const maxA, minA = math.MaxInt64, math.MinInt64
	a := abacus.Account{ID: accountID(1), Kind: abacus.KindUser, Currency: "USD",
		Overdraft: abacus.Overdraft{Limit: micros(maxA)}, CreatedAt: at(0)}
	c := mustAccountWith(t, st, a)
	same(t, "account with the largest overdraft", c.Account, a)
	if f := c.w[abacus.BucketCash].Floor; f != micros(-maxA) {
		t.Fatalf("cash floor %d, want %d", f.Micros(), int64(-maxA))
	}
	d := mustAccount(t, st, 2, "USD")
	rev := mustSystem(t, st, "USD", abacus.SystemRevenue)
	adj := mustSystem(t, st, "USD", abacus.SystemAdjustments)

	var txs []abacus.Transaction
	var h abacus.Hold
	var state []abacus.Wallet
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		b := lock(t, tx, c.cash(), c.bonus(), c.voucher(), d.cash(), rev.ID, adj.ID)
		txs = append(txs,
			b.post(abacus.Transaction{Type: abacus.TxAdjust, CreatedAt: at(1)}, leg{c.cash(), maxA}, leg{adj.ID, -maxA}),
			b.post(abacus.Transaction{Type: abacus.TxAdjust, CreatedAt: at(2)}, leg{adj.ID, -1}),          // adj at MinInt64
			b.post(abacus.Transaction{Type: abacus.TxAdjust, CreatedAt: at(3)}, leg{d.cash(), minA}),      // a MinInt64 posting
			b.post(abacus.Transaction{Type: abacus.TxAdjust, CreatedAt: at(4)}, leg{c.bonus(), maxA - 1}), // then one below
		)
		h = b.hold(abacus.Hold{Account: c.ID, Currency: "USD", Amount: micros(maxA),
			Legs:          []abacus.HoldLeg{{WalletID: c.voucher(), Amount: micros(maxA)}},
			CounterWallet: rev.ID, CreatedAt: at(5)})
		state = []abacus.Wallet{b.state(c.cash()), b.state(c.bonus()), b.state(c.voucher()), b.state(d.cash()), b.state(adj.ID)}
		return b.apply()
	})
	if state[4].Balance != micros(minA) || state[3].Balance != micros(minA) || state[2].Held != micros(maxA) {
		t.Fatalf("fixture: %+v", state)
	}
	ids := []int64{txs[0].ID, txs[1].ID, txs[2].ID, txs[3].ID}
	same(t, "Transactions with extreme amounts", mustTransactions(t, st, ids...), txs)
	same(t, "Hold of the largest amount", mustHoldGet(t, st, h.ID), h)
	same(t, "Entries with extreme amounts", mustEntries(t, st, abacus.EntryQuery{Account: c.ID, Limit: 10}), entriesOf(c.ID, txs...))
	for _, w := range state {
		mustWrite(t, st, func(tx abacus.WriteTx) error {
			read, err := tx.ReadBatch(t.Context(), abacus.BatchReads{Lock: []int64{w.ID}, Read: []int64{w.ID}})
			if err != nil {
				return err
			}
			same(t, "wallet with an extreme amount", read.Wallets, []abacus.Wallet{w})
			return nil
		})
	}
	var posted abacus.Hold
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		b := lock(t, tx, c.voucher(), rev.ID)
		posted = b.resolve(h, abacus.HoldPosted, at(6), micros(maxA), 0)
		return b.apply()
	})
	same(t, "Hold posted in full", mustHoldGet(t, st, h.ID), posted)
	s := auditAll(t, st)
	same(t, "audited postings", s.PostingsByTx, expect(nil, txs, nil, nil).PostingsByTx)
}

func withoutPostings(x abacus.Transaction) abacus.Transaction { x.Postings = nil; return x }
