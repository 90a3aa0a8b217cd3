package rating_test

import (
	"maps"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
	"github.com/shopspring/decimal"
	"pgregory.net/rapid"
)

func TestLevelRule(t *testing.T) {
	def := rating.LevelRule{}
	custom := rating.LevelRule{Step: d("12.5"), Max: 8}
	for _, tc := range []struct {
		rule rating.LevelRule
		util string
		want int
	}{
		{def, "-3", 1},
		{def, "0", 1},
		{def, "4.999999", 1},
		{def, "5", 2},
		{def, "5.000001", 2},
		{def, "10", 3},
		{def, "47.5", 10},
		{def, "94.99", 19},
		{def, "95", 20},
		{def, "100", 20},
		{def, "1000000000000000000000000", 20},
		{rating.LevelRule{Step: d("-1"), Max: -1}, "10", 3}, // nonsense means the default
		{custom, "12.4", 1},
		{custom, "12.5", 2},
		{custom, "87.5", 8},
		{custom, "100", 8},
		{rating.LevelRule{Step: d("5"), Max: 1}, "100", 1},
		{rating.LevelRule{Step: d("0.3"), Max: 20}, "0.9", 4}, // exact: 0.9 / 0.3 is 3, not 2.999…
	} {
		if got := tc.rule.Level(d(tc.util)); got != tc.want {
			t.Errorf("%+v.Level(%s) = %d, want %d", tc.rule, tc.util, got, tc.want)
		}
	}
}

func TestPropertyLevelRuleMonotone(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rule := rating.LevelRule{Step: decimal.New(rapid.Int64Range(1, 10000).Draw(t, "step"), -2), Max: rapid.IntRange(1, 40).Draw(t, "max")}
		a := decimal.New(rapid.Int64Range(-1000, 100000).Draw(t, "a"), -3)
		b := a.Add(decimal.New(rapid.Int64Range(0, 100000).Draw(t, "inc"), -3))
		la, lb := rule.Level(a), rule.Level(b)
		if la < 1 || lb > rule.Max || la > lb {
			t.Fatalf("levels %d at %s, %d at %s", la, a, lb, b)
		}
	})
}

func TestNextLevels(t *testing.T) {
	current := map[string]int{"cpu": 3, "mem": 2, "ip": 1}
	next := map[string]int{"cpu": 4, "mem": 2}
	util := map[string]decimal.Decimal{"cpu": d("51"), "dssd": d("7"), "ip": d("0")}
	curCopy, nextCopy := maps.Clone(current), maps.Clone(next)
	newCurrent, newNext := rating.NextLevels(current, next, util, rating.LevelRule{})
	wantCurrent := map[string]int{"cpu": 4, "mem": 2, "ip": 1, "dssd": 1}
	wantNext := map[string]int{"cpu": 11, "mem": 2, "ip": 1, "dssd": 2}
	if !maps.Equal(newCurrent, wantCurrent) || !maps.Equal(newNext, wantNext) {
		t.Errorf("NextLevels: %v %v, want %v %v", newCurrent, newNext, wantCurrent, wantNext)
	}
	if !maps.Equal(current, curCopy) || !maps.Equal(next, nextCopy) {
		t.Error("NextLevels changed its inputs")
	}
	// The cycle after: what was next is now current.
	c2, n2 := rating.NextLevels(newCurrent, newNext, map[string]decimal.Decimal{"cpu": d("0")}, rating.LevelRule{})
	if c2["cpu"] != 11 || n2["cpu"] != 1 || c2["dssd"] != 2 || n2["dssd"] != 2 {
		t.Errorf("second cycle: %v %v", c2, n2)
	}
	// From nothing.
	c3, n3 := rating.NextLevels(nil, nil, map[string]decimal.Decimal{"cpu": d("99")}, rating.LevelRule{})
	if c3["cpu"] != 1 || n3["cpu"] != 20 {
		t.Errorf("first cycle: %v %v", c3, n3)
	}
}

func TestLevelChangesFeedTheBook(t *testing.T) {
	at := time.Date(2026, 1, 10, 10, 0, 0, 0, time.UTC)
	old := map[string]int{"cpu": 3, "mem": 2}
	changes := rating.LevelChanges(old, map[string]int{"cpu": 4, "mem": 2, "dssd": 1, "ip": 2}, at)
	want := []abacus.BurstLevel{{Resource: "cpu", Level: 4, EffectiveFrom: at}, {Resource: "ip", Level: 2, EffectiveFrom: at}}
	if len(changes) != len(want) || changes[0] != want[0] || changes[1] != want[1] {
		t.Fatalf("changes %v, want %v", changes, want)
	}
	b := mustBook(t, []abacus.Price{burst("cpu", 1, map[int]string{3: "3", 4: "4"})},
		append([]abacus.BurstLevel{{Resource: "cpu", Level: 3, EffectiveFrom: at.Add(-5 * time.Minute)}}, changes...), nil)
	if b.Level("cpu", at.Add(-time.Second)) != 3 || b.Level("cpu", at) != 4 {
		t.Error("the book does not follow the changes")
	}
}
