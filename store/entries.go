package store

import (
	"cmp"
	"math"
	"slices"

	"github.com/abacus-billing/abacus"
)

// WalletPage reads up to limit entries of one wallet with transaction ids
// below maxTx (or up to it, if inclusive), newest first.
type WalletPage func(w abacus.Wallet, maxTx int64, inclusive bool, limit int) ([]abacus.Entry, error)

// PageEntries returns one page of an account's entries by reading each of
// its wallets newest first and merging them. Each wallet read is a range
// scan of the postings primary key, so a page costs the same however long
// the account's history is.
func PageEntries(wallets []abacus.Wallet, q abacus.EntryQuery, read WalletPage) ([]abacus.Entry, error) {
	var all []abacus.Entry
	for _, w := range wallets {
		maxTx, inclusive := int64(math.MaxInt64), true
		if q.After.TxID != 0 {
			maxTx, inclusive = q.After.TxID, w.ID > q.After.WalletID
		}
		es, err := read(w, maxTx, inclusive, q.Limit)
		if err != nil {
			return nil, err
		}
		all = append(all, es...)
	}
	slices.SortFunc(all, func(a, b abacus.Entry) int {
		if c := cmp.Compare(b.TxID, a.TxID); c != 0 {
			return c
		}
		return cmp.Compare(a.WalletID, b.WalletID)
	})
	if len(all) > q.Limit {
		all = all[:q.Limit]
	}
	return all, nil
}
