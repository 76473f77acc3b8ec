// Package scaling measures how the cost of cnngen's generated code, and of
// the generic runtime, grows with the network: four networks of growing size
// (digits from generated/digits, lenet the suite's LeNet-5 from
// benchmarks/suite/gen/lenet5, and digits64 and conv2 described in nets/ and
// generated into gen/), on seeded synthetic data.
//
// The benchmarks (go test -run '^$' -bench . ./benchmarks/scaling) run
// batched inference and a training step at batch 256 for each network,
// generated code on every ISA path the CPU has with 1 and 2 workers, and the
// generic engine. Each reports samples/s, MACs/sample (multiply-accumulates
// of one sample's forward pass) and GFLOP/s, counting 2 FLOPs per MAC and,
// for a training step, 3 forward passes' worth (forward, the input gradient
// and the weight gradient), so GFLOP/s = 2·MACs·samples/time forward and
// 6·MACs·samples/time training; GFLOP/cpu-s divides the same FLOPs by the
// CPU time the process used instead.
//
// Generated source size and compile time per network are measured by the
// comparison driver (go run ./benchmarks/compare).
package scaling

import "github.com/cnngen/cnngen/runtime"

// MACs is the number of multiply-accumulates of one sample's forward pass
// through arch: conv and dense layers only (pooling, activations and the
// softmax are not counted). Padded taps of a SAME convolution count, as the
// generated kernels compute them.
func MACs(arch runtime.Arch) int {
	shape := arch.Input
	total := 0
	for _, l := range arch.Layers {
		switch l.Kind {
		case runtime.Conv2D, runtime.MaxPool, runtime.AvgPool:
			h, _, _ := runtime.Window(shape.Height, l.KernelH, l.StrideH, l.Padding)
			w, _, _ := runtime.Window(shape.Width, l.KernelW, l.StrideW, l.Padding)
			channels := shape.Channels
			if l.Kind == runtime.Conv2D {
				channels = l.Filters
				total += h * w * l.Filters * l.KernelH * l.KernelW * shape.Channels
			}
			shape = runtime.Shape{Height: h, Width: w, Channels: channels}
		case runtime.Flatten:
			shape = runtime.Shape{Height: 1, Width: 1, Channels: shape.Size()}
		case runtime.Dense:
			total += shape.Size() * l.Units
			shape = runtime.Shape{Height: 1, Width: 1, Channels: l.Units}
		}
	}
	return total
}
