package runtime

import (
	"math"
	"testing"
)

func TestDropoutMask(t *testing.T) {
	const n = 1 << 16
	for _, rate := range []float64{0, 0.1, 0.5, 0.9} {
		mask := make([]float32, n)
		DropoutMask(7, 3, 2, 5, rate, mask)
		keep := float32(1 / (1 - rate))
		dropped := 0
		for i, v := range mask {
			switch v {
			case 0:
				dropped++
			case keep:
			default:
				t.Fatalf("rate %g: mask[%d] = %g, want 0 or %g", rate, i, v, keep)
			}
		}
		got := float64(dropped) / n
		// 5 standard deviations of a binomial share.
		if tol := 5 * math.Sqrt(rate*(1-rate)/n); math.Abs(got-rate) > tol+1e-12 {
			t.Errorf("rate %g: dropped %.4f of the values", rate, got)
		}
	}
	// Each key gives its own mask, and the same key the same one.
	base := make([]float32, 256)
	DropoutMask(1, 2, 3, 4, 0.5, base)
	again := make([]float32, 256)
	DropoutMask(1, 2, 3, 4, 0.5, again)
	if string(f32bytes(base)) != string(f32bytes(again)) {
		t.Fatal("the same key gave two masks")
	}
	for _, k := range [][4]int{{2, 2, 3, 4}, {1, 3, 3, 4}, {1, 2, 4, 4}, {1, 2, 3, 5}} {
		other := make([]float32, 256)
		DropoutMask(uint64(k[0]), uint64(k[1]), k[2], k[3], 0.5, other)
		if string(f32bytes(base)) == string(f32bytes(other)) {
			t.Errorf("key %v gave the mask of key [1 2 3 4]", k)
		}
	}
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, f := range v {
		u := math.Float32bits(f)
		b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
	}
	return b
}
