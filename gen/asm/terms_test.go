package asm

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestConvTermsArithmetic checks the unrolled sizes that validate compares
// with maxConvTerms, computed arithmetically, against the taps listed one
// by one, on random shapes (strides, paddings and kernels larger than the
// input included).
func TestConvTermsArithmetic(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 3))
	for range 2000 {
		k := func() int { return 1 + r.IntN(5) }
		c := ConvShape{InH: k() + r.IntN(6), InW: k() + r.IntN(6), InC: k(), KernelH: k(), KernelW: k(), StrideH: 1 + r.IntN(3), StrideW: 1 + r.IntN(3), Filters: k()}
		c.PadTop, c.PadLeft = r.IntN(c.KernelH), r.IntN(c.KernelW)
		c.OutH = max(1, (c.InH+c.PadTop-c.KernelH)/c.StrideH+1+r.IntN(2))
		c.OutW = max(1, (c.InW+c.PadLeft-c.KernelW)/c.StrideW+1+r.IntN(2))
		if (c.OutH-1)*c.StrideH-c.PadTop >= c.InH || (c.OutW-1)*c.StrideW-c.PadLeft >= c.InW {
			continue
		}
		fwd, in := 0, 0
		for oh := range c.OutH {
			for ow := range c.OutW {
				fwd += len(c.pixelTaps(oh, ow))
			}
		}
		for ih := range c.InH {
			for iw := range c.InW {
				in += len(c.inputTerms(ih, iw)) * c.Filters
			}
		}
		if got := c.forwardTerms(); got != fwd {
			t.Fatalf("%+v: forwardTerms %d, listed %d", c, got, fwd)
		}
		if got := c.inputGradTerms(); got != in {
			t.Fatalf("%+v: inputGradTerms %d, listed %d", c, got, in)
		}
	}
}

// TestHugeConvRefusedQuickly renders the kernels of a 3×3 convolution over
// a 2048×2048×16 map: validate used to list every output pixel's taps
// before comparing their count with the limit (20 s per layer); it now
// counts them in O(OutH+OutW) and refuses at once.
func TestHugeConvRefusedQuickly(t *testing.T) {
	c := ConvShape{InH: 2048, InW: 2048, InC: 16, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadLeft: 1, OutH: 2048, OutW: 2048, Filters: 16}
	start := time.Now()
	for _, op := range []Op{Conv2DForward, Conv2DBackwardWeights, Conv2DBackwardInput} {
		_, err := Render("p", []Kernel{{Op: op, Name: "huge", Conv: c}})
		if err == nil || !strings.Contains(err.Error(), "exceed the limit") {
			t.Errorf("%v: err %v, want the unrolled size over the limit", op, err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing took %v, want well under a second", d)
	}
	// The counts stay exact and positive at the largest shapes that
	// descriptions allow, and saturate rather than overflow beyond.
	c = ConvShape{InH: 4096, InW: 4096, InC: 65536, KernelH: 4096, KernelW: 4096, StrideH: 1, StrideW: 1, OutH: 4096, OutW: 4096, Filters: 65536}
	// (On 32-bit GOARCHes the count itself saturates.)
	want := min(int64(4096*4097/2)*int64(4096*4097/2)*65536, math.MaxInt)
	if n := c.inputGradTerms(); int64(n) != want {
		t.Errorf("inputGradTerms of %+v = %d, want %d", c, n, want)
	}
	if n := saturatingProduct(1<<20, 1<<20, 1<<20, 1<<20); n != math.MaxInt {
		t.Errorf("saturatingProduct(2²⁰, 2²⁰, 2²⁰, 2²⁰) = %d, want math.MaxInt", n)
	}
}
