package emit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cnngen/cnngen/gen/emit"
	"github.com/cnngen/cnngen/gen/ir"
)

// hostileTrain is the train section of the descriptions below.
const hostileTrain = `train:
  loss: {type: softmax_cross_entropy, reduction: mean}
  optimizer: {type: sgd, learning_rate: 0.01}
  batch: 64
  epochs: 1
  seed: 1
`

// deepDescription is a network of 84 × (3×3 conv, relu, 2×2 max pool of
// stride 1) on 8×8 maps, 252 layers before the dense layer and softmax.
func deepDescription() string {
	var b strings.Builder
	b.WriteString("name: deep\ninput: {height: 8, width: 8, channels: 1}\nlayers:\n")
	for range 84 {
		b.WriteString("  - {kind: conv2d, filters: 8, kernel: 3, padding: same}\n  - relu\n  - {kind: maxpool, window: 2, stride: 1, padding: same}\n")
	}
	b.WriteString("  - {kind: dense, units: 10}\n  - softmax\n")
	return b.String() + hostileTrain
}

// TestGenerateBounded generates descriptions whose unrolled kernels used
// to take unbounded time: a 3×3 convolution over a 2048×2048×16 map (gen/asm
// listed every pixel's taps before refusing it: 34 s), a 65536-filter
// convolution (its GEMMs rendered 46 MB of assembly) and 252 conv and pool
// layers (400 MB rendered in 80 s, then refused). Each now takes its
// fallbacks in seconds: the vector kernels stay within their budget, and
// the package within the size limit.
func TestGenerateBounded(t *testing.T) {
	for _, tc := range []struct{ name, desc string }{
		{"huge map", "name: big\ninput: {height: 2048, width: 2048, channels: 16}\nlayers:\n  - {kind: conv2d, filters: 16, kernel: 3, padding: same}\n  - relu\n  - globalavgpool\n  - {kind: dense, units: 10}\n  - softmax\n" + hostileTrain},
		{"65536 filters", "name: wide\ninput: {height: 8, width: 8, channels: 1}\nlayers:\n  - {kind: conv2d, filters: 65536, kernel: 3, padding: same}\n  - globalavgpool\n  - {kind: dense, units: 10}\n  - softmax\n" + hostileTrain},
		{"252 layers", deepDescription()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ir.Load("net.yaml", []byte(tc.desc))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			files, err := emit.Generate(n, emit.Options{Package: "p"})
			elapsed := time.Since(start)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			total, asm := 0, 0
			for _, f := range files {
				total += len(f.Contents)
				if strings.HasSuffix(f.Name, ".s") {
					asm = len(f.Contents)
				}
			}
			t.Logf("%d bytes (%d of assembly) in %v", total, asm, elapsed)
			if asm > 17<<20 {
				t.Errorf("%d bytes of assembly, want at most the 16 MiB budget (and a little for the file's data)", asm)
			}
			if total > emit.DefaultMaxSourceBytes {
				t.Errorf("%d bytes in all, over the size limit", total)
			}
			// Generous: the machine may be shared; the old code took 34 s
			// to minutes.
			if elapsed > 20*time.Second {
				t.Errorf("Generate took %v, want a few seconds", elapsed)
			}
		})
	}
}

// TestSizeLimitAdvice checks the advice of the size-limit error: it names
// the kinds of layers the network has (it used to say "fewer or smaller
// conv layers" to networks without any) and the generic engine.
func TestSizeLimitAdvice(t *testing.T) {
	for _, tc := range []struct{ layers, want string }{
		{"  - flatten\n  - {kind: dense, units: 10}\n  - softmax\n", "(fewer or smaller dense layers)"},
		{"  - {kind: conv2d, filters: 4, kernel: 3}\n  - {kind: maxpool, window: 2}\n  - {kind: dense, units: 10}\n  - softmax\n", "(fewer or smaller conv, dense and pooling layers)"},
		{"  - {kind: conv2d, filters: 4, kernel: 3}\n  - globalavgpool\n  - {kind: dense, units: 10}\n  - softmax\n", "(fewer or smaller conv and dense layers)"},
	} {
		n, err := ir.Load("net.yaml", []byte("name: net\ninput: {height: 8, width: 8, channels: 1}\nlayers:\n"+tc.layers+hostileTrain))
		if err != nil {
			t.Fatal(err)
		}
		_, err = emit.Generate(n, emit.Options{Package: "p", MaxSourceBytes: 1000})
		if err == nil {
			t.Fatalf("%q: no error over a 1000-byte limit", tc.layers)
		}
		msg := err.Error()
		if !strings.Contains(msg, "over the limit of 1000") || !strings.Contains(msg, tc.want) || !strings.Contains(msg, "-engine generic") {
			t.Errorf("%q: error %q, want the limit, %s and the generic engine", tc.layers, msg, tc.want)
		}
	}
}
