package abacus

import (
	"fmt"
	"math/big"
)

// RoundingMode says how a value between two representable amounts is
// rounded. There is no default: every call that rounds names its mode.
type RoundingMode uint8

const (
	// RoundHalfEven rounds to the nearest; ties go to the even neighbour (banker's rounding).
	RoundHalfEven RoundingMode = iota + 1
	// RoundHalfUp rounds to the nearest; ties go away from zero (commercial rounding).
	RoundHalfUp
	// RoundDown truncates toward zero.
	RoundDown
	// RoundUp rounds away from zero.
	RoundUp
	// RoundFloor rounds toward negative infinity.
	RoundFloor
	// RoundCeiling rounds toward positive infinity.
	RoundCeiling
)

var roundingNames = map[RoundingMode]string{
	RoundHalfEven: "half_even",
	RoundHalfUp:   "half_up",
	RoundDown:     "down",
	RoundUp:       "up",
	RoundFloor:    "floor",
	RoundCeiling:  "ceiling",
}

func (m RoundingMode) String() string {
	if s, ok := roundingNames[m]; ok {
		return s
	}
	return fmt.Sprintf("RoundingMode(%d)", m)
}

// ParseRoundingMode reads a mode by the name String gives it.
func ParseRoundingMode(s string) (RoundingMode, error) {
	for m, name := range roundingNames {
		if name == s {
			return m, nil
		}
	}
	return 0, &Error{Code: CodeInvalid, Field: "rounding", Message: fmt.Sprintf("%q is not one of half_even, half_up, down, up, floor, ceiling", s)}
}

// divRound returns num/den rounded with mode; den must be positive.
func divRound(num, den *big.Int, mode RoundingMode) *big.Int {
	q, r := new(big.Int).QuoRem(num, den, new(big.Int)) // q truncated toward zero
	if r.Sign() == 0 {
		return q
	}
	neg := num.Sign() < 0
	away := false
	switch mode {
	case RoundDown:
	case RoundUp:
		away = true
	case RoundFloor:
		away = neg
	case RoundCeiling:
		away = !neg
	case RoundHalfUp, RoundHalfEven:
		twice := new(big.Int).Abs(r)
		twice.Lsh(twice, 1)
		switch twice.Cmp(den) {
		case 1:
			away = true
		case 0:
			away = mode == RoundHalfUp || q.Bit(0) == 1
		}
	default:
		panic(fmt.Sprintf("abacus: unknown rounding mode %d", mode))
	}
	if away {
		if neg {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}
