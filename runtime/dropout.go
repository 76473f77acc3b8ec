package runtime

import "math"

// DropoutMask writes one sample's inverted-dropout mask into mask: each value
// is 0 (dropped) or 1/(1−rate) (kept). Value i is dropped when the 24-bit
// uniform number u_i, taken from a counter-based hash of (seed, step, layer,
// sample, i), is below rate·2²⁴, so the mask depends on nothing but those
// numbers: the generic engine and generated code draw the same masks, and a
// batch split across workers draws the masks of the whole batch. layer is
// the dropout layer's index in the Arch, sample the sample's index in the
// batch. A rate of 0 keeps every value.
func DropoutMask(seed, step uint64, layer, sample int, rate float64, mask []float32) {
	keep := float32(1 / (1 - rate))
	threshold := uint64(rate * (1 << 24))
	key := mix64(mix64(mix64(seed^0x5851f42d4c957f2d)^step) ^ uint64(layer)<<32 ^ uint64(sample))
	keepBits := math.Float32bits(keep)
	for i := range mask {
		// Without a branch, which the random draws would mispredict at
		// every rate but 0 and 1: h − threshold borrows (bit 63) when
		// h < threshold, and then all 32 bits of drop are set.
		h := mix64(key+uint64(i)*0x9e3779b97f4a7c15) >> 40
		drop := -uint32((h - threshold) >> 63)
		mask[i] = math.Float32frombits(keepBits &^ drop)
	}
}

// mix64 is SplitMix64's finaliser: a bijection of uint64 whose output bits
// each depend on every input bit.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
