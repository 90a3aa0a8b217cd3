package abacus

import "time"

// RollupBucket is the width of the time buckets usage is summed in. All
// time zones in use are whole quarter hours from UTC (+05:45, +12:45), so
// quarter-hour buckets add up exactly to any local hour, day, week, month
// or year.
const RollupBucket = 15 * time.Minute

// Rollup is usage and cost summed per account, scene, resource, instance
// and quarter hour.
type Rollup struct {
	Account    AccountID
	Bucket     time.Time // the start of the quarter hour, UTC
	Scene      int
	ResourceID string
	CustomerID string
	Currency   Currency
	Quantity   int64  // base units used
	Amount     Amount // money charged (voids and volume credits subtract)
	Events     int64  // events counted (voids subtract)
	// UnpricedQuantity and UnpricedEvents are the part of Quantity and
	// Events whose events had no price yet: they add nothing to Amount
	// until abacus rerate charges them, so a statement can tell usage that
	// was free from usage not yet billed.
	UnpricedQuantity int64
	UnpricedEvents   int64
}

// RollupDiff is a rollup key whose stored row differs from what the
// stored events of its key sum to (the usage and count of those that
// stand, what each was charged net of what a void gave back); Stored or
// Events is nil where that side has no row.
type RollupDiff struct{ Stored, Events *Rollup }

// RollupQuery selects an account's rollups in [From, To). Both must be
// whole quarter hours.
type RollupQuery struct {
	Account  AccountID
	From, To time.Time
}
