package ledger_test

import (
	"context"
	"fmt"
	"math/big"
	"slices"

	"github.com/abacus-billing/abacus"
)

// bankDB is what the database holds at the end of the bank test, read in
// one snapshot.
type bankDB struct {
	wallets map[int64]abacus.Wallet
	txs     map[int64]bool
	holds   map[int64]abacus.Hold
	keys    map[string]abacus.IdempotencyRecord
	order   []string // violations of "a wallet's postings come in transaction id order"
}

func readBankDB(b *bank, st abacus.Store) *bankDB {
	db := &bankDB{wallets: map[int64]abacus.Wallet{}, txs: map[int64]bool{}, holds: map[int64]abacus.Hold{}, keys: map[string]abacus.IdempotencyRecord{}}
	err := st.Audit(context.Background(), func(ar abacus.AuditReader) error {
		last := map[int64]int64{}
		return firstErr(
			ar.Wallets(func(w abacus.Wallet) error { db.wallets[w.ID] = w; return nil }),
			ar.Transactions(func(x abacus.Transaction) error { db.txs[x.ID] = true; return nil }),
			ar.Holds(func(h abacus.Hold) error { db.holds[h.ID] = h; return nil }),
			ar.Idempotency(func(r abacus.IdempotencyRecord) error { db.keys[r.Key] = r; return nil }),
			ar.PostingsByWallet(func(p abacus.Posting) error {
				if p.TxID <= last[p.WalletID] {
					db.order = append(db.order, fmt.Sprintf("%+v", p))
				}
				last[p.WalletID] = p.TxID
				return nil
			}),
		)
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return db
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// refusals lists, per kind of request, how the bank test's requests may be
// refused.
func refusals(op abacus.Op) []abacus.ErrorCode {
	switch o := op.(type) {
	case *abacus.Move:
		if o.Type == abacus.TxCharge {
			return []abacus.ErrorCode{abacus.CodeInsufficientFunds}
		}
	case *abacus.Transfer:
		return []abacus.ErrorCode{abacus.CodeInsufficientFunds}
	case *abacus.HoldCreate:
		if !o.ExpiresAt.IsZero() { // it may expire before its batch runs
			return []abacus.ErrorCode{abacus.CodeInsufficientFunds, abacus.CodeInvalid}
		}
		return []abacus.ErrorCode{abacus.CodeInsufficientFunds}
	case *abacus.HoldPost, *abacus.HoldVoid:
		return []abacus.ErrorCode{abacus.CodeHoldNotOpen, abacus.CodeHoldExpired}
	case *abacus.Revert:
		return []abacus.ErrorCode{abacus.CodeAlreadyReverted, abacus.CodeInsufficientFunds}
	}
	return nil
}

// check compares the history the clients were told with the database.
func (b *bank) check(st abacus.Store) {
	t := b.t
	mustVerify(t, st)
	db := readBankDB(b, st)

	// Every currency sums to zero, and no wallet is below its floor.
	sums := map[abacus.Currency]*big.Int{}
	for _, w := range db.wallets {
		if sums[w.Currency] == nil {
			sums[w.Currency] = new(big.Int)
		}
		sums[w.Currency].Add(sums[w.Currency], bigOf(w.Balance))
		if avail, _ := w.Available(); w.HasFloor && avail.Cmp(w.Floor) < 0 {
			t.Errorf("wallet %+v is below its floor", w)
		}
	}
	for c, s := range sums {
		if s.Sign() != 0 {
			t.Errorf("the %s balances sum to %s micro-units", c, s)
		}
	}

	// Every acknowledged request is in the database under its key, every
	// refused one is not, and nothing else is.
	told := map[int64]*abacus.Transaction{}
	created := map[int64]bool{}
	resolved := map[int64]*abacus.Hold{}
	expired := map[int64]bool{}
	for _, o := range b.ops {
		rec, recorded := db.keys[o.key]
		if o.err != nil {
			if code := abacus.ErrorCodeOf(o.err); !slices.Contains(refusals(o.op), code) {
				t.Errorf("%s %T %+v: unexpected refusal %v", o.key, o.op, o.op, o.err)
			} else if code == abacus.CodeHoldExpired {
				expired[holdOf(o.op)] = true
			}
			if recorded {
				t.Errorf("%s was refused (%v) but its key is recorded: %+v", o.key, o.err, rec)
			}
			continue
		}
		var txID, holdID int64
		if o.res.Tx != nil {
			txID = o.res.Tx.ID
			told[txID] = o.res.Tx
		}
		switch o.op.(type) {
		case *abacus.HoldCreate:
			holdID = o.res.Hold.ID
			created[holdID] = true
		case *abacus.HoldPost, *abacus.HoldVoid:
			holdID = o.res.Hold.ID
			if resolved[holdID] != nil {
				t.Errorf("hold %d was resolved twice: %+v and %+v", holdID, resolved[holdID], o.res.Hold)
			}
			resolved[holdID] = o.res.Hold
		}
		if !recorded || rec.TxID != txID || rec.HoldID != holdID {
			t.Errorf("%s was acknowledged (transaction %d, hold %d) but its key records %+v (found: %v)", o.key, txID, holdID, rec, recorded)
		}
	}
	if len(db.txs) != len(told) {
		t.Errorf("the database has %d transactions; clients were told of %d", len(db.txs), len(told))
	}
	if len(db.holds) != len(created) {
		t.Errorf("the database has %d holds; clients were told of %d", len(db.holds), len(created))
	}
	for id, h := range db.holds {
		switch r := resolved[id]; {
		case r != nil && (h.Status != r.Status || h.TxID != r.TxID || h.PostedAmount != r.PostedAmount):
			t.Errorf("hold %d: clients were told %+v, the database has %+v", id, r, h)
		case r == nil && expired[id] && h.Status != abacus.HoldExpired:
			t.Errorf("hold %d: a post or void was told it expired, but it is %s", id, h.Status)
		case r == nil && !expired[id] && h.Status != abacus.HoldOpen && h.Status != abacus.HoldExpired:
			t.Errorf("hold %d is %s, but no client was told so", id, h.Status)
		}
	}

	// The transactions are what their clients were told, and folding
	// those answers gives every wallet's balance.
	ids := make([]int64, 0, len(told))
	for id := range told {
		ids = append(ids, id)
	}
	stored, err := st.Transactions(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(told) {
		t.Errorf("%d acknowledged transactions, %d found", len(told), len(stored))
	}
	for _, x := range stored {
		if want := told[x.ID]; !samePostings(want.Postings, x.Postings) {
			t.Errorf("transaction %d: told %+v, stored %+v", x.ID, want.Postings, x.Postings)
		}
	}
	fold := map[int64]*big.Int{}
	count := map[int64]int64{}
	for _, x := range told {
		for _, p := range x.Postings {
			if fold[p.WalletID] == nil {
				fold[p.WalletID] = new(big.Int)
			}
			fold[p.WalletID].Add(fold[p.WalletID], bigOf(p.Amount))
			count[p.WalletID]++
		}
	}
	for id, w := range db.wallets {
		if f := fold[id]; (f == nil && !w.Balance.IsZero()) || (f != nil && f.Cmp(bigOf(w.Balance)) != 0) || count[id] != w.Version {
			t.Errorf("wallet %+v: the acknowledged postings sum to %v in %d postings", w, f, count[id])
		}
	}

	// Order: a wallet's postings come in transaction id order, and a
	// request that finished before another began has the smaller id.
	for _, v := range db.order {
		t.Errorf("posting out of transaction order in its wallet: %s", v)
	}
	realTimeOrder(b, func(o *bankOp) int64 {
		if o.res.Tx != nil {
			return o.res.Tx.ID
		}
		return 0
	})
	realTimeOrder(b, func(o *bankOp) int64 {
		if _, ok := o.op.(*abacus.HoldCreate); ok {
			return o.res.Hold.ID
		}
		return 0
	})
}

func holdOf(op abacus.Op) int64 {
	switch o := op.(type) {
	case *abacus.HoldPost:
		return o.HoldID
	case *abacus.HoldVoid:
		return o.HoldID
	}
	return 0
}

func samePostings(a, b []abacus.Posting) bool {
	return slices.EqualFunc(a, b, func(x, y abacus.Posting) bool {
		return x.TxID == y.TxID && x.WalletID == y.WalletID && x.Amount == y.Amount && x.BalanceAfter == y.BalanceAfter && x.Version == y.Version
	})
}

// realTimeOrder checks that whenever an acknowledged request finished
// before another began, the id the first got is the smaller.
func realTimeOrder(b *bank, id func(*bankOp) int64) {
	var ops []*bankOp
	for _, o := range b.ops {
		if o.err == nil && id(o) != 0 {
			ops = append(ops, o)
		}
	}
	byDone := slices.Clone(ops)
	slices.SortFunc(byDone, func(x, y *bankOp) int { return x.done.Compare(y.done) })
	slices.SortFunc(ops, func(x, y *bankOp) int { return x.invoke.Compare(y.invoke) })
	var before *bankOp // the finished request with the largest id
	j := 0
	for _, o := range ops {
		for ; j < len(byDone) && byDone[j].done.Before(o.invoke); j++ {
			if before == nil || id(byDone[j]) > id(before) {
				before = byDone[j]
			}
		}
		if before != nil && id(o) <= id(before) {
			b.t.Errorf("%s (id %d) began %v after %s (id %d) finished, yet has the smaller id",
				o.key, id(o), o.invoke.Sub(before.done), before.key, id(before))
		}
	}
}
