package ledger

import (
	"cmp"
	"slices"

	"github.com/abacus-billing/abacus"
)

// changes turns the batch into writes: one usage transaction with a
// posting per touched wallet, the events, counters, what the buckets paid
// per month, carries, rollups, minute slots and low-balance messages.
func (u *usageBatch) changes(items []*usageItem) (*abacus.Changes, error) {
	c := &abacus.Changes{}
	// The memo names no count: a batch holds many customers' events, and
	// each customer reads the memo with its entries (QA: "usage: 50 events"
	// told one of them the platform's volume).
	t := abacus.Transaction{Type: abacus.TxUsage, CreatedAt: u.now, Memo: "usage"}
	for id, w := range u.wallets {
		before := u.before[id]
		if w.Balance == before.Balance {
			continue
		}
		amount, err := w.Balance.Sub(before.Balance)
		if err != nil {
			return nil, err
		}
		w.Version++
		c.Wallets = append(c.Wallets, *w)
		t.Postings = append(t.Postings, abacus.Posting{WalletID: id, Account: w.Account, Bucket: w.Bucket, Currency: w.Currency,
			Amount: amount, BalanceAfter: w.Balance, Version: w.Version})
	}
	t.ID = u.txID
	if len(t.Postings) > 0 {
		slices.SortFunc(t.Postings, func(x, y abacus.Posting) int { return cmp.Compare(x.WalletID, y.WalletID) })
		slices.SortFunc(c.Wallets, func(x, y abacus.Wallet) int { return cmp.Compare(x.ID, y.ID) })
		for i := range t.Postings {
			t.Postings[i].TxID = t.ID
		}
		c.Transactions = []abacus.Transaction{t}
	}
	// Every event that moved money did so in this transaction. Where the
	// batch's movements net to nothing (a charge and a refund of one
	// account, say), no transaction is written and they name its id all
	// the same: under it, nothing moved, as verify checks.
	for i := range u.events {
		if !u.events[i].Charged.IsZero() {
			u.events[i].TxID = t.ID
		}
	}
	for i := range u.updates {
		switch ev := &u.updates[i]; {
		case u.repricing[ev.ID]:
			// It keeps the transactions of its first charge and of its
			// void; the reprice names this one.
		case ev.Status == abacus.EventVoided:
			if !ev.Refunded.IsZero() {
				ev.VoidTxID = t.ID
			}
		case !ev.Charged.IsZero():
			ev.TxID = t.ID
		}
	}
	for i := range u.reprices {
		u.reprices[i].TxID = t.ID
	}
	c.Events, c.EventUpdates, c.Reprices = u.events, u.updates, u.reprices
	for k, q := range u.counted {
		// A reprice that gives a month back and charges it again at the
		// correcting version adds nothing, but moves the counter to it.
		v := u.countedBy[k]
		if v == u.usedBy[k] {
			v = 0
		}
		if q != 0 || v != 0 {
			c.Counters = append(c.Counters, abacus.UsageCounter{Account: k.Account, Key: counterKey(k.Key), Currency: k.Currency, Period: k.Period, Quantity: q, PriceID: v})
		}
	}
	for m, d := range u.paidMoved {
		if d != (abacus.Drawn{}) {
			c.Paid = append(c.Paid, abacus.MonthPaid{Account: m.account, Currency: m.currency, Period: m.start, ResourceID: m.resource, Paid: d})
		}
	}
	for k := range u.carried {
		c.Carries = append(c.Carries, abacus.Carry{Account: k.account, Period: k.period, Residue: u.carry[k].String()})
	}
	for _, r := range u.rollups {
		if r.Quantity != 0 || !r.Amount.IsZero() || r.Events != 0 || r.UnpricedQuantity != 0 || r.UnpricedEvents != 0 {
			c.Rollups = append(c.Rollups, *r)
		}
	}
	for k, latest := range u.priceUses {
		c.PriceUses = append(c.PriceUses, abacus.PriceUse{PriceID: k.id, Shard: k.shard, Latest: latest})
	}
	c.Minutes, c.FreedMinutes = u.minuteT, u.freed
	var err error
	customers := make([]*customerWallets, len(items))
	for i, it := range items {
		customers[i] = it.customer
	}
	if c.Outbox, err = u.lowBalances(customers); err != nil {
		return nil, err
	}
	if len(c.Transactions)+len(c.Events)+len(c.EventUpdates)+len(c.Counters)+len(c.Paid)+len(c.Carries)+len(c.Rollups)+len(c.Outbox) == 0 {
		return nil, nil
	}
	sortChanges(c)
	return c, nil
}

// sortChanges orders what is upserted, so two batches that race for the
// same rows (on PostgreSQL) take their locks in the same order.
func sortChanges(c *abacus.Changes) {
	slices.SortFunc(c.Counters, func(x, y abacus.UsageCounter) int {
		return cmp.Or(cmp.Compare(x.Account, y.Account), cmp.Compare(x.Key, y.Key), cmp.Compare(x.Currency, y.Currency), x.Period.Compare(y.Period))
	})
	slices.SortFunc(c.Paid, func(x, y abacus.MonthPaid) int {
		return cmp.Or(cmp.Compare(x.Account, y.Account), cmp.Compare(x.Currency, y.Currency), x.Period.Compare(y.Period), cmp.Compare(x.ResourceID, y.ResourceID))
	})
	slices.SortFunc(c.Carries, func(x, y abacus.Carry) int {
		return cmp.Or(cmp.Compare(x.Account, y.Account), x.Period.Compare(y.Period))
	})
	slices.SortFunc(c.Rollups, func(x, y abacus.Rollup) int {
		return cmp.Or(cmp.Compare(x.Account, y.Account), x.Bucket.Compare(y.Bucket), cmp.Compare(x.Scene, y.Scene),
			cmp.Compare(x.ResourceID, y.ResourceID), cmp.Compare(x.CustomerID, y.CustomerID))
	})
	slices.SortFunc(c.Events, func(x, y abacus.StoredEvent) int { return cmp.Compare(x.ID, y.ID) })
	slices.SortFunc(c.PriceUses, func(x, y abacus.PriceUse) int {
		return cmp.Or(cmp.Compare(x.PriceID, y.PriceID), cmp.Compare(x.Shard, y.Shard))
	})
}
