// Package rating turns usage events into exact costs. It is pure code: no
// database, no clock, no I/O beyond reading and writing price files. The
// ingestion engine calls it inside its database transaction and keeps the
// state rating needs (the per-period usage counters) itself.
//
// # The pieces
//
//   - [Components] splits an event into the parts that are priced
//     separately (a token event becomes prompt and completion tokens), each
//     with a price [Key].
//   - [Book] is an immutable, indexed snapshot of the price book: every
//     price version, the burst level history and the accounts'
//     commitments. [Book.Price] finds the version in force at a time.
//   - [Book.Rate] prices one event for an account and returns a [Rating]:
//     one [Line] per component, and the total.
//   - [Validate] checks one price; [ParseFile] and [WriteFile] read and write
//     price files (YAML or JSON) with errors that name the file, the line
//     and the field.
//   - [LevelRule] and [NextLevels] compute CloudSigma-style burst levels
//     from utilisation every 5-minute cycle.
//
// # Cumulative cost functions
//
// Every pricing model is a cumulative cost function C(q) of the quantity q
// an account used in the billing period under one price key and currency.
// An event that takes the period's usage from q to q+v costs
// C(q+v) − C(q). The charges of a period therefore sum to C(total) exactly,
// whatever order the events came in and however they were split. The
// models:
//
//   - per_unit: C(q) = UnitPrice × q / Unit. It needs no counter: an event
//     of v units costs UnitPrice × v / Unit.
//   - graduated: each tier prices the units that fall in it. Tiers are
//     cumulative upper bounds in base units, (previous UpTo, UpTo]; the last
//     tier has UpTo 0 and no bound. A tier's FlatFee is charged once, when
//     the period's usage first enters the tier (the first unit above the
//     previous bound).
//   - volume: C(q) = UnitPrice of the tier q falls in × q / Unit + that
//     tier's FlatFee, and C(0) = 0. Crossing into a cheaper tier can make an
//     event's increment negative: that is intended, so that the period's
//     total is exactly the volume price of its total usage.
//   - package: C(q) = ⌈q / Package⌉ × UnitPrice. Unit must be 1 (the price
//     is per package, not per Unit).
//   - burst: an event of v units costs the price of the burst level in force
//     for the resource (Key.ResourceID) at the event's time × v / Unit. The
//     level is the newest [abacus.BurstLevel] with EffectiveFrom ≤ the
//     event's time; with none, level 1. The price must list that level, or
//     the event is unpriced. Level 0 is the subscription (list) price, as in
//     CloudSigma's /pricing/: it is never used for metered usage, which is
//     always at a level ≥ 1. Burst prices need no counter.
//
// Graduated, volume and package prices need the period's usage so far: the
// [Counter] named on their lines. The billing period is the calendar month
// of the event's time in the book's zone (UTC unless the database's billing
// zone says otherwise; see [Month]). The counter belongs to the key and currency,
// not to a price version, so a price change in the middle of a month keeps
// counting: an event after the change is priced with the new version's
// C(q+v) − C(q), where q includes the usage before the change. Per-unit and
// burst prices keep no counter, so if a key switches from per_unit to a
// counted model in the middle of a month, the counted model starts from the
// usage after the switch.
//
// # Exactness
//
// Arithmetic is exact, on integers (C(q) × 10^20 as a 256-bit integer
// for every realistic price, math/big beyond: see cost.go); no float is
// used anywhere. The one place a result may not be a finite decimal is
// the division by Unit (a Unit of 3 600 000 has the factor 3). Each value of C(q) is therefore rounded
// half-even to [CostScale] (20) decimal places, the precision CloudSigma
// quotes. Because increments are differences of rounded values of C, the
// increments of a counted model still sum to the rounded C(total) exactly.
// A per-unit or burst line is rounded on its own: when UnitPrice / Unit is
// not a decimal of at most 20 places, a period's lines may differ from the
// cost of its total by at most ½·10⁻²⁰ per line. A discount is applied
// exactly, without rounding (the cost times 1 − the fraction).
//
// # Discounts
//
// If the account has a [abacus.Commitment] active at the event's time
// (From ≤ t < Until; with several, the longest in Months counts), a line's
// cost is reduced by the largest Fraction among the price's Discounts whose
// Months is at most the commitment's Months. The Line records the fraction
// and the cost before it.
//
// # Licences
//
// A price with a License is rated by its model like any other, with these
// rules:
//
//   - install: every event is charged, whether or not the server runs.
//   - instance: an event whose extra has "running": false (or the string
//     "false") costs zero and counts zero units; any other event is charged.
//     "running" must be a boolean or the string "true" or "false".
//   - stub: the customer declares a count in extra[License.UserMetric] (an
//     integer, as a JSON number or string); the billed quantity is the
//     event's value (the duration) × that count. Missing or malformed, the
//     event is an error naming the field.
//   - Burstable=false means CloudSigma requires a subscription for the
//     licence. Usage of such a licence by an account with no active
//     commitment is still charged, at the normal price (an operator never
//     silently gives usage away), and the line is flagged Uncommitted so the
//     operator can follow it up. Rating.Uncommitted is true when any line is;
//     the ledger stores it on the event (StoredEvent.Uncommitted).
//
// For install and instance licences the user metric is informative: the
// producer sends a value that already counts licences (e.g. minutes × cores).
package rating
