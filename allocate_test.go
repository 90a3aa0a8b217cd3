package abacus_test

import (
	"math"
	"math/big"
	"slices"
	"testing"

	"github.com/abacus-billing/abacus"
	"pgregory.net/rapid"
)

func TestAllocateExamples(t *testing.T) {
	tests := []struct {
		name    string
		total   int64 // micro-units
		weights []int64
		want    []int64
	}{
		{"100 in thirds", 100_000_000, []int64{1, 1, 1}, []int64{33_333_334, 33_333_333, 33_333_333}},
		{"-100 in thirds", -100_000_000, []int64{1, 1, 1}, []int64{-33_333_334, -33_333_333, -33_333_333}},
		{"100 micros in thirds", 100, []int64{1, 1, 1}, []int64{34, 33, 33}},
		{"2 micros in thirds", 2, []int64{1, 1, 1}, []int64{1, 1, 0}},
		{"exact", 10, []int64{1, 2, 3, 4}, []int64{1, 2, 3, 4}},
		{"largest remainders win, not earliest", 10, []int64{1, 2, 4}, []int64{1, 3, 6}},
		{"largest remainders win, negative", -10, []int64{1, 2, 4}, []int64{-1, -3, -6}},
		{"ties go to earlier parts", 5, []int64{3, 3, 3, 1}, []int64{2, 2, 1, 0}},
		{"one micro, equal weights", 1, []int64{1, 1}, []int64{1, 0}},
		{"zero weights get nothing", 1, []int64{0, 1, 0, 1, 0}, []int64{0, 1, 0, 0, 0}},
		{"zero weights mixed in", 100_000_000, []int64{0, 1, 0, 1, 1, 0}, []int64{0, 33_333_334, 0, 33_333_333, 33_333_333, 0}},
		{"zero weights, negative", -7, []int64{2, 0, 5}, []int64{-2, 0, -5}},
		{"single weight", 12_345, []int64{7}, []int64{12_345}},
		{"zero total", 0, []int64{1, 2, 3}, []int64{0, 0, 0}},
		{"70/30", 999_999, []int64{70, 30}, []int64{699_999, 300_000}},
		{"huge weights", 3, []int64{math.MaxInt64, math.MaxInt64, math.MaxInt64}, []int64{1, 1, 1}},
		{"huge and tiny weights", 1_000_000, []int64{math.MaxInt64, 1}, []int64{1_000_000, 0}},
		{"max total", math.MaxInt64, []int64{1, 1}, []int64{4_611_686_018_427_387_904, 4_611_686_018_427_387_903}},
		{"min total alone", math.MinInt64, []int64{1}, []int64{math.MinInt64}},
		{"min total halves", math.MinInt64, []int64{1, 1}, []int64{math.MinInt64 / 2, math.MinInt64 / 2}},
		{"min total, zero weight first", math.MinInt64, []int64{0, 5}, []int64{0, math.MinInt64}},
		{"max total, huge weights", math.MaxInt64, []int64{math.MaxInt64, math.MaxInt64 - 1}, []int64{4_611_686_018_427_387_904, 4_611_686_018_427_387_903}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := abacus.Allocate(micros(tt.total), tt.weights)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]int64, len(parts))
			for i, p := range parts {
				got[i] = p.Micros()
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Allocate(%d, %v) = %v, want %v", tt.total, tt.weights, got, tt.want)
			}
			checkAllocation(t, tt.total, tt.weights, parts)
		})
	}
}

func TestAllocateDoesNotChangeWeights(t *testing.T) {
	w := []int64{3, 0, 7}
	if _, err := abacus.Allocate(micros(-11), w); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w, []int64{3, 0, 7}) {
		t.Fatalf("weights changed to %v", w)
	}
}

func TestAllocateErrors(t *testing.T) {
	for _, w := range [][]int64{
		nil,
		{},
		{0},
		{0, 0, 0},
		{-1},
		{1, -1},
		{5, 0, -3, 10},
		{math.MinInt64, 1},
	} {
		parts, err := abacus.Allocate(micros(100), w)
		wantError(t, err, abacus.CodeInvalid, "weights")
		if parts != nil {
			t.Errorf("Allocate(%v) returned parts %v with its error", w, parts)
		}
	}
}

// checkAllocation checks the invariants of a split with big integers: it
// sums exactly to the total, every part is within one micro-unit of its
// exact share total×w/Σw (strictly: |part×Σw − total×w| < Σw), every part
// has the sign of the total (or is zero), and a zero weight gets nothing.
func checkAllocation(t tb, total int64, weights []int64, parts []abacus.Amount) {
	t.Helper()
	if len(parts) != len(weights) {
		t.Fatalf("%d parts for %d weights", len(parts), len(weights))
	}
	sumW := new(big.Int)
	for _, w := range weights {
		sumW.Add(sumW, big.NewInt(w))
	}
	sum := new(big.Int)
	bigTotal := big.NewInt(total)
	for i, p := range parts {
		sum.Add(sum, big.NewInt(p.Micros()))
		diff := new(big.Int).Mul(big.NewInt(p.Micros()), sumW)
		diff.Sub(diff, new(big.Int).Mul(bigTotal, big.NewInt(weights[i])))
		if diff.CmpAbs(sumW) >= 0 {
			t.Fatalf("Allocate(%d, %v): part %d = %d is a micro-unit or more off its share", total, weights, i, p.Micros())
		}
		if p.Micros() != 0 && (p.Micros() < 0) != (total < 0) {
			t.Fatalf("Allocate(%d, %v): part %d = %d has the wrong sign", total, weights, i, p.Micros())
		}
		if weights[i] == 0 && !p.IsZero() {
			t.Fatalf("Allocate(%d, %v): zero weight %d got %d", total, weights, i, p.Micros())
		}
	}
	if sum.Cmp(bigTotal) != 0 {
		t.Fatalf("Allocate(%d, %v): parts sum to %s", total, weights, sum)
	}
}

func TestAllocateProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		total := rapid.OneOf(
			rapid.Int64(),
			rapid.Int64Range(-1000, 1000),
			rapid.SampledFrom([]int64{math.MinInt64, math.MinInt64 + 1, math.MaxInt64, math.MaxInt64 - 1, 0, 1, -1}),
		).Draw(t, "total")
		weight := rapid.OneOf(
			rapid.Int64Range(0, 10),
			rapid.Int64Range(0, 1_000_000),
			rapid.Int64Range(0, math.MaxInt64),
			rapid.SampledFrom([]int64{0, 1, math.MaxInt64}),
		)
		weights := rapid.SliceOfN(weight, 1, 40).Draw(t, "weights")
		allZero := !slices.ContainsFunc(weights, func(w int64) bool { return w != 0 })

		parts, err := abacus.Allocate(micros(total), weights)
		if allZero {
			wantError(t, err, abacus.CodeInvalid, "weights")
			return
		}
		if err != nil {
			t.Fatalf("Allocate(%d, %v): %v", total, weights, err)
		}
		checkAllocation(t, total, weights, parts)

		// Deterministic: the same input gives the same parts.
		again, err := abacus.Allocate(micros(total), weights)
		if err != nil || !slices.Equal(parts, again) {
			t.Fatalf("Allocate(%d, %v) gave %v, then %v, %v", total, weights, parts, again, err)
		}

		// A negative total splits into the mirror image of the positive one.
		if total != math.MinInt64 {
			mirror, err := abacus.Allocate(micros(-total), weights)
			if err != nil {
				t.Fatal(err)
			}
			for i := range parts {
				if mirror[i].Micros() != -parts[i].Micros() {
					t.Fatalf("Allocate(%d) and Allocate(%d) are not mirror images: %v, %v", total, -total, parts, mirror)
				}
			}
		}

		// Scaling every weight by the same factor changes nothing.
		k := rapid.Int64Range(2, 1000).Draw(t, "k")
		scaled := make([]int64, len(weights))
		for i, w := range weights {
			if w > math.MaxInt64/k {
				return
			}
			scaled[i] = w * k
		}
		same, err := abacus.Allocate(micros(total), scaled)
		if err != nil || !slices.Equal(parts, same) {
			t.Fatalf("Allocate(%d, %v) = %v but with weights ×%d: %v, %v", total, weights, parts, k, same, err)
		}
	})
}
