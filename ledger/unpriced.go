package ledger

import (
	"context"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// WhyUnpriced says of each unpriced event which price it lacks in the
// price book as stored now, or, where the book prices it now, that abacus
// rerate would charge it; "" for an event that is not unpriced. A price
// imported by another process since the engine loaded its book counts.
func (e *Engine) WhyUnpriced(ctx context.Context, evs []abacus.StoredEvent) ([]string, error) {
	why := make([]string, len(evs))
	var book *rating.Book
	for i := range evs {
		if evs[i].Status != abacus.EventUnpriced {
			continue
		}
		if book == nil {
			var err error
			if book, err = e.currentBook(ctx); err != nil {
				return nil, err
			}
		}
		if why[i] = book.Lacks(&evs[i].UsageEvent, evs[i].Currency); why[i] == "" {
			why[i] = "the price book prices it now: abacus rerate charges it, if its account's floor allows"
		}
	}
	return why, nil
}

// currentBook is the price book as stored now: the loaded one unless the
// store's is newer. (Loading reads every price and burst level; asking for
// the version reads one row.)
func (e *Engine) currentBook(ctx context.Context) (*rating.Book, error) {
	book, version, err := e.priceBook(ctx)
	if err != nil {
		return nil, err
	}
	stored, err := e.store.PriceBookVersion(ctx)
	if err != nil || stored <= version {
		return book, err
	}
	if err := e.loadBook(ctx); err != nil {
		return nil, err
	}
	book, _, err = e.priceBook(ctx)
	return book, err
}
