package emit_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/gen/emit"
	"github.com/cnngen/cnngen/gen/ir"
)

// convGemmNets are networks whose convolutions gen/asm refuses to unroll
// (more than its term limit, or more than 96 filters), so that their
// vector paths run as im2col and dense GEMMs (gen/emit/convgemm.go): first
// layers (no input gradient) and later ones behind a fused ReLU (the gate
// in <layer>Col2im), a max pool and an unrolled conv; same and valid
// padding, strides 1, 2 and 3, non-square kernels, one to eight input
// channels, windows small enough to unroll and larger ones, input
// gradients through col2im and as transposed convolutions (same and
// valid); im2col stages feeding unrolled ones and the reverse.
var convGemmNets = []struct{ name, yaml string }{
	{"gemmsmall", `name: gemmsmall
input: {height: 12, width: 12, channels: 3}
layers:
  - {kind: conv2d, filters: 16, kernel: 5, padding: same, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: relu}
  - {kind: conv2d, filters: 16, kernel: 3, padding: same, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: relu}
  - {kind: conv2d, filters: 6, kernel: 5, padding: valid, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: relu}
  - {kind: maxpool, window: 2}
  - {kind: dense, units: 10, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: softmax}
`},
	{"gemmwide", `name: gemmwide
input: {height: 6, width: 7, channels: 2}
layers:
  - {kind: conv2d, filters: 4, kernel: 3, padding: same, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: relu}
  - {kind: conv2d, filters: 100, kernel: 3, stride: 2, padding: same, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: relu}
  - {kind: conv2d, filters: 97, kernel: [2, 1], padding: valid, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: dense, units: 5, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: softmax}
`},
	{"gemmstride", `name: gemmstride
input: {height: 25, width: 25, channels: 6}
layers:
  - {kind: maxpool, window: 2, stride: 1, padding: valid}
  - {kind: conv2d, filters: 9, kernel: [5, 4], stride: [2, 3], padding: same, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: relu}
  - {kind: conv2d, filters: 20, kernel: 2, padding: valid, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: dense, units: 7, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: softmax}
`},
	{"gemmvalid", `name: gemmvalid
input: {height: 14, width: 14, channels: 6}
layers:
  - {kind: conv2d, filters: 16, kernel: 5, padding: valid, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: relu}
  - {kind: maxpool, window: 2}
  - {kind: conv2d, filters: 16, kernel: 3, stride: 1, padding: valid, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: tanh}
  - {kind: conv2d, filters: 120, kernel: 3, padding: same, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: relu}
  - {kind: dense, units: 4, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: softmax}
`},
	{"gemmmono", `name: gemmmono
input: {height: 20, width: 20, channels: 1}
layers:
  - {kind: conv2d, filters: 6, kernel: 5, padding: same, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: relu}
  - {kind: conv2d, filters: 1, kernel: 3, padding: same, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: relu}
  - {kind: conv2d, filters: 100, kernel: 4, stride: 2, padding: valid, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: dense, units: 3, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: softmax}
`},
	// Im2col matrices of more than 128 KiB per sample, built and
	// multiplied in chunks of output rows (im2colChunk): valid (from the
	// input itself), same (from the padded copy), stride 2.
	{"gemmchunk", `name: gemmchunk
input: {height: 24, width: 24, channels: 8}
layers:
  - {kind: conv2d, filters: 16, kernel: 3, padding: valid, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: relu}
  - {kind: conv2d, filters: 16, kernel: 3, padding: same, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: relu}
  - {kind: conv2d, filters: 16, kernel: 5, stride: 2, padding: same, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: dense, units: 3, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: softmax}
`},
	// A pointwise convolution on the im2col path (more than 96 filters)
	// over a map of 35 pixels, which the split forward cuts at multiples
	// of 6 pixels with a longer last part, and a depthwise one, each
	// followed by a batch norm and the ReLU that the split's parts apply.
	{"gemmpointwise", `name: gemmpointwise
input: {height: 7, width: 5, channels: 8}
layers:
  - {kind: conv2d, name: pw1, filters: 100, kernel: 1, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: batchnorm, name: bn1}
  - {kind: relu, name: relu1}
  - {kind: conv2d, name: dw1, filters: 100, groups: 100, kernel: 3, padding: same, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: batchnorm, name: bn2}
  - {kind: relu, name: relu2}
  - {kind: conv2d, name: pw2, filters: 12, kernel: 1, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: relu, name: relu3}
  - {kind: dense, name: fc, units: 3, init: {weights: "uniform(sqrt(3/fan_in))", bias: "uniform(0.2)"}}
  - {kind: softmax}
`},
}

// convGemmTrain is the train section every convGemmNets description ends with.
const convGemmTrain = "train:\n  loss: {type: softmax_cross_entropy, reduction: sum}\n  optimizer: {type: sgd, learning_rate: 0.01}\n  batch: full\n  steps: 10\n  seed: 1\n  test_fraction: 0.1\n"

// loadConvGemmNets loads convGemmNets.
func loadConvGemmNets(t testing.TB) []namedNet {
	t.Helper()
	var nets []namedNet
	for _, c := range convGemmNets {
		n, err := ir.Load(c.name+".yaml", []byte(c.yaml+convGemmTrain))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		nets = append(nets, namedNet{pkg: c.name, net: n})
	}
	return nets
}

// TestConvGemmPlan checks which convolutions of convGemmNets take the
// im2col path (and so that the differential test exercises it): those
// gen/asm refuses or whose direct kernels' assembly would exceed
// maxUnrolledConvAsm, and only those; and which of them compute
// their input gradient as a transposed convolution (stride 1, at least
// minTransposedConvChannels input channels) rather than through col2im.
func TestConvGemmPlan(t *testing.T) {
	wantTransposed := map[string][]string{
		"gemmsmall": {"conv2", "conv3"},
		"gemmwide":  {"conv3"},
		"gemmvalid": {"conv3"},
		"gemmchunk": {"conv2"},
	}
	want := map[string][]string{
		"gemmsmall": {"conv1", "conv2", "conv3"},
		"gemmwide":  {"conv2", "conv3"},
		// conv2's direct kernels (2×2 over 12×8×9, 20 filters; the
		// input gradient unrolled) exceed maxUnrolledConvAsm.
		"gemmstride": {"conv1", "conv2"},
		"gemmvalid":  {"conv1", "conv3"},
		"gemmmono":   {"conv1", "conv2", "conv3"},
		"gemmchunk":  {"conv1", "conv2", "conv3"},
		// (Every pointwise convolution runs as one GEMM over the maps.)
		"gemmpointwise": {"pw1", "pw2"},
	}
	for _, nt := range loadConvGemmNets(t) {
		files, err := emit.Generate(nt.net, emit.Options{Package: nt.pkg})
		must(t, err)
		var kernels string
		for _, f := range files {
			if f.Name == "kernels.go" {
				kernels = string(f.Contents)
			}
		}
		var got, gotTransposed, gotChunks []string
		for _, l := range nt.net.Layers {
			if strings.Contains(kernels, "\nfunc "+l.Name+"ForwardGemm(") {
				got = append(got, l.Name)
			}
			if strings.Contains(kernels, l.Name+"Im2colChunkVec(") {
				gotChunks = append(gotChunks, l.Name)
			}
			if strings.Contains(kernels, "\nfunc "+l.Name+"Dy2col(") {
				gotTransposed = append(gotTransposed, l.Name)
			}
		}
		if !slices.Equal(got, want[nt.pkg]) {
			t.Errorf("%s: im2col path for %v, want %v", nt.pkg, got, want[nt.pkg])
		}
		if wantChunks := map[string][]string{"gemmchunk": {"conv1", "conv2", "conv3"}}[nt.pkg]; !slices.Equal(gotChunks, wantChunks) {
			t.Errorf("%s: im2col in chunks for %v, want %v", nt.pkg, gotChunks, wantChunks)
		}
		if !slices.Equal(gotTransposed, wantTransposed[nt.pkg]) {
			t.Errorf("%s: transposed-convolution input gradient for %v, want %v", nt.pkg, gotTransposed, wantTransposed[nt.pkg])
		}
	}
}
