package ledger

import (
	"slices"

	"github.com/abacus-billing/abacus"
)

// revertCheck checks that each revert names the transaction it reverts,
// which is no revert itself and is reverted by it alone, and that its
// postings are that transaction's, negated. A revert whose link was lost
// had let the transaction be reverted again, with verify clean (QA).
type revertCheck struct {
	c     *Check
	of    map[int64]int64           // revert → the transaction it reverts
	by    map[int64]int64           // transaction → its revert
	isRev map[int64]bool            // transactions of type revert
	legs  map[int64]map[int64]int64 // of both sides: wallet → amount
}

func newRevertCheck(c *Check) *revertCheck {
	return &revertCheck{c: c, of: map[int64]int64{}, by: map[int64]int64{}, isRev: map[int64]bool{},
		legs: map[int64]map[int64]int64{}}
}

// transaction takes the transactions in id order; a revert comes after
// the transaction it reverts.
func (rc *revertCheck) transaction(t abacus.Transaction) {
	if t.Type == abacus.TxRevert {
		rc.isRev[t.ID] = true
		if t.Reverts == 0 {
			rc.c.fail("transaction %d is a revert that names no transaction it reverts", t.ID)
		}
	}
	if t.Reverts == 0 {
		return
	}
	if t.Type != abacus.TxRevert {
		rc.c.fail("transaction %d is a %s but names transaction %d as the one it reverts", t.ID, t.Type, t.Reverts)
	}
	if prev, dup := rc.by[t.Reverts]; dup {
		rc.c.fail("transaction %d is reverted by %d and %d", t.Reverts, prev, t.ID)
	}
	rc.by[t.Reverts], rc.of[t.ID] = t.ID, t.Reverts
	rc.legs[t.ID], rc.legs[t.Reverts] = map[int64]int64{}, map[int64]int64{}
}

func (rc *revertCheck) posting(p abacus.Posting) {
	if l := rc.legs[p.TxID]; l != nil {
		l[p.WalletID] += p.Amount.Micros()
	}
}

// finish compares each revert with what it reverts; exists says whether a
// transaction id is stored.
func (rc *revertCheck) finish(exists func(int64) bool) {
	revs := make([]int64, 0, len(rc.of))
	for r := range rc.of {
		revs = append(revs, r)
	}
	slices.Sort(revs)
	for _, r := range revs {
		o := rc.of[r]
		switch {
		case !exists(o):
			rc.c.fail("transaction %d reverts transaction %d, which does not exist", r, o)
			continue
		case o >= r:
			rc.c.fail("transaction %d reverts transaction %d, which is not earlier", r, o)
		case rc.isRev[o]:
			rc.c.fail("transaction %d reverts transaction %d, which is a revert itself", r, o)
		}
		mine, theirs := rc.legs[r], rc.legs[o]
		mirrored := len(mine) == len(theirs)
		for w, a := range theirs {
			if b, ok := mine[w]; !ok || b != -a {
				mirrored = false
			}
		}
		if !mirrored {
			rc.c.fail("transaction %d reverts transaction %d, but its postings are not that one's negated", r, o)
		}
	}
}
