package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/abacus-billing/abacus"
)

// funded creates an account numbered n in USD with money in each bucket,
// and returns it as it is afterwards.
func funded(t testing.TB, st abacus.Store, n int) (customer, abacus.Wallet) {
	t.Helper()
	c := mustAccount(t, st, n, "USD")
	clearing := mustSystem(t, st, "USD", abacus.SystemPaymentClearing)
	promo := mustSystem(t, st, "USD", abacus.SystemPromotions)
	mustPost(t, st, abacus.Transaction{Type: abacus.TxTopup, CreatedAt: at(10)}, leg{c.cash(), 100_000_000}, leg{clearing.ID, -100_000_000})
	mustPost(t, st, abacus.Transaction{Type: abacus.TxGrant, CreatedAt: at(11)}, leg{c.bonus(), 50_000_000}, leg{c.voucher(), 30_000_000}, leg{promo.ID, -80_000_000})
	for _, w := range mustWallets(t, st, c.ID) {
		c.w[w.Bucket] = w
	}
	return c, mustSystem(t, st, "USD", abacus.SystemRevenue)
}

func mustTransactions(t testing.TB, st abacus.Store, ids ...int64) []abacus.Transaction {
	t.Helper()
	txs, err := st.Transactions(t.Context(), ids)
	if err != nil {
		t.Fatalf("Transactions(%v): %v", ids, err)
	}
	return txs
}

func mustHoldGet(t testing.TB, st abacus.Store, id int64) abacus.Hold {
	t.Helper()
	h, err := st.Hold(t.Context(), id)
	if err != nil {
		t.Fatalf("Hold(%d): %v", id, err)
	}
	return h
}

func keysOf(t testing.TB, st abacus.Store, keys ...string) []abacus.IdempotencyRecord {
	t.Helper()
	var out []abacus.IdempotencyRecord
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		read, err := tx.ReadBatch(t.Context(), abacus.BatchReads{Keys: keys})
		out = read.Records
		return err
	})
	slices.SortFunc(out, func(x, y abacus.IdempotencyRecord) int { return cmp.Compare(x.Key, y.Key) })
	return out
}

// testReadKeys: ReadBatch finds the idempotency records of the keys that
// exist, whatever bytes their hashes hold.
func testReadKeys(t *testing.T, st abacus.Store) {
	c, rev := funded(t, st, 1)
	var recs []abacus.IdempotencyRecord
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		b := lock(t, tx, c.cash(), rev.ID)
		x := b.post(abacus.Transaction{Type: abacus.TxCharge, CreatedAt: at(20)}, leg{c.cash(), -1}, leg{rev.ID, 1})
		h := b.hold(abacus.Hold{Account: c.ID, Currency: "USD", Amount: micros(5), Legs: []abacus.HoldLeg{{WalletID: c.cash(), Amount: micros(5)}},
			CounterWallet: rev.ID, CreatedAt: at(20)})
		hash := make([]byte, 32)
		for i := range hash {
			hash[i] = byte(i * 7) // with a zero byte first
		}
		recs = []abacus.IdempotencyRecord{
			{Key: "charge-1", Hash: hash, TxID: x.ID, CreatedAt: at(20)},
			{Key: "hold-1", Hash: []byte{0xff, 0, 0xfe}, HoldID: h.ID, CreatedAt: at(21)},
			{Key: "nothing", Hash: []byte{1}, CreatedAt: at(22)},
		}
		for _, r := range recs {
			b.key(r)
		}
		return b.apply()
	})
	same(t, "keys", keysOf(t, st, "nothing", "missing", "hold-1", "charge-1"), recs)
	same(t, "one key", keysOf(t, st, "hold-1"), recs[1:2])
	same(t, "a missing key", keysOf(t, st, "missing"), []abacus.IdempotencyRecord(nil))
	same(t, "no keys", keysOf(t, st), []abacus.IdempotencyRecord(nil))
}

func testHoldsLock(t *testing.T, st abacus.Store) {
	c, rev := funded(t, st, 1)
	// Legs in draw order, which is not wallet id order.
	h1 := mustHold(t, st, abacus.Hold{
		Account: c.ID, Currency: "USD", Amount: micros(35_000_000), Memo: "gpu job 7",
		Legs: []abacus.HoldLeg{
			{WalletID: c.voucher(), Amount: micros(10_000_000)},
			{WalletID: c.cash(), Amount: micros(20_000_000)},
			{WalletID: c.bonus(), Amount: micros(5_000_000)},
		},
		CounterWallet: rev.ID, ExpiresAt: at(3600), CreatedAt: at(30),
	})
	h2 := mustHold(t, st, abacus.Hold{
		Account: c.ID, Currency: "USD", Amount: micros(1),
		Legs:          []abacus.HoldLeg{{WalletID: c.cash(), Amount: micros(1)}},
		CounterWallet: rev.ID, CreatedAt: at(31),
	})
	if h1.Legs[0].Bucket != abacus.BucketVoucher || h2.ID <= h1.ID {
		t.Fatalf("fixture: %+v %+v", h1, h2)
	}
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		got, err := tx.HoldsLock(t.Context(), []int64{h2.ID, 999_999, h1.ID})
		if err != nil {
			return err
		}
		same(t, "HoldsLock", got, []abacus.Hold{h1, h2})
		none, err := tx.HoldsLock(t.Context(), []int64{999_999})
		if err != nil {
			return err
		}
		same(t, "HoldsLock of a missing hold", none, []abacus.Hold(nil))
		return nil
	})
	// Resolved holds are locked too, as they are now.
	var voided abacus.Hold
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		hs, err := tx.HoldsLock(t.Context(), []int64{h1.ID})
		if err != nil || len(hs) != 1 {
			return fmt.Errorf("HoldsLock: %v %+v", err, hs)
		}
		b := lock(t, tx, c.cash(), c.bonus(), c.voucher(), rev.ID)
		voided = b.resolve(hs[0], abacus.HoldVoided, at(40), abacus.Zero, 0)
		return b.apply()
	})
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		got, err := tx.HoldsLock(t.Context(), []int64{h1.ID})
		if err != nil {
			return err
		}
		same(t, "HoldsLock of a voided hold", got, []abacus.Hold{voided})
		return nil
	})
}

// testReadWallets: ReadBatch locks and reads wallets, in id order, as the
// last batch left them.
func testReadWallets(t *testing.T, st abacus.Store) {
	c, rev := funded(t, st, 1)
	d := mustAccount(t, st, 2, "USD")
	want := append(mustWallets(t, st, c.ID, d.ID), rev)
	slices.SortFunc(want, func(x, y abacus.Wallet) int { return cmp.Compare(x.ID, y.ID) })
	ids := []int64{d.voucher(), c.cash(), 999_999, rev.ID, c.bonus(), d.cash(), c.voucher(), d.bonus()}
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		read, err := tx.ReadBatch(t.Context(), abacus.BatchReads{Lock: ids, Read: ids})
		if err != nil {
			return err
		}
		same(t, "wallets, in id order", read.Wallets, want)
		return nil
	})
	// What a batch wrote is what the next one locks.
	var after []abacus.Wallet
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		b := lock(t, tx, c.cash(), rev.ID)
		b.post(abacus.Transaction{Type: abacus.TxCharge, CreatedAt: at(40)}, leg{c.cash(), -3}, leg{rev.ID, 3})
		b.hold(abacus.Hold{Account: c.ID, Currency: "USD", Amount: micros(2), Legs: []abacus.HoldLeg{{WalletID: c.cash(), Amount: micros(2)}},
			CounterWallet: rev.ID, CreatedAt: at(40)})
		after = []abacus.Wallet{b.state(c.cash()), b.state(rev.ID)}
		return b.apply()
	})
	if after[0].Held != micros(2) || after[0].Version != 2 || after[1].Version != 1 {
		t.Fatalf("fixture: %+v", after)
	}
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		read, err := tx.ReadBatch(t.Context(), abacus.BatchReads{Lock: []int64{rev.ID, c.cash()}, Read: []int64{rev.ID, c.cash()}})
		if err != nil {
			return err
		}
		same(t, "wallets after a write", read.Wallets, after)
		return nil
	})
}

// testReadReversals: ReadBatch finds which of the transactions asked about
// were reverted, and by which.
func testReadReversals(t *testing.T, st abacus.Store) {
	c, rev := funded(t, st, 1)
	x1 := mustPost(t, st, abacus.Transaction{Type: abacus.TxCharge, CreatedAt: at(20)}, leg{c.cash(), -5}, leg{rev.ID, 5})
	x2 := mustPost(t, st, abacus.Transaction{Type: abacus.TxCharge, CreatedAt: at(21)}, leg{c.cash(), -6}, leg{rev.ID, 6})
	x3 := mustPost(t, st, abacus.Transaction{Type: abacus.TxRevert, Reverts: x1.ID, CreatedAt: at(22)}, leg{c.cash(), 5}, leg{rev.ID, -5})
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		reversals := func(ids ...int64) map[int64]int64 {
			read, err := tx.ReadBatch(t.Context(), abacus.BatchReads{Reverted: ids})
			if err != nil {
				t.Fatalf("ReadBatch of reversals %v: %v", ids, err)
			}
			return read.Reversals
		}
		same(t, "reversals", reversals(x3.ID, 999_999, x2.ID, x1.ID), map[int64]int64{x1.ID: x3.ID})
		same(t, "reversals of an unreverted transaction", reversals(x2.ID), map[int64]int64{})
		same(t, "reversals of nothing", reversals(), map[int64]int64(nil))
		return nil
	})
}

// testReserveIDs: ReadBatch reserves fresh, increasing ids, never handed
// out again.
func testReserveIDs(t *testing.T, st abacus.Store) {
	var lastTx, lastHold int64
	check := func(what string, txs, holds []int64) {
		t.Helper()
		for _, id := range txs {
			if id <= lastTx {
				t.Fatalf("%s: transaction ids %v after %d: want fresh, increasing ids", what, txs, lastTx)
			}
			lastTx = id
		}
		for _, id := range holds {
			if id <= lastHold {
				t.Fatalf("%s: hold ids %v after %d: want fresh, increasing ids", what, holds, lastHold)
			}
			lastHold = id
		}
	}
	// Several calls in one transaction, which then commits without using them.
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		txs, holds := reserve(t, tx, 3, 2)
		check("first call", txs, holds)
		txs, holds = reserve(t, tx, 2, 0)
		check("second call in the same transaction", txs, holds)
		txs, holds = reserve(t, tx, 0, 3)
		check("third call in the same transaction", txs, holds)
		reserve(t, tx, 0, 0)
		return nil
	})
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		txs, holds := reserve(t, tx, 1, 1)
		check("a later transaction", txs, holds)
		return nil
	})
	// Ids used by stored rows are never handed out again.
	c, rev := funded(t, st, 1)
	var used abacus.Transaction
	var hold abacus.Hold
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		b := lock(t, tx, c.cash(), rev.ID)
		used = b.post(abacus.Transaction{Type: abacus.TxCharge, CreatedAt: at(20)}, leg{c.cash(), -1}, leg{rev.ID, 1})
		hold = b.hold(abacus.Hold{Account: c.ID, Currency: "USD", Amount: micros(1), Legs: []abacus.HoldLeg{{WalletID: c.cash(), Amount: micros(1)}},
			CounterWallet: rev.ID, CreatedAt: at(20)})
		return b.apply()
	})
	check("the suite's own writes", []int64{used.ID}, []int64{hold.ID})
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		txs, holds := reserve(t, tx, 500, 700)
		check("a large reservation", txs, holds)
		return nil
	})
}

// testApply writes transactions, holds, resolutions, wallets and keys, and
// reads each back.
func testApply(t *testing.T, st abacus.Store) {
	c, rev := funded(t, st, 1)
	clearing := mustSystem(t, st, "USD", abacus.SystemPaymentClearing)
	var x1, x2 abacus.Transaction
	var h1, h2 abacus.Hold
	var k1, k2 abacus.IdempotencyRecord
	var state []abacus.Wallet
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		b := lock(t, tx, c.cash(), c.bonus(), c.voucher(), rev.ID, clearing.ID)
		// Postings handed over out of wallet order.
		x1 = b.post(abacus.Transaction{Type: abacus.TxTopup, Memo: "top-up #1", CreatedAt: at(100)}, leg{clearing.ID, -7_000_000}, leg{c.cash(), 7_000_000})
		x2 = b.post(abacus.Transaction{Type: abacus.TxCharge, Memo: "tokens", CreatedAt: at(100)},
			leg{c.voucher(), -1_000_000}, leg{c.cash(), -2_000_000}, leg{rev.ID, 3_000_000})
		h1 = b.hold(abacus.Hold{Account: c.ID, Currency: "USD", Amount: micros(4_000_000), Memo: "h1",
			Legs:          []abacus.HoldLeg{{WalletID: c.cash(), Amount: micros(3_000_000)}, {WalletID: c.bonus(), Amount: micros(1_000_000)}},
			CounterWallet: rev.ID, ExpiresAt: at(200), CreatedAt: at(100)})
		h2 = b.hold(abacus.Hold{Account: c.ID, Currency: "USD", Amount: micros(500),
			Legs:          []abacus.HoldLeg{{WalletID: c.voucher(), Amount: micros(500)}},
			CounterWallet: rev.ID, CreatedAt: at(100)})
		k1 = abacus.IdempotencyRecord{Key: "x1", Hash: []byte("h-x1"), TxID: x1.ID, CreatedAt: at(100)}
		k2 = abacus.IdempotencyRecord{Key: "h1", Hash: []byte("h-h1"), HoldID: h1.ID, CreatedAt: at(100)}
		b.key(k2)
		b.key(k1)
		state = []abacus.Wallet{b.state(c.cash()), b.state(c.bonus()), b.state(c.voucher())}
		return b.apply()
	})
	same(t, "Transactions", mustTransactions(t, st, x1.ID, x2.ID), []abacus.Transaction{x1, x2})
	same(t, "Hold h1", mustHoldGet(t, st, h1.ID), h1)
	same(t, "Hold h2", mustHoldGet(t, st, h2.ID), h2)
	same(t, "Wallets", mustWallets(t, st, c.ID), state)
	same(t, "keys", keysOf(t, st, "x1", "h1"), []abacus.IdempotencyRecord{k2, k1})

	// Post h1 in part and void h2, in one batch.
	var x3 abacus.Transaction
	var posted, voided abacus.Hold
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		hs, err := tx.HoldsLock(t.Context(), []int64{h1.ID, h2.ID})
		if err != nil {
			return err
		}
		same(t, "HoldsLock", hs, []abacus.Hold{h1, h2})
		b := lock(t, tx, c.cash(), c.bonus(), c.voucher(), rev.ID)
		x3 = b.post(abacus.Transaction{Type: abacus.TxHoldPost, HoldID: h1.ID, CreatedAt: at(150)},
			leg{c.cash(), -3_000_000}, leg{c.bonus(), -500_000}, leg{rev.ID, 3_500_000})
		posted = b.resolve(hs[0], abacus.HoldPosted, at(150), micros(3_500_000), x3.ID)
		voided = b.resolve(hs[1], abacus.HoldVoided, at(151), abacus.Zero, 0)
		b.key(abacus.IdempotencyRecord{Key: "post-h1", Hash: []byte{1}, TxID: x3.ID, HoldID: h1.ID, CreatedAt: at(150)})
		state = []abacus.Wallet{b.state(c.cash()), b.state(c.bonus()), b.state(c.voucher())}
		return b.apply()
	})
	for _, w := range state {
		if !w.Held.IsZero() {
			t.Fatalf("fixture: %+v still holds money", w)
		}
	}
	same(t, "posted hold", mustHoldGet(t, st, h1.ID), posted)
	same(t, "voided hold", mustHoldGet(t, st, h2.ID), voided)
	same(t, "hold_post transaction", mustTransactions(t, st, x3.ID), []abacus.Transaction{x3})
	same(t, "Wallets after resolving", mustWallets(t, st, c.ID), state)
	same(t, "key of the post", keysOf(t, st, "post-h1"),
		[]abacus.IdempotencyRecord{{Key: "post-h1", Hash: []byte{1}, TxID: x3.ID, HoldID: h1.ID, CreatedAt: at(150)}})

	// An empty Apply, and an empty Commit.
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		if err := tx.Apply(t.Context(), &abacus.Changes{}); err != nil {
			return fmt.Errorf("empty Apply: %w", err)
		}
		return nil
	})
	mustWrite(t, st, func(tx abacus.WriteTx) error { return tx.Commit(t.Context(), &abacus.Changes{}) })
	same(t, "Wallets after an empty Apply and Commit", mustWallets(t, st, c.ID), state)

	// Commit writes as Apply does, and what it wrote stays.
	var x4 abacus.Transaction
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		b := lock(t, tx, c.cash(), c.bonus(), c.voucher(), rev.ID)
		x4 = b.post(abacus.Transaction{Type: abacus.TxCharge, Memo: "committed", CreatedAt: at(160)}, leg{c.cash(), -1_000}, leg{rev.ID, 1_000})
		b.key(abacus.IdempotencyRecord{Key: "x4", Hash: []byte("h-x4"), TxID: x4.ID, CreatedAt: at(160)})
		state = []abacus.Wallet{b.state(c.cash()), b.state(c.bonus()), b.state(c.voucher())}
		return b.commit()
	})
	same(t, "transaction written by Commit", mustTransactions(t, st, x4.ID), []abacus.Transaction{x4})
	same(t, "Wallets after Commit", mustWallets(t, st, c.ID), state)
	same(t, "key written by Commit", keysOf(t, st, "x4"), []abacus.IdempotencyRecord{{Key: "x4", Hash: []byte("h-x4"), TxID: x4.ID, CreatedAt: at(160)}})
}

// testApplyMany applies more rows of each kind than a store may put in one
// statement, and reads them back in shuffled order.
func testApplyMany(t *testing.T, st abacus.Store) {
	c, rev := funded(t, st, 1)
	const ntx, nholds = 620, 1010
	var txs []abacus.Transaction
	var holds []abacus.Hold
	var keys []abacus.IdempotencyRecord
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		b := lock(t, tx, c.cash(), c.bonus(), c.voucher(), rev.ID)
		for i := range ntx {
			txs = append(txs, b.post(abacus.Transaction{Type: abacus.TxCharge, Memo: fmt.Sprint(i), CreatedAt: at(100 + i)},
				leg{c.bonus(), -1}, leg{rev.ID, 1}))
		}
		for i := range nholds {
			holds = append(holds, b.hold(abacus.Hold{Account: c.ID, Currency: "USD", Amount: micros(2),
				Legs:          []abacus.HoldLeg{{WalletID: c.voucher(), Amount: micros(1)}, {WalletID: c.cash(), Amount: micros(1)}},
				CounterWallet: rev.ID, ExpiresAt: at(5000 - i), CreatedAt: at(100)}))
		}
		for i := range ntx {
			k := abacus.IdempotencyRecord{Key: fmt.Sprintf("k%04d", i), Hash: []byte{byte(i)}, TxID: txs[i].ID, HoldID: holds[i].ID, CreatedAt: at(100)}
			b.key(k)
			keys = append(keys, k)
		}
		return b.apply()
	})
	rnd := rand.New(rand.NewPCG(3, 4))
	ids := make([]int64, 0, ntx+1)
	for _, x := range txs {
		ids = append(ids, x.ID)
	}
	ids = append(ids, 999_999_999)
	rnd.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	same(t, "Transactions of many ids, shuffled", mustTransactions(t, st, ids...), txs)

	hids := make([]int64, len(holds))
	for i, h := range holds {
		hids[i] = h.ID
	}
	rnd.Shuffle(len(hids), func(i, j int) { hids[i], hids[j] = hids[j], hids[i] })
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		got, err := tx.HoldsLock(t.Context(), hids)
		if err != nil {
			return err
		}
		same(t, "HoldsLock of many holds, shuffled", got, holds)
		return nil
	})
	knames := make([]string, len(keys))
	for i, k := range keys {
		knames[i] = k.Key
	}
	rnd.Shuffle(len(knames), func(i, j int) { knames[i], knames[j] = knames[j], knames[i] })
	same(t, "many keys", keysOf(t, st, knames...), keys)

	due, err := st.HoldsDue(t.Context(), at(5000), 2000)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != nholds {
		t.Fatalf("HoldsDue: %d holds, want %d", len(due), nholds)
	}
}

// testResolveNotOpen resolves a hold that another batch resolved first:
// Apply must fail with ErrRetry and the batch must leave nothing behind.
func testResolveNotOpen(t *testing.T, st abacus.Store) {
	c, rev := funded(t, st, 1)
	h := mustHold(t, st, abacus.Hold{Account: c.ID, Currency: "USD", Amount: micros(10),
		Legs: []abacus.HoldLeg{{WalletID: c.cash(), Amount: micros(10)}}, CounterWallet: rev.ID, CreatedAt: at(20)})
	var voided abacus.Hold
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		b := lock(t, tx, c.cash(), rev.ID)
		voided = b.resolve(h, abacus.HoldVoided, at(21), abacus.Zero, 0)
		return b.apply()
	})
	before := mustWallets(t, st, c.ID, abacus.SystemRevenue.ID())
	for i, status := range []abacus.HoldStatus{abacus.HoldPosted, abacus.HoldExpired, abacus.HoldVoided} {
		// With Apply, and with Commit, whose COMMIT must not survive the
		// failed resolution.
		commit := i%2 == 1
		var x abacus.Transaction
		err := st.Write(t.Context(), func(tx abacus.WriteTx) error {
			b := lock(t, tx, c.cash(), rev.ID)
			x = b.post(abacus.Transaction{Type: abacus.TxHoldPost, HoldID: h.ID, CreatedAt: at(22)}, leg{c.cash(), -10}, leg{rev.ID, 10})
			b.key(abacus.IdempotencyRecord{Key: "late", Hash: []byte{1}, TxID: x.ID, HoldID: h.ID, CreatedAt: at(22)})
			b.resolve(h, status, at(22), micros(10), x.ID) // h as it was when open
			if commit {
				return b.commit()
			}
			return b.apply()
		})
		if !errors.Is(err, abacus.ErrRetry) {
			t.Fatalf("resolving (%s, Commit: %v) a voided hold: %v, want an error wrapping ErrRetry", status, commit, err)
		}
		same(t, "hold after a failed resolution", mustHoldGet(t, st, h.ID), voided)
		same(t, "transaction of a failed batch", mustTransactions(t, st, x.ID), []abacus.Transaction(nil))
		same(t, "wallets after a failed batch", mustWallets(t, st, c.ID, abacus.SystemRevenue.ID()), before)
		same(t, "key of a failed batch", keysOf(t, st, "late"), []abacus.IdempotencyRecord(nil))
	}
	// A hold that does not exist cannot be resolved either.
	err := st.Write(t.Context(), func(tx abacus.WriteTx) error {
		b := lock(t, tx, c.cash(), rev.ID)
		missing := h
		missing.ID = 999_999
		b.resolve(missing, abacus.HoldVoided, at(23), abacus.Zero, 0)
		return b.apply()
	})
	if err == nil {
		t.Fatal("resolving a missing hold succeeded")
	}
	same(t, "wallets after a failed batch", mustWallets(t, st, c.ID, abacus.SystemRevenue.ID()), before)
	// Nor can a wallet that does not exist be updated, and what the same
	// Commit wrote before it does not stay.
	err = st.Write(t.Context(), func(tx abacus.WriteTx) error {
		return tx.Commit(t.Context(), &abacus.Changes{
			Keys:    []abacus.IdempotencyRecord{{Key: "ghost", Hash: []byte{1}, CreatedAt: at(24)}},
			Wallets: []abacus.Wallet{{ID: 999_999, Account: c.ID, Bucket: abacus.BucketCash, Currency: "USD", Balance: micros(5), Version: 9}},
		})
	})
	if err == nil || errors.Is(err, abacus.ErrRetry) {
		t.Fatalf("updating a missing wallet: %v, want an error that is not a race", err)
	}
	same(t, "key of a failed Commit", keysOf(t, st, "ghost"), []abacus.IdempotencyRecord(nil))
}

// testTaken writes what the database keeps unique, a second time: a key,
// a reversal and a hold's posting. Each must fail with ErrRetry, leaving
// nothing behind.
func testTaken(t *testing.T, st abacus.Store) {
	c, rev := funded(t, st, 1)
	x1 := mustPost(t, st, abacus.Transaction{Type: abacus.TxCharge, CreatedAt: at(20)}, leg{c.cash(), -5}, leg{rev.ID, 5})
	mustPost(t, st, abacus.Transaction{Type: abacus.TxRevert, Reverts: x1.ID, CreatedAt: at(21)}, leg{c.cash(), 5}, leg{rev.ID, -5})
	mustPost(t, st, abacus.Transaction{Type: abacus.TxHoldPost, HoldID: 77, CreatedAt: at(22)}, leg{c.cash(), -1}, leg{rev.ID, 1})
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		b := lock(t, tx)
		b.key(abacus.IdempotencyRecord{Key: "taken", Hash: []byte{1}, CreatedAt: at(23)})
		return b.apply()
	})
	before := mustWallets(t, st, c.ID, abacus.SystemRevenue.ID())
	cases := []struct {
		name string
		x    abacus.Transaction
		key  string
	}{
		{"key", abacus.Transaction{Type: abacus.TxCharge, CreatedAt: at(30)}, "taken"},
		{"reversal", abacus.Transaction{Type: abacus.TxRevert, Reverts: x1.ID, CreatedAt: at(30)}, "new-1"},
		{"hold post", abacus.Transaction{Type: abacus.TxHoldPost, HoldID: 77, CreatedAt: at(30)}, "new-2"},
	}
	for _, tc := range cases {
		for _, commit := range []bool{false, true} {
			var x abacus.Transaction
			err := st.Write(t.Context(), func(tx abacus.WriteTx) error {
				b := lock(t, tx, c.cash(), rev.ID)
				x = b.post(tc.x, leg{c.cash(), -2}, leg{rev.ID, 2})
				b.key(abacus.IdempotencyRecord{Key: tc.key, Hash: []byte{2}, TxID: x.ID, CreatedAt: at(30)})
				if commit {
					return b.commit()
				}
				return b.apply()
			})
			name := fmt.Sprintf("%s taken (Commit: %v)", tc.name, commit)
			if !errors.Is(err, abacus.ErrRetry) {
				t.Fatalf("%s: %v, want an error wrapping ErrRetry", name, err)
			}
			same(t, name+": transaction of a failed batch", mustTransactions(t, st, x.ID), []abacus.Transaction(nil))
			same(t, name+": wallets after a failed batch", mustWallets(t, st, c.ID, abacus.SystemRevenue.ID()), before)
		}
	}
	same(t, "the taken key", keysOf(t, st, "taken", "new-1", "new-2"),
		[]abacus.IdempotencyRecord{{Key: "taken", Hash: []byte{1}, CreatedAt: at(23)}})
}

// testRollback makes fn fail after a complete Apply: nothing may stay.
func testRollback(t *testing.T, st abacus.Store) {
	c, rev := funded(t, st, 1)
	open := mustHold(t, st, abacus.Hold{Account: c.ID, Currency: "USD", Amount: micros(10),
		Legs: []abacus.HoldLeg{{WalletID: c.cash(), Amount: micros(10)}}, CounterWallet: rev.ID, CreatedAt: at(20)})
	before := mustWallets(t, st, c.ID, abacus.SystemRevenue.ID())
	auditBefore := auditAll(t, st)
	boom := errors.New("boom")
	var x abacus.Transaction
	var h abacus.Hold
	err := st.Write(t.Context(), func(tx abacus.WriteTx) error {
		hs, err := tx.HoldsLock(t.Context(), []int64{open.ID})
		if err != nil {
			return err
		}
		b := lock(t, tx, c.cash(), c.bonus(), rev.ID)
		x = b.post(abacus.Transaction{Type: abacus.TxHoldPost, HoldID: open.ID, CreatedAt: at(30)}, leg{c.cash(), -10}, leg{rev.ID, 10})
		b.resolve(hs[0], abacus.HoldPosted, at(30), micros(10), x.ID)
		h = b.hold(abacus.Hold{Account: c.ID, Currency: "USD", Amount: micros(3), Legs: []abacus.HoldLeg{{WalletID: c.bonus(), Amount: micros(3)}},
			CounterWallet: rev.ID, CreatedAt: at(30)})
		b.key(abacus.IdempotencyRecord{Key: "k", Hash: []byte{1}, TxID: x.ID, CreatedAt: at(30)})
		if err := b.apply(); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write: %v, want fn's error", err)
	}
	if errors.Is(err, abacus.ErrRetry) {
		t.Fatalf("Write: %v wraps ErrRetry, but fn failed on its own", err)
	}
	same(t, "transaction of a rolled back Write", mustTransactions(t, st, x.ID), []abacus.Transaction(nil))
	_, err = st.Hold(t.Context(), h.ID)
	wantCode(t, "hold of a rolled back Write", err, abacus.CodeNotFound)
	same(t, "hold resolved in a rolled back Write", mustHoldGet(t, st, open.ID), open)
	same(t, "wallets after a rolled back Write", mustWallets(t, st, c.ID, abacus.SystemRevenue.ID()), before)
	same(t, "key of a rolled back Write", keysOf(t, st, "k"), []abacus.IdempotencyRecord(nil))
	same(t, "ledger after a rolled back Write", auditAll(t, st), auditBefore)
}
