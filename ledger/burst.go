package ledger

import (
	"context"
	"time"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// staleUtilisation is how old the latest utilisation of a resource may be
// before a cycle that goes by it says so: three cycles without a report.
const staleUtilisation = 3 * abacus.BurstCycle

// RunBurstCycle runs the burst cycle that contains now, unless some process
// ran it already: the levels computed last cycle take effect, and new ones
// are computed from the latest utilisation by rule for the next cycle. A
// resource whose latest report is older than staleUtilisation keeps
// following it, and the cycle logs a warning: its feed may have stopped.
// So does a level for the next cycle that a burst price of the resource
// has no price for: its events would be unpriced, and an operator has a
// cycle to add the level or change the rule (serve's --burst-max).
func (e *Engine) RunBurstCycle(ctx context.Context, now time.Time, rule rating.LevelRule) (bool, error) {
	cycle := now.UTC().Truncate(abacus.BurstCycle)
	book, err := e.currentBook(ctx)
	if err != nil {
		return false, err
	}
	return e.store.BurstCycle(ctx, cycle, func(util map[string]abacus.Utilisation, inForce, next map[string]int) ([]abacus.BurstLevel, map[string]int) {
		percents := make(map[string]decimal.Decimal, len(util))
		for r, u := range util {
			percents[r] = u.Percent
			if age := cycle.Sub(u.MeasuredAt); age > staleUtilisation {
				e.cfg.Logger.Warn("burst: a resource's utilisation was last reported long ago; its level still follows that report",
					"resource", r, "percent", u.Percent.String(), "reported", u.MeasuredAt.Format(time.RFC3339), "age", age.Round(time.Second).String())
			}
		}
		newCurrent, newNext := rating.NextLevels(inForce, next, percents, rule)
		for r, level := range newNext {
			for _, p := range book.BurstGaps(r, level, cycle.Add(abacus.BurstCycle)) {
				e.cfg.Logger.Warn("burst: a resource goes to a level its burst price has no price for; its events will be unpriced until one is added",
					"resource", r, "level", level, "price", p.ID, "currency", string(p.Currency), "from", cycle.Add(abacus.BurstCycle).Format(time.RFC3339))
			}
		}
		// Only changes are recorded: the history stays as long as the
		// levels' story, not one row per resource every five minutes.
		return rating.LevelChanges(inForce, newCurrent, cycle), newNext
	})
}

// BurstLoop runs a burst cycle at the start of every cycle until ctx ends.
func (e *Engine) BurstLoop(ctx context.Context, rule rating.LevelRule) {
	for {
		now := e.cfg.Now()
		if _, err := e.RunBurstCycle(ctx, now, rule); err != nil && ctx.Err() == nil {
			e.cfg.Logger.Error("burst cycle", "err", err)
		}
		wait := now.Truncate(abacus.BurstCycle).Add(abacus.BurstCycle).Sub(now)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
