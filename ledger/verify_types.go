package ledger

import "github.com/abacus-billing/abacus"

// typeShape is what a transaction of a type posts: the one system account
// on its other side, and which way the customer's money goes (+1 in, -1
// out, 0 either). A type missing here (transfer, revert) may post anything
// that balances; a revert is checked against what it reverts.
type typeShape struct {
	system abacus.SystemAccount
	sign   int
}

var typeShapes = map[abacus.TxType]typeShape{
	abacus.TxGrant:    {abacus.SystemPromotions, +1},
	abacus.TxTopup:    {abacus.SystemPaymentClearing, +1},
	abacus.TxRefund:   {abacus.SystemRefunds, +1},
	abacus.TxCharge:   {abacus.SystemRevenue, -1},
	abacus.TxHoldPost: {abacus.SystemRevenue, -1},
	abacus.TxAdjust:   {abacus.SystemAdjustments, 0},
	abacus.TxUsage:    {abacus.SystemRevenue, 0}, // a volume step credits
}

// shapeOf checks that posting p of a transaction of type t is on the side
// its type names, and returns a violation or "". A type changed behind
// abacus's back (a top-up made a grant) had passed every other check (QA).
func shapeOf(t abacus.TxType, p abacus.Posting) string {
	want, ok := typeShapes[t]
	if !ok {
		return ""
	}
	if name, system := abacus.SystemAccountByID(p.Account); system {
		if name != want.system {
			return "posts to the " + string(name) + " account, where its type has " + string(want.system) + " on its other side"
		}
		return ""
	}
	if s := p.Amount.Cmp(abacus.Zero); want.sign != 0 && s != want.sign {
		if want.sign > 0 {
			return "takes money from a customer, where its type gives it"
		}
		return "gives money to a customer, where its type takes it"
	}
	return ""
}
