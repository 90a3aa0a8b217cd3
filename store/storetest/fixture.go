package storetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
)

// t0 is the suite's clock: every time it writes is t0 plus whole
// microseconds, already in UTC, so a store must give it back unchanged.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

func at(seconds int) time.Time { return t0.Add(time.Duration(seconds) * time.Second) }

// accountID returns a distinct, valid, lower-case UUID for each n.
func accountID(n int) abacus.AccountID {
	return abacus.AccountID(fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n))
}

func micros(n int64) abacus.Amount { return abacus.AmountFromMicros(n) }

// customer is an account created by the suite, with its wallets by bucket.
type customer struct {
	abacus.Account
	w map[abacus.Bucket]abacus.Wallet
}

func (c customer) cash() int64    { return c.w[abacus.BucketCash].ID }
func (c customer) bonus() int64   { return c.w[abacus.BucketBonus].ID }
func (c customer) voucher() int64 { return c.w[abacus.BucketVoucher].ID }

// mustAccount creates a user account numbered n in cur.
func mustAccount(t testing.TB, st abacus.Store, n int, cur abacus.Currency) customer {
	t.Helper()
	return mustAccountWith(t, st, abacus.Account{
		ID: accountID(n), Kind: abacus.KindUser, Name: fmt.Sprintf("user %d", n), Currency: cur, CreatedAt: at(n),
	})
}

func mustAccountWith(t testing.TB, st abacus.Store, a abacus.Account) customer {
	t.Helper()
	got, created, err := st.AccountCreate(t.Context(), a)
	if err != nil {
		t.Fatalf("AccountCreate(%s): %v", a.ID, err)
	}
	if !created {
		t.Fatalf("AccountCreate(%s): created = false for a new account", a.ID)
	}
	ws, err := st.Wallets(t.Context(), []abacus.AccountID{a.ID})
	if err != nil {
		t.Fatalf("Wallets(%s): %v", a.ID, err)
	}
	c := customer{Account: got, w: map[abacus.Bucket]abacus.Wallet{}}
	for _, w := range ws {
		c.w[w.Bucket] = w
	}
	if len(c.w) != 3 {
		t.Fatalf("account %s has wallets %+v, want cash, bonus and voucher", a.ID, ws)
	}
	return c
}

// mustSystem returns the wallet of a system account in cur.
func mustSystem(t testing.TB, st abacus.Store, cur abacus.Currency, s abacus.SystemAccount) abacus.Wallet {
	t.Helper()
	ws, err := st.SystemWalletsEnsure(t.Context(), cur)
	if err != nil {
		t.Fatalf("SystemWalletsEnsure(%s): %v", cur, err)
	}
	for _, w := range ws {
		if w.Account == s.ID() {
			return w
		}
	}
	t.Fatalf("SystemWalletsEnsure(%s) has no wallet of %s: %+v", cur, s, ws)
	return abacus.Wallet{}
}

// mustWrite runs fn in a write transaction that must commit.
func mustWrite(t testing.TB, st abacus.Store, fn func(abacus.WriteTx) error) {
	t.Helper()
	if err := st.Write(t.Context(), fn); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// leg is one posting of a transaction the suite writes: amount micro-units
// on the wallet with id w.
type leg struct {
	w      int64
	amount int64
}

// batch plays the ledger engine inside one WriteTx: it locks wallets,
// reserves ids, keeps the wallets' state as postings and holds change it,
// and finally applies everything in one Changes.
type batch struct {
	t       testing.TB
	ctx     context.Context
	tx      abacus.WriteTx
	before  map[int64]abacus.Wallet
	wallets map[int64]*abacus.Wallet
	c       abacus.Changes
}

// lock starts a batch holding the wallets ids.
func lock(t testing.TB, tx abacus.WriteTx, ids ...int64) *batch {
	t.Helper()
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	read, err := tx.ReadBatch(t.Context(), abacus.BatchReads{Lock: ids, Read: ids})
	if err != nil {
		t.Fatalf("ReadBatch locking %v: %v", ids, err)
	}
	ws := read.Wallets
	if len(ws) != len(ids) {
		t.Fatalf("ReadBatch locking %v returned %d wallets", ids, len(ws))
	}
	b := &batch{t: t, ctx: t.Context(), tx: tx, before: map[int64]abacus.Wallet{}, wallets: map[int64]*abacus.Wallet{}}
	for _, w := range ws {
		b.before[w.ID] = w
		c := w
		b.wallets[w.ID] = &c
	}
	return b
}

func (b *batch) wallet(id int64) *abacus.Wallet {
	b.t.Helper()
	w := b.wallets[id]
	if w == nil {
		b.t.Fatalf("wallet %d is not locked by the batch", id)
	}
	return w
}

func (b *batch) reserve(ntx, nholds int) ([]int64, []int64) {
	b.t.Helper()
	return reserve(b.t, b.tx, ntx, nholds)
}

// reserve reserves ids with ReadBatch and checks it returned as many as
// asked.
func reserve(t testing.TB, tx abacus.WriteTx, ntx, nholds int) ([]int64, []int64) {
	t.Helper()
	read, err := tx.ReadBatch(t.Context(), abacus.BatchReads{TxIDs: ntx, HoldIDs: nholds})
	if err != nil {
		t.Fatalf("reserving %d transaction and %d hold ids: %v", ntx, nholds, err)
	}
	if len(read.TxIDs) != ntx || len(read.HoldIDs) != nholds {
		t.Fatalf("reserving %d transaction and %d hold ids gave %v, %v", ntx, nholds, read.TxIDs, read.HoldIDs)
	}
	return read.TxIDs, read.HoldIDs
}

// post adds a transaction with a fresh id. Its postings go to Apply in the
// order of legs; the returned copy has them in wallet order, as the store
// reads them back.
func (b *batch) post(x abacus.Transaction, legs ...leg) abacus.Transaction {
	b.t.Helper()
	ids, _ := b.reserve(1, 0)
	x.ID = ids[0]
	x.Postings = nil
	for _, l := range legs {
		w := b.wallet(l.w)
		w.Balance = micros(w.Balance.Micros() + l.amount)
		w.Version++
		x.Postings = append(x.Postings, abacus.Posting{
			TxID: x.ID, WalletID: w.ID, Account: w.Account, Bucket: w.Bucket, Currency: w.Currency,
			Amount: micros(l.amount), BalanceAfter: w.Balance, Version: w.Version,
		})
	}
	b.c.Transactions = append(b.c.Transactions, x)
	out := x
	out.Postings = slices.Clone(x.Postings)
	slices.SortFunc(out.Postings, func(p, q abacus.Posting) int { return cmp.Compare(p.WalletID, q.WalletID) })
	return out
}

// hold adds an open hold with a fresh id, reserving its legs' amounts.
func (b *batch) hold(h abacus.Hold) abacus.Hold {
	b.t.Helper()
	_, ids := b.reserve(0, 1)
	h.ID = ids[0]
	h.Status = abacus.HoldOpen
	h.Legs = slices.Clone(h.Legs)
	for i := range h.Legs {
		w := b.wallet(h.Legs[i].WalletID)
		w.Held = micros(w.Held.Micros() + h.Legs[i].Amount.Micros())
		h.Legs[i].Bucket = w.Bucket
	}
	b.c.Holds = append(b.c.Holds, h)
	return h
}

// resolve releases what h holds and records its resolution.
func (b *batch) resolve(h abacus.Hold, status abacus.HoldStatus, when time.Time, posted abacus.Amount, txID int64) abacus.Hold {
	b.t.Helper()
	for _, l := range h.Legs {
		w := b.wallet(l.WalletID)
		w.Held = micros(w.Held.Micros() - l.Amount.Micros())
	}
	h.Status, h.ResolvedAt, h.PostedAmount, h.TxID = status, when, posted, txID
	b.c.Resolutions = append(b.c.Resolutions, h)
	return h
}

// key records an idempotency key.
func (b *batch) key(r abacus.IdempotencyRecord) {
	b.c.Keys = append(b.c.Keys, r)
}

// apply writes the batch: every changed wallet, in id order, plus what
// was added.
func (b *batch) apply() error {
	return b.tx.Apply(b.ctx, b.changes())
}

// commit writes what the batch did with WriteTx.Commit.
func (b *batch) commit() error {
	return b.tx.Commit(b.ctx, b.changes())
}

func (b *batch) changes() *abacus.Changes {
	b.c.Wallets = nil
	for id, w := range b.wallets {
		if *w != b.before[id] {
			b.c.Wallets = append(b.c.Wallets, *w)
		}
	}
	slices.SortFunc(b.c.Wallets, func(x, y abacus.Wallet) int { return cmp.Compare(x.ID, y.ID) })
	return &b.c
}

// state returns the wallet as the batch left it.
func (b *batch) state(id int64) abacus.Wallet { return *b.wallet(id) }

// mustPost writes one transaction in its own Write and returns it.
func mustPost(t testing.TB, st abacus.Store, x abacus.Transaction, legs ...leg) abacus.Transaction {
	t.Helper()
	var out abacus.Transaction
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		ids := make([]int64, len(legs))
		for i, l := range legs {
			ids[i] = l.w
		}
		b := lock(t, tx, ids...)
		out = b.post(x, legs...)
		return b.apply()
	})
	return out
}

// mustHold creates one hold in its own Write and returns it.
func mustHold(t testing.TB, st abacus.Store, h abacus.Hold) abacus.Hold {
	t.Helper()
	var out abacus.Hold
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		ids := []int64{h.CounterWallet}
		for _, l := range h.Legs {
			ids = append(ids, l.WalletID)
		}
		b := lock(t, tx, ids...)
		out = b.hold(h)
		return b.apply()
	})
	return out
}

// wantCode fails unless err is an *abacus.Error with code.
func wantCode(t testing.TB, what string, err error, code abacus.ErrorCode) {
	t.Helper()
	var e *abacus.Error
	if err == nil {
		t.Fatalf("%s: got no error, want %s", what, code)
	}
	if !asError(err, &e) || e.Code != code {
		t.Fatalf("%s: got %v (%T), want an *abacus.Error with code %s", what, err, err, code)
	}
}
