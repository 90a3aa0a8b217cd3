package rating

import (
	"math/big"
	"sort"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/shopspring/decimal"
)

// LevelRule maps a resource's cloud utilisation to a burst level:
//
//	level = clamp(1 + floor(utilisation% / Step), 1, Max)
//
// CloudSigma does not publish its rule, so this one is configuration. The
// zero value is the default rule, Step 5 and Max 20 (levels 1 to 20, one
// more per 5 % of utilisation); a Step ≤ 0 means 5 and a Max < 1 means 20.
type LevelRule struct {
	Step decimal.Decimal // utilisation percentage points per level
	Max  int             // the highest level
}

// Default level rule parameters.
var (
	DefaultLevelStep = decimal.NewFromInt(5)
	DefaultMaxLevel  = 20
)

func (r LevelRule) withDefaults() LevelRule {
	if r.Step.Sign() <= 0 {
		r.Step = DefaultLevelStep
	}
	if r.Max < 1 {
		r.Max = DefaultMaxLevel
	}
	return r
}

// Level returns the burst level for a utilisation in percent. Utilisation
// below 0 gives level 1; the division is exact, so 10 % with Step 5 is
// level 3.
func (r LevelRule) Level(utilisationPercent decimal.Decimal) int {
	r = r.withDefaults()
	if utilisationPercent.Sign() <= 0 {
		return 1
	}
	q := new(big.Rat).Quo(utilisationPercent.Rat(), r.Step.Rat())
	floor := new(big.Int).Quo(q.Num(), q.Denom()) // q > 0: truncation is floor
	if floor.Cmp(big.NewInt(int64(r.Max-1))) >= 0 {
		return r.Max
	}
	return 1 + int(floor.Int64())
}

// NextLevels runs one 5-minute burst cycle: the levels computed last cycle
// (next) come into force (newCurrent), and a new next is computed from
// this cycle's utilisation with rule. In detail, for every resource named
// in any of the three maps:
//
//   - newCurrent is next's level; without one, current's; without either
//     (a resource first seen in utilisation), 1;
//   - newNext is rule.Level(utilisation) when the utilisation is known;
//     without it, newCurrent's level (no news, no change).
//
// The inputs are not modified; the results are new maps.
func NextLevels(current, next map[string]int, utilisation map[string]decimal.Decimal, rule LevelRule) (newCurrent, newNext map[string]int) {
	newCurrent = make(map[string]int, len(current))
	newNext = make(map[string]int, len(current))
	resources := map[string]bool{}
	for r := range current {
		resources[r] = true
	}
	for r := range next {
		resources[r] = true
	}
	for r := range utilisation {
		resources[r] = true
	}
	for r := range resources {
		cur, ok := next[r]
		if !ok {
			cur, ok = current[r]
		}
		if !ok {
			cur = 1
		}
		newCurrent[r] = cur
		if u, ok := utilisation[r]; ok {
			newNext[r] = rule.Level(u)
		} else {
			newNext[r] = cur
		}
	}
	return newCurrent, newNext
}

// LevelChanges returns the burst level records to append when the levels
// in force change from old to new at time at: one per resource whose level
// differs (a resource missing from old counts as level 1, the level in
// force when none is known), sorted by resource.
func LevelChanges(old, new map[string]int, at time.Time) []abacus.BurstLevel {
	var out []abacus.BurstLevel
	for r, l := range new {
		prev, ok := old[r]
		if !ok {
			prev = 1
		}
		if l != prev {
			out = append(out, abacus.BurstLevel{Resource: r, Level: l, EffectiveFrom: at})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}
