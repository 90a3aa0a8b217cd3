package abacus

import (
	"time"

	"github.com/shopspring/decimal"
)

// PriceModel says how a price turns usage into money.
type PriceModel string

// Pricing models. Every model is a cumulative cost function C(q) of the
// quantity q an account used in the billing period under the same price
// key; an event that takes the period's usage from q to q+v costs
// C(q+v) − C(q). So the charges of a period always sum to C(total),
// whatever order the events came in.
const (
	ModelPerUnit   PriceModel = "per_unit"  // C(q) = UnitPrice × q / Unit
	ModelGraduated PriceModel = "graduated" // each tier prices the units that fall in it
	ModelVolume    PriceModel = "volume"    // the tier reached prices every unit of the period
	ModelPackage   PriceModel = "package"   // C(q) = ⌈q / PackageSize⌉ × UnitPrice
	ModelBurst     PriceModel = "burst"     // UnitPrice of the burst level in force at the event's time
)

// Price is one version of the price of a SKU: valid from ValidFrom until
// the next version of the same key takes over. Prices are never edited in
// place; a new price is a new row.
type Price struct {
	ID         int64
	SKUType    int    // CSGHub sku_type: 1 csghub, 2 starship
	SKUKind    int    // CSGHub sku_kind: 1 time, 4 prompt tokens, 5 completion tokens, …
	ResourceID string // the resource the price is for
	UnitType   string // CSGHub sku_unit_type: minute, token, second, byte, count, …
	Currency   Currency
	Unit       int64      // the price is per this many base units (CSGHub sku_unit)
	Model      PriceModel // how usage becomes money
	UnitPrice  decimal.Decimal
	// CachedPrice is, for a per-unit price of prompt tokens, the price of
	// the prompt tokens the model served from its cache (CSGHub's
	// sku_cached_price); not Valid: they cost UnitPrice like the others.
	CachedPrice decimal.NullDecimal
	Tiers       []PriceTier          // graduated and volume
	Package     int64                // package: base units per package
	Levels      []BurstPrice         // burst: the price at each level; level 0 is the subscription price
	Discounts   []CommitmentDiscount // off the price for accounts with a commitment
	License     *License             // set when the SKU is a licence
	Desc        string
	ValidFrom   time.Time
	// Revision tells apart versions of one key and currency with the same
	// ValidFrom: a correction that replaces a version from its own start
	// stores it again with the next revision. The highest is in force; the
	// others stay, as the record of what the events they rated paid. 0 for
	// a version as first stored.
	Revision  int
	CreatedAt time.Time
}

// PriceTier is one band of a tiered price: units up to UpTo (in base
// units, counted over the billing period; 0 means no upper bound, last
// tier only) cost UnitPrice per Unit, plus FlatFee once when usage enters
// the tier.
type PriceTier struct {
	UpTo      int64
	UnitPrice decimal.Decimal
	FlatFee   decimal.Decimal
}

// BurstPrice is the price per Unit at one burst level.
type BurstPrice struct {
	Level     int
	UnitPrice decimal.Decimal
}

// CommitmentDiscount takes Fraction off for accounts committed for at
// least Months.
type CommitmentDiscount struct {
	Months   int
	Fraction decimal.Decimal
}

// License describes a licence SKU, as CloudSigma's /licenses/ does.
type License struct {
	Name       string
	LongName   string
	Type       string // install, instance or stub
	UserMetric string // what counts licences, such as "smp"
	Burstable  bool   // usage without a subscription is billed at burst prices
}

// BurstCycle is how often burst levels are recomputed, as CloudSigma does.
const BurstCycle = 5 * time.Minute

// BurstHoldBack is how far past its cycle's start a level change may be
// held back, to take effect after the events already charged at the old
// level: two cycles, more than a cycle runs late plus the clock error
// producers are allowed by default. An event dated further ahead (a clock
// years ahead, let in by --max-event-ahead 0) does not hold it back: it
// would have held every later change of its resource, for every account,
// until its time.
const BurstHoldBack = 2 * BurstCycle

// FarShard is the PriceUse shard of events dated at or past BurstHoldBack
// after the start of the cycle they were charged in. No cycle that can
// run before their time passes could hold a change back to them, and,
// kept apart, they leave the hold-back to the events near the cycles
// (with the other shards' latest times that far ahead, a cycle had held
// back nothing, for any account, until their time).
const FarShard = -1

// BurstLevel records that a resource's burst level changed at a time.
type BurstLevel struct {
	Resource      string
	Level         int
	EffectiveFrom time.Time
}

// Commitment is an account's commitment to a period of use, which earns
// the CommitmentDiscounts of the prices it uses. Months, From and Until
// are its term, which sets its discount; Ended, when set, is when it was
// ended early (a customer who cancels keeps what was charged at the
// term's discount: what the early end costs them is the operator's to
// charge).
type Commitment struct {
	Account AccountID
	Months  int
	From    time.Time
	Until   time.Time // exclusive
	Ended   time.Time // zero, or From < Ended ≤ Until; exclusive
}

// End is when the commitment stops counting: Ended if it was ended early,
// else Until.
func (c *Commitment) End() time.Time {
	if c.Ended.IsZero() {
		return c.Until
	}
	return c.Ended
}
