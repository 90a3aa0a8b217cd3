package storetest

import (
	"bytes"
	"cmp"
	"errors"
	"slices"
	"testing"

	"github.com/abacus-billing/abacus"
)

// snapshot is everything the Auditor streams, in stream order.
type snapshot struct {
	Wallets          []abacus.Wallet
	PostingsByWallet []abacus.Posting
	PostingsByTx     []abacus.Posting
	Transactions     []abacus.Transaction
	Holds            []abacus.Hold
	Idempotency      []abacus.IdempotencyRecord
}

func collect[T any](dst *[]T) func(T) error {
	return func(v T) error { *dst = append(*dst, v); return nil }
}

// read streams every row r has into s.
func (s *snapshot) read(r abacus.AuditReader) error {
	return errors.Join(
		r.Wallets(collect(&s.Wallets)),
		r.PostingsByWallet(collect(&s.PostingsByWallet)),
		r.PostingsByTx(collect(&s.PostingsByTx)),
		r.Transactions(collect(&s.Transactions)),
		r.Holds(collect(&s.Holds)),
		r.Idempotency(collect(&s.Idempotency)),
	)
}

func auditAll(t testing.TB, st abacus.Store) snapshot {
	t.Helper()
	var s snapshot
	if err := st.Audit(t.Context(), s.read); err != nil {
		t.Fatalf("Audit: %v", err)
	}
	return s
}

// expect builds the snapshot a store holding exactly these rows streams.
func expect(wallets []abacus.Wallet, txs []abacus.Transaction, holds []abacus.Hold, keys []abacus.IdempotencyRecord) snapshot {
	var s snapshot
	s.Wallets = slices.Clone(wallets)
	slices.SortFunc(s.Wallets, func(x, y abacus.Wallet) int { return cmp.Compare(x.ID, y.ID) })
	for _, x := range txs {
		s.PostingsByTx = append(s.PostingsByTx, x.Postings...)
		x.Postings = nil
		s.Transactions = append(s.Transactions, x)
	}
	slices.SortFunc(s.Transactions, func(x, y abacus.Transaction) int { return cmp.Compare(x.ID, y.ID) })
	s.PostingsByWallet = slices.Clone(s.PostingsByTx)
	slices.SortFunc(s.PostingsByTx, func(x, y abacus.Posting) int {
		return cmp.Or(cmp.Compare(x.TxID, y.TxID), cmp.Compare(x.WalletID, y.WalletID))
	})
	slices.SortFunc(s.PostingsByWallet, func(x, y abacus.Posting) int {
		return cmp.Or(cmp.Compare(x.WalletID, y.WalletID), cmp.Compare(x.Version, y.Version))
	})
	s.Holds = slices.Clone(holds)
	slices.SortFunc(s.Holds, func(x, y abacus.Hold) int { return cmp.Compare(x.ID, y.ID) })
	s.Idempotency = slices.Clone(keys)
	slices.SortFunc(s.Idempotency, func(x, y abacus.IdempotencyRecord) int { return bytes.Compare([]byte(x.Key), []byte(y.Key)) })
	return s
}

// allWallets reads every wallet through the Store's own reads.
func allWallets(t testing.TB, st abacus.Store, accounts ...abacus.AccountID) []abacus.Wallet {
	t.Helper()
	return mustWallets(t, st, append(systemIDs(), accounts...)...)
}

func testAudit(t *testing.T, st abacus.Store) {
	same(t, "Audit of a new store", auditAll(t, st), snapshot{})

	c := mustAccount(t, st, 1, "USD")
	d := mustAccount(t, st, 2, "EUR")
	rev := mustSystem(t, st, "USD", abacus.SystemRevenue).ID
	clr := mustSystem(t, st, "USD", abacus.SystemPaymentClearing).ID
	adjEUR := mustSystem(t, st, "EUR", abacus.SystemAdjustments).ID
	var txs []abacus.Transaction
	var holds []abacus.Hold
	var keys []abacus.IdempotencyRecord
	// Keys whose order differs between byte order and a natural-language
	// collation.
	names := []string{"b", "B", "a-2", "a_1", "a1", "Z", "é", "e", "~", "A"}
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		b := lock(t, tx, c.cash(), c.bonus(), c.voucher(), d.cash(), rev, clr, adjEUR)
		txs = append(txs,
			b.post(abacus.Transaction{Type: abacus.TxTopup, CreatedAt: at(1)}, leg{clr, -10_000}, leg{c.cash(), 10_000}),
			b.post(abacus.Transaction{Type: abacus.TxAdjust, Memo: "eur", CreatedAt: at(2)}, leg{d.cash(), 7}, leg{adjEUR, -7}),
			b.post(abacus.Transaction{Type: abacus.TxCharge, CreatedAt: at(3)}, leg{c.cash(), -30}, leg{rev, 30}),
		)
		holds = append(holds,
			b.hold(abacus.Hold{Account: c.ID, Currency: "USD", Amount: micros(6), Legs: []abacus.HoldLeg{{WalletID: c.cash(), Amount: micros(6)}},
				CounterWallet: rev, ExpiresAt: at(100), CreatedAt: at(3)}),
			b.hold(abacus.Hold{Account: c.ID, Currency: "USD", Amount: micros(1), Legs: []abacus.HoldLeg{{WalletID: c.cash(), Amount: micros(1)}},
				CounterWallet: rev, CreatedAt: at(3)}),
		)
		for i, n := range names {
			k := abacus.IdempotencyRecord{Key: n, Hash: []byte{byte(i)}, CreatedAt: at(i)}
			if i < len(txs) {
				k.TxID = txs[i].ID
			}
			b.key(k)
			keys = append(keys, k)
		}
		return b.apply()
	})
	mustWrite(t, st, func(tx abacus.WriteTx) error {
		hs, err := tx.HoldsLock(t.Context(), []int64{holds[0].ID})
		if err != nil {
			return err
		}
		b := lock(t, tx, c.cash(), rev)
		x := b.post(abacus.Transaction{Type: abacus.TxHoldPost, HoldID: holds[0].ID, CreatedAt: at(4)}, leg{c.cash(), -5}, leg{rev, 5})
		txs = append(txs, x)
		holds[0] = b.resolve(hs[0], abacus.HoldPosted, at(4), micros(5), x.ID)
		return b.apply()
	})
	want := expect(allWallets(t, st, c.ID, d.ID), txs, holds, keys)
	same(t, "Audit", auditAll(t, st), want)

	// An error from fn, or from a stream's callback, comes back out.
	boom := errors.New("boom")
	if err := st.Audit(t.Context(), func(abacus.AuditReader) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Audit: %v, want fn's error", err)
	}
	streams := map[string]func(abacus.AuditReader) error{
		"Wallets": func(r abacus.AuditReader) error { return r.Wallets(func(abacus.Wallet) error { return boom }) },
		"PostingsByWallet": func(r abacus.AuditReader) error {
			return r.PostingsByWallet(func(abacus.Posting) error { return boom })
		},
		"PostingsByTx": func(r abacus.AuditReader) error { return r.PostingsByTx(func(abacus.Posting) error { return boom }) },
		"Transactions": func(r abacus.AuditReader) error {
			return r.Transactions(func(abacus.Transaction) error { return boom })
		},
		"Holds": func(r abacus.AuditReader) error { return r.Holds(func(abacus.Hold) error { return boom }) },
		"Idempotency": func(r abacus.AuditReader) error {
			return r.Idempotency(func(abacus.IdempotencyRecord) error { return boom })
		},
	}
	for name, fn := range streams {
		if err := st.Audit(t.Context(), fn); !errors.Is(err, boom) {
			t.Fatalf("Audit, %s: %v, want the callback's error", name, err)
		}
	}
	// The failed audits changed nothing and left the store usable.
	same(t, "Audit again", auditAll(t, st), want)
}

// testAuditSnapshot commits writes in the middle of an audit: the audit
// must not see them, in any stream.
func testAuditSnapshot(t *testing.T, st abacus.Store) {
	c, rev := funded(t, st, 1)
	mustHold(t, st, abacus.Hold{Account: c.ID, Currency: "USD", Amount: micros(1), Legs: []abacus.HoldLeg{{WalletID: c.cash(), Amount: micros(1)}},
		CounterWallet: rev.ID, CreatedAt: at(20)})
	before := auditAll(t, st)
	var during snapshot
	err := st.Audit(t.Context(), func(r abacus.AuditReader) error {
		if err := r.Wallets(collect(&during.Wallets)); err != nil {
			return err
		}
		// Another writer commits now.
		mustWrite(t, st, func(tx abacus.WriteTx) error {
			b := lock(t, tx, c.cash(), c.bonus(), rev.ID)
			x := b.post(abacus.Transaction{Type: abacus.TxCharge, CreatedAt: at(30)}, leg{c.cash(), -1}, leg{rev.ID, 1})
			b.hold(abacus.Hold{Account: c.ID, Currency: "USD", Amount: micros(2), Legs: []abacus.HoldLeg{{WalletID: c.bonus(), Amount: micros(2)}},
				CounterWallet: rev.ID, CreatedAt: at(30)})
			b.key(abacus.IdempotencyRecord{Key: "during", Hash: []byte{1}, TxID: x.ID, CreatedAt: at(30)})
			return b.apply()
		})
		mustAccount(t, st, 2, "EUR")
		return errors.Join(
			r.PostingsByWallet(collect(&during.PostingsByWallet)),
			r.PostingsByTx(collect(&during.PostingsByTx)),
			r.Transactions(collect(&during.Transactions)),
			r.Holds(collect(&during.Holds)),
			r.Idempotency(collect(&during.Idempotency)),
		)
	})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "Audit while another writer commits", during, before)
	after := auditAll(t, st)
	if len(after.Transactions) != len(before.Transactions)+1 || len(after.Holds) != len(before.Holds)+1 ||
		len(after.Idempotency) != 1 || len(after.Wallets) != len(before.Wallets)+3+systemWalletsPerCurrency {
		t.Fatalf("the next audit does not see the writes: %d transactions, %d holds, %d keys, %d wallets",
			len(after.Transactions), len(after.Holds), len(after.Idempotency), len(after.Wallets))
	}
}
