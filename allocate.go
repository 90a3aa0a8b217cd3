package abacus

import (
	"math/big"
	"sort"
)

// Allocate splits total into len(weights) parts proportional to the
// weights, by the largest-remainder method: every part first gets the
// floor of its exact share (in micro-units), then the micro-units left over
// go one each to the parts with the largest remainders, earlier parts
// first on ties. The parts always sum exactly to total, and no part differs
// from its exact share by a micro-unit or more.
//
// Weights must be non-negative with at least one positive.
func Allocate(total Amount, weights []int64) ([]Amount, error) {
	if len(weights) == 0 {
		return nil, &Error{Code: CodeInvalid, Field: "weights", Message: "at least one weight is needed"}
	}
	sum := new(big.Int)
	for _, w := range weights {
		if w < 0 {
			return nil, &Error{Code: CodeInvalid, Field: "weights", Message: "weights must not be negative"}
		}
		sum.Add(sum, big.NewInt(w))
	}
	if sum.Sign() == 0 {
		return nil, &Error{Code: CodeInvalid, Field: "weights", Message: "at least one weight must be positive"}
	}
	// Split the magnitude and give the parts the sign of the total, so a
	// negative total splits into mirror images of the positive split.
	neg := total.micros < 0
	mag := new(big.Int).Abs(big.NewInt(total.micros))

	type rem struct {
		i int
		r *big.Int
	}
	shares := make([]*big.Int, len(weights))
	rems := make([]rem, len(weights))
	left := new(big.Int).Set(mag)
	for i, w := range weights {
		q, r := new(big.Int).QuoRem(new(big.Int).Mul(mag, big.NewInt(w)), sum, new(big.Int))
		shares[i] = q
		left.Sub(left, q)
		rems[i] = rem{i, r}
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r.Cmp(rems[b].r) > 0 })
	for k := int64(0); k < left.Int64(); k++ { // left < len(weights)
		shares[rems[k].i].Add(shares[rems[k].i], big.NewInt(1))
	}
	parts := make([]Amount, len(weights))
	for i, q := range shares {
		if neg {
			q.Neg(q)
		}
		parts[i] = Amount{q.Int64()} // |q| ≤ |total|, so it fits
	}
	return parts, nil
}
