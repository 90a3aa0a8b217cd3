package ledger

import (
	"context"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// WhyUnpriced says of each unpriced event which price it lacks in the
// price book as stored now, or, where the book prices it now, that abacus
// rerate would charge it; "" for an event that is not unpriced. The book is
// read again first, so that a price imported by another process since
// counts.
func (e *Engine) WhyUnpriced(ctx context.Context, evs []abacus.StoredEvent) ([]string, error) {
	why := make([]string, len(evs))
	var book *rating.Book
	for i := range evs {
		if evs[i].Status != abacus.EventUnpriced {
			continue
		}
		if book == nil {
			if err := e.loadBook(ctx); err != nil {
				return nil, err
			}
			var err error
			if book, _, err = e.priceBook(ctx); err != nil {
				return nil, err
			}
		}
		r, err := book.Rate(&evs[i].UsageEvent, evs[i].Currency, func(rating.Counter) int64 { return 0 })
		switch {
		case err != nil:
			why[i] = err.Error()
		case r.Unpriced:
			why[i] = r.Reason
		default:
			why[i] = "the price book prices it now: abacus rerate charges it"
		}
	}
	return why, nil
}
