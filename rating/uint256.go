package rating

import (
	"math/big"
	"math/bits"
)

// u256 is a 256-bit integer, least significant word first. The fast cost
// path keeps unsigned values in it, and signed differences and sums in
// two's complement: their magnitudes stay far below 2²⁵⁵ (see costFn).
type u256 [4]uint64

func (x *u256) isZero() bool { return x[0]|x[1]|x[2]|x[3] == 0 }

// negative reports whether x, read in two's complement, is negative.
func (x *u256) negative() bool { return x[3]>>63 != 0 }

func add256(x, y u256) u256 {
	var z u256
	var c uint64
	z[0], c = bits.Add64(x[0], y[0], 0)
	z[1], c = bits.Add64(x[1], y[1], c)
	z[2], c = bits.Add64(x[2], y[2], c)
	z[3], _ = bits.Add64(x[3], y[3], c)
	return z
}

func sub256(x, y u256) u256 {
	var z u256
	var b uint64
	z[0], b = bits.Sub64(x[0], y[0], 0)
	z[1], b = bits.Sub64(x[1], y[1], b)
	z[2], b = bits.Sub64(x[2], y[2], b)
	z[3], _ = bits.Sub64(x[3], y[3], b)
	return z
}

func neg256(x u256) u256 { return sub256(u256{}, x) }

// mulAdd256 returns x·y + c and whether the result overflows 256 bits.
func mulAdd256(x u256, y, c uint64) (u256, bool) {
	var z u256
	for i := range x {
		hi, lo := bits.Mul64(x[i], y)
		var carry uint64
		z[i], carry = bits.Add64(lo, c, 0)
		c = hi + carry // hi ≤ 2⁶⁴−2, so this cannot wrap
	}
	return z, c != 0
}

// mul128x64 returns x·y for x < 2¹²⁸ (x[2] = x[3] = 0); the product has
// fewer than 192 bits.
func mul128x64(x u256, y uint64) u256 {
	h0, l0 := bits.Mul64(x[0], y)
	h1, l1 := bits.Mul64(x[1], y)
	var z u256
	var c uint64
	z[0] = l0
	z[1], c = bits.Add64(h0, l1, 0)
	z[2] = h1 + c
	return z
}

// divmod64 returns x / d and x mod d for d ≥ 1.
func divmod64(x u256, d uint64) (u256, uint64) {
	var q u256
	var r uint64
	i := 3
	for i > 0 && x[i] == 0 {
		i--
	}
	for ; i >= 0; i-- {
		q[i], r = bits.Div64(r, x[i], d) // r < d: no overflow
	}
	return q, r
}

// fitsInt64 reports whether the unsigned x is at most math.MaxInt64.
func (x *u256) fitsInt64() bool { return x[3]|x[2]|x[1] == 0 && x[0]>>63 == 0 }

// setBig sets x to the non-negative z and reports whether it fits.
func (x *u256) setBig(z *big.Int) bool {
	if z.Sign() < 0 || z.BitLen() > 256 {
		return false
	}
	*x = u256{}
	if bits.UintSize == 64 {
		for i, w := range z.Bits() {
			x[i] = uint64(w)
		}
		return true
	}
	for i, w := range z.Bits() {
		x[i/2] |= uint64(w) << (32 * (i % 2))
	}
	return true
}

// big returns x as a big.Int, negated when neg.
func (x *u256) big(neg bool) *big.Int {
	n := 4
	for n > 0 && x[n-1] == 0 {
		n--
	}
	ws := make([]big.Word, 0, 8) // 256 bits in 32- or 64-bit words
	for i := range n {
		if bits.UintSize == 64 {
			ws = append(ws, big.Word(x[i]))
		} else {
			ws = append(ws, big.Word(x[i]), big.Word(x[i]>>32))
		}
	}
	z := new(big.Int).SetBits(ws)
	if neg {
		z.Neg(z)
	}
	return z
}

// powers of ten that fit in a uint64: 10⁰ … 10¹⁹.
var pow10u64 = func() (p [20]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// mulPow10 returns x·10^k and whether it fits in 256 bits.
func mulPow10(x u256, k int64) (u256, bool) {
	for k > 0 {
		step := min(k, 19)
		var over bool
		x, over = mulAdd256(x, pow10u64[step], 0)
		if over {
			return x, false
		}
		k -= step
	}
	return x, true
}
