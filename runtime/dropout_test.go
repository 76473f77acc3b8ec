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

// TestDropoutMaskDefinition checks DropoutMask against its definition, the
// draw compared with the threshold one value at a time.
func TestDropoutMaskDefinition(t *testing.T) {
	const n = 4099
	for _, rate := range []float64{0, 0.2, 0.5, 0.75, 1} {
		for _, k := range []struct {
			seed, step    uint64
			layer, sample int
		}{{7, 3, 2, 5}, {0, 0, 0, 0}, {1 << 40, 1<<62 + 5, 28, 1 << 20}} {
			got := make([]float32, n)
			DropoutMask(k.seed, k.step, k.layer, k.sample, rate, got)
			keep := float32(1 / (1 - rate))
			threshold := uint64(rate * (1 << 24))
			key := mix64(mix64(mix64(k.seed^0x5851f42d4c957f2d)^k.step) ^ uint64(k.layer)<<32 ^ uint64(k.sample))
			for i, v := range got {
				want := keep
				if mix64(key+uint64(i)*0x9e3779b97f4a7c15)>>40 < threshold {
					want = 0
				}
				if math.Float32bits(v) != math.Float32bits(want) {
					t.Fatalf("rate %g, key %v: mask[%d] = %g, want %g", rate, k, i, v, want)
				}
			}
		}
	}
}

func BenchmarkDropoutMask(b *testing.B) {
	mask := make([]float32, 8000)
	b.SetBytes(4 * int64(len(mask)))
	for i := 0; b.Loop(); i++ {
		DropoutMask(1, uint64(i), 3, 5, 0.2, mask)
	}
}
