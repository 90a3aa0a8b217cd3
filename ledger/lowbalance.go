package ledger

import (
	"encoding/json"

	"github.com/abacus-billing/abacus"
)

// lowBalances writes a message for every account among customers whose
// available total fell below its low-balance threshold in this batch, by
// usage or by any other operation (a charge, a hold, a revert of a top-up)
// alike: one that crossed it otherwise would leave usage to find it below
// already, and no message would ever come.
func (b *batch) lowBalances(customers []*customerWallets) ([]abacus.OutboxMessage, error) {
	var out []abacus.OutboxMessage
	done := map[int64]bool{}
	for _, cw := range customers {
		if cw.lowBalance == nil || done[cw.lead] {
			continue
		}
		done[cw.lead] = true
		var before, after abacus.Amount
		for _, id := range cw.ids {
			w := b.before[id]
			bAvail, err := w.Available()
			if err != nil {
				return nil, err
			}
			aAvail, err := b.wallets[id].Available()
			if err != nil {
				return nil, err
			}
			if before, err = before.Add(bAvail); err != nil {
				return nil, err
			}
			if after, err = after.Add(aAvail); err != nil {
				return nil, err
			}
		}
		if before.Cmp(*cw.lowBalance) >= 0 && after.Cmp(*cw.lowBalance) < 0 {
			acct := b.wallets[cw.lead].Account
			payload, _ := json.Marshal(map[string]string{
				"account": string(acct), "currency": string(cw.currency),
				"threshold": cw.lowBalance.String(), "available": after.String(),
			})
			out = append(out, abacus.OutboxMessage{Kind: abacus.OutboxLowBalance, Account: acct, Payload: string(payload), CreatedAt: b.now})
		}
	}
	return out, nil
}
