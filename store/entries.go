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

// CheckLimit rejects a page size below 1, which no store can honour the
// same way (SQL dialects disagree on LIMIT 0 and on negative limits).
func CheckLimit(limit int) error {
	if limit < 1 {
		return abacus.Errorf(abacus.CodeInvalid, "limit", "must be at least 1, not %d", limit)
	}
	return nil
}

// PageEntries returns one page of an account's entries by reading each of
// its wallets newest first and merging them. Each wallet read is a range
// scan of the postings primary key, so a page costs the same however long
// the account's history is.
//
// The wallets and every read must come from one snapshot: a commit seen
// by one wallet's read and not another's would put one posting of a
// transaction on the page without its siblings, and the cursor would then
// skip those siblings for good.
func PageEntries(wallets []abacus.Wallet, q abacus.EntryQuery, read WalletPage) ([]abacus.Entry, error) {
	if err := CheckLimit(q.Limit); err != nil {
		return nil, err
	}
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
