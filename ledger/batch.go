package ledger

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/abacus-billing/abacus"
)

// batch is the in-memory state of one batch while it is applied: copies of
// the locked rows, changed as each operation is applied in order, and what
// each operation produced.
type batch struct {
	now       time.Time
	drawOrder []abacus.Bucket
	wallets   map[int64]*abacus.Wallet
	before    map[int64]abacus.Wallet
	holds     map[int64]*abacus.Hold
	records   map[string]abacus.IdempotencyRecord
	reverted  map[int64]bool
	seen      map[string]int // idempotency key → first item with it

	txs         []abacus.Transaction
	newHolds    []abacus.Hold
	txIDs       []int64 // reserved for txs, in order
	holdIDs     []int64 // reserved for newHolds, in order
	resolutions []resolution
	items       []item
}

type resolution struct {
	hold  *abacus.Hold
	txIdx int // with HoldPosted: the hold_post transaction; else -1
}

// item is what one operation of the batch came to.
type item struct {
	err      error
	txIdx    int                       // its transaction, or -1
	newHold  int                       // the hold it created, or -1
	resolved int                       // the hold it resolved, or -1
	dupOf    int                       // an earlier item with the same key and request, or -1
	record   *abacus.IdempotencyRecord // the stored effect of its key, to replay
}

// commitBatch applies the batch in one write transaction and returns each
// operation's outcome once it has committed.
func (e *Engine) commitBatch(ctx context.Context, ps []*pending) ([]outcome, error) {
	var b *batch
	err := e.store.Write(ctx, func(tx abacus.WriteTx) error {
		b = &batch{
			now:       e.cfg.Now().UTC().Truncate(time.Microsecond),
			drawOrder: e.cfg.DrawOrder,
			wallets:   map[int64]*abacus.Wallet{},
			before:    map[int64]abacus.Wallet{},
			holds:     map[int64]*abacus.Hold{},
			reverted:  map[int64]bool{},
			seen:      map[string]int{},
			items:     make([]item, len(ps)),
		}
		if err := b.lock(ctx, tx, ps); err != nil {
			return err
		}
		for i, p := range ps {
			b.items[i] = item{txIdx: -1, newHold: -1, resolved: -1, dupOf: -1}
			b.apply(i, p, ps)
		}
		c, err := b.changes(ps)
		if err != nil || c == nil {
			return err
		}
		return tx.Commit(ctx, c)
	})
	if err != nil {
		return nil, err
	}
	return e.outcomes(ctx, b, ps), nil
}

// lock takes the batch's row locks, holds first and then wallets, each in
// ascending id order, and reads what the operations are checked against.
func (b *batch) lock(ctx context.Context, tx abacus.WriteTx, ps []*pending) error {
	var holdIDs, lockIDs, readIDs, revertIDs []int64
	var keys []string
	newHolds := 0
	for _, p := range ps {
		if p.key != "" {
			keys = append(keys, p.key)
		}
		switch o := p.op.(type) {
		case *abacus.HoldPost:
			holdIDs = append(holdIDs, o.HoldID)
		case *abacus.HoldVoid:
			holdIDs = append(holdIDs, o.HoldID)
		case *abacus.HoldExpire:
			holdIDs = append(holdIDs, o.HoldID)
		case *abacus.Revert:
			revertIDs = append(revertIDs, o.TxID)
		case *abacus.HoldCreate:
			newHolds++
		}
		lockIDs = append(lockIDs, p.prep.lock...)
		readIDs = append(readIDs, p.prep.read...)
	}
	if len(holdIDs) > 0 {
		holds, err := tx.HoldsLock(ctx, sortedUnique(holdIDs))
		if err != nil {
			return err
		}
		for i := range holds {
			b.holds[holds[i].ID] = &holds[i]
		}
	}
	// Keys, reversals and ids are read under the wallet locks, in the same
	// round trip: what a concurrent batch committed on the same rows is
	// visible, and within one wallet transaction ids grow in commit order.
	// Ids are reserved for every operation that may need one; the unused
	// ones are gaps, as a rollback leaves.
	r := abacus.BatchReads{Lock: sortedUnique(lockIDs), Read: sortedUnique(readIDs),
		Keys: sortedUnique(keys), Reverted: sortedUnique(revertIDs), TxIDs: len(ps), HoldIDs: newHolds}
	st, err := tx.ReadBatch(ctx, r)
	if err != nil {
		return err
	}
	b.take(st.Wallets)
	// prepare named every wallet the holds touch; a miss would be a bug.
	for _, h := range b.holds {
		for _, l := range h.Legs {
			if b.wallets[l.WalletID] == nil {
				return abacus.Errorf(abacus.CodeInternal, "", "hold %d: wallet %d was not read", h.ID, l.WalletID)
			}
		}
		if b.wallets[h.CounterWallet] == nil {
			return abacus.Errorf(abacus.CodeInternal, "", "hold %d: wallet %d was not read", h.ID, h.CounterWallet)
		}
	}
	b.records = make(map[string]abacus.IdempotencyRecord, len(st.Records))
	for _, r := range st.Records {
		b.records[r.Key] = r
	}
	for id := range st.Reversals {
		b.reverted[id] = true
	}
	b.txIDs, b.holdIDs = st.TxIDs, st.HoldIDs
	return nil
}

// take keeps the wallets as read: their state before the batch, and a copy
// the batch changes.
func (b *batch) take(ws []abacus.Wallet) {
	for _, w := range ws {
		b.before[w.ID] = w
		c := w
		b.wallets[w.ID] = &c
	}
}

func sortedUnique[T int64 | string](s []T) []T {
	slices.Sort(s)
	return slices.Compact(s)
}

// changes assigns ids to what the batch made and collects the writes.
// It returns nil when the batch changed nothing.
func (b *batch) changes(ps []*pending) (*abacus.Changes, error) {
	c := &abacus.Changes{}
	for id, w := range b.wallets {
		if *w != b.before[id] {
			c.Wallets = append(c.Wallets, *w)
		}
	}
	if len(b.txs) == 0 && len(b.newHolds) == 0 && len(b.resolutions) == 0 && len(c.Wallets) == 0 {
		return nil, nil
	}
	slices.SortFunc(c.Wallets, func(x, y abacus.Wallet) int { return cmp.Compare(x.ID, y.ID) })
	if len(b.txIDs) < len(b.txs) || len(b.holdIDs) < len(b.newHolds) {
		return nil, fmt.Errorf("ledger: %d transaction and %d hold ids reserved for %d and %d", len(b.txIDs), len(b.holdIDs), len(b.txs), len(b.newHolds))
	}
	for i := range b.txs {
		t := &b.txs[i]
		t.ID = b.txIDs[i]
		for j := range t.Postings {
			t.Postings[j].TxID = t.ID
		}
	}
	for i := range b.newHolds {
		b.newHolds[i].ID = b.holdIDs[i]
	}
	for _, r := range b.resolutions {
		if r.txIdx >= 0 {
			r.hold.TxID = b.txs[r.txIdx].ID
		}
		c.Resolutions = append(c.Resolutions, *r.hold)
	}
	c.Transactions = b.txs
	c.Holds = b.newHolds
	for i, p := range ps {
		it := &b.items[i]
		if p.key == "" || it.err != nil || it.dupOf >= 0 || it.record != nil {
			continue
		}
		rec := abacus.IdempotencyRecord{Key: p.key, Hash: p.hash, CreatedAt: b.now}
		if it.txIdx >= 0 {
			rec.TxID = b.txs[it.txIdx].ID
		}
		switch {
		case it.newHold >= 0:
			rec.HoldID = b.newHolds[it.newHold].ID
		case it.resolved >= 0:
			rec.HoldID = b.resolutions[it.resolved].hold.ID
		}
		c.Keys = append(c.Keys, rec)
	}
	// Keys go in sorted, so two batches racing for the same keys take
	// their index locks in the same order and cannot deadlock.
	slices.SortFunc(c.Keys, func(x, y abacus.IdempotencyRecord) int { return cmp.Compare(x.Key, y.Key) })
	var customers []*customerWallets
	for _, p := range ps {
		customers = append(customers, p.prep.customers...)
	}
	var err error
	c.Outbox, err = b.lowBalances(customers)
	return c, err
}

// outcomes turns the committed batch into answers, reading back the
// original effects of replayed keys.
func (e *Engine) outcomes(ctx context.Context, b *batch, ps []*pending) []outcome {
	outs := make([]outcome, len(ps))
	for i := range ps {
		it := &b.items[i]
		switch {
		case it.err != nil:
			outs[i].err = it.err
		case it.dupOf >= 0:
			// Items only point back, so outs[dupOf] is filled already.
			outs[i] = outs[it.dupOf]
			outs[i].res.Replayed = outs[i].err == nil
		case it.record != nil:
			outs[i].res, outs[i].err = e.replay(ctx, ps[i].op, *it.record)
		default:
			if it.txIdx >= 0 {
				t := b.txs[it.txIdx]
				outs[i].res.Tx = &t
			}
			if it.newHold >= 0 {
				h := b.newHolds[it.newHold]
				outs[i].res.Hold = &h
			}
			if it.resolved >= 0 {
				h := *b.resolutions[it.resolved].hold
				outs[i].res.Hold = &h
			}
		}
	}
	return outs
}

// replay reads back the effect a key had the first time.
func (e *Engine) replay(ctx context.Context, op abacus.Op, rec abacus.IdempotencyRecord) (abacus.Result, error) {
	res := abacus.Result{Replayed: true}
	if rec.TxID != 0 {
		txs, err := e.store.Transactions(ctx, []int64{rec.TxID})
		if err != nil {
			return res, err
		}
		if len(txs) == 0 {
			return res, abacus.Errorf(abacus.CodeInternal, "", "idempotency key %q points at missing transaction %d", rec.Key, rec.TxID)
		}
		res.Tx = &txs[0]
	}
	if rec.HoldID != 0 {
		h, err := e.store.Hold(ctx, rec.HoldID)
		if err != nil {
			return res, err
		}
		if _, created := op.(*abacus.HoldCreate); created {
			h = h.AsCreated()
		}
		res.Hold = &h
	}
	return res, nil
}

// keyCheck settles an operation's idempotency key before it is applied.
// It returns false when the operation must not be applied: its key was
// used before, for the same request (a replay) or another (a conflict).
func (b *batch) keyCheck(i int, p *pending, ps []*pending) bool {
	if p.key == "" {
		return true
	}
	it := &b.items[i]
	if rec, ok := b.records[p.key]; ok {
		if !bytes.Equal(rec.Hash, p.hash) {
			it.err = conflict(p.key)
			return false
		}
		it.record = &rec
		return false
	}
	// An earlier item of the batch took the key only if it was applied:
	// a refused one leaves the key unused, so this one is judged afresh.
	if j, ok := b.seen[p.key]; ok && b.items[j].err == nil {
		if !bytes.Equal(ps[j].hash, p.hash) {
			it.err = conflict(p.key)
			return false
		}
		it.dupOf = j
		return false
	}
	b.seen[p.key] = i
	return true
}

func conflict(key string) error {
	return abacus.Errorf(abacus.CodeIdempotencyConflict, "Idempotency-Key",
		"%q was already used for a different request; use a new key for a new operation", key)
}
