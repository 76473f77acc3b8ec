package suite

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/cnngen/cnngen/benchmarks/internal/benchutil"
	"github.com/cnngen/cnngen/benchmarks/suite/gen/autoencoder"
	"github.com/cnngen/cnngen/benchmarks/suite/gen/dscnn"
	"github.com/cnngen/cnngen/benchmarks/suite/gen/lenet5"
	"github.com/cnngen/cnngen/benchmarks/suite/gen/mobilenet"
	"github.com/cnngen/cnngen/benchmarks/suite/gen/resnet8"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/generated/digits"
	"github.com/cnngen/cnngen/runtime"
)

// model is what every generated package's Model offers beyond
// runtime.Model.
type model interface {
	runtime.Model
	Init(seed uint64)
	SetWorkers(count int)
}

// served is a Frozen copy of a model: its batch Forward and its one-sample
// Logits on slices (each package's Logits takes arrays of its own sizes).
type served struct {
	frozen interface{ Forward(x, logits []float32) }
	logits func(x, z []float32)
}

// instance is a new model of one network and the way to freeze it.
type instance struct {
	model  model
	freeze func() served
}

// network is one network of the suite.
type network struct {
	name string
	// description is the example it is generated from, relative to the
	// repository root.
	description string
	// trainBatch is the recipe's batch (digits: the full training set).
	trainBatch int
	new        func() instance
}

// networks are the suite's networks in order of MACs per sample.
var networks = []network{
	{"autoencoder", "examples/autoencoder.yaml", 0, func() instance {
		m := autoencoder.New()
		return instance{m, func() served {
			f := m.Freeze()
			return served{f, func(x, z []float32) {
				f.Logits((*[autoencoder.InputSize]float32)(x), (*[autoencoder.Classes]float32)(z))
			}}
		}}
	}},
	{"digits", "examples/digits.yaml", 1617, func() instance {
		m := digits.New()
		return instance{m, func() served {
			f := m.Freeze()
			return served{f, func(x, z []float32) { f.Logits((*[digits.InputSize]float32)(x), (*[digits.Classes]float32)(z)) }}
		}}
	}},
	{"lenet5", "examples/lenet5.yaml", 0, func() instance {
		m := lenet5.New()
		return instance{m, func() served {
			f := m.Freeze()
			return served{f, func(x, z []float32) { f.Logits((*[lenet5.InputSize]float32)(x), (*[lenet5.Classes]float32)(z)) }}
		}}
	}},
	{"dscnn", "examples/dscnn.yaml", 0, func() instance {
		m := dscnn.New()
		return instance{m, func() served {
			f := m.Freeze()
			return served{f, func(x, z []float32) { f.Logits((*[dscnn.InputSize]float32)(x), (*[dscnn.Classes]float32)(z)) }}
		}}
	}},
	{"mobilenet_vww", "examples/mobilenet_vww.yaml", 0, func() instance {
		m := mobilenet.New()
		return instance{m, func() served {
			f := m.Freeze()
			return served{f, func(x, z []float32) {
				f.Logits((*[mobilenet.InputSize]float32)(x), (*[mobilenet.Classes]float32)(z))
			}}
		}}
	}},
	{"resnet8", "examples/resnet8.yaml", 0, func() instance {
		m := resnet8.New()
		return instance{m, func() served {
			f := m.Freeze()
			return served{f, func(x, z []float32) { f.Logits((*[resnet8.InputSize]float32)(x), (*[resnet8.Classes]float32)(z)) }}
		}}
	}},
}

// described is a network's description: MACs per sample and the recipe.
type described struct {
	macs   int64
	recipe runtime.TrainConfig
	// batch is the recipe's batch size (for a full-batch recipe, the
	// network's training set).
	batch int
}

// describe loads n's description from the repository.
func describe(tb testing.TB, n network) described {
	tb.Helper()
	net, err := ir.LoadFile(filepath.Join("..", "..", n.description))
	if err != nil {
		tb.Fatal(err)
	}
	d := described{macs: net.Totals().MACs, recipe: net.TrainConfig(), batch: n.trainBatch}
	if d.recipe.BatchSize != 0 {
		d.batch = d.recipe.BatchSize
	}
	if d.batch == 0 {
		tb.Fatalf("%s: a full-batch recipe needs the network's training-set size in the suite's table", n.name)
	}
	return d
}

// data is a seeded synthetic batch: inputs, labels and regression targets.
type data struct {
	x       []float32
	labels  []int32
	targets []float32
}

// synthetic returns batch samples for m: uniform [0,1) inputs and labels;
// a regression network's targets are its inputs when it reconstructs them
// (the autoencoder), uniform values otherwise.
func synthetic(m model, d described, batch int) data {
	r := rand.New(rand.NewPCG(1, 2))
	size, outputs := m.InputShape().Size(), m.Classes()
	b := data{x: make([]float32, batch*size), labels: make([]int32, batch)}
	for i := range b.x {
		b.x[i] = r.Float32()
	}
	for i := range b.labels {
		b.labels[i] = int32(r.IntN(outputs))
	}
	if d.recipe.Loss == runtime.SquaredError {
		if d.recipe.Target == runtime.TargetInput {
			b.targets = b.x
		} else {
			b.targets = make([]float32, batch*outputs)
			for i := range b.targets {
				b.targets[i] = r.Float32()
			}
		}
	}
	return b
}

// lr keeps repeated steps on one batch finite.
const lr = 1e-5

// trainStep returns one training step of m on b: forward, backward with the
// recipe's loss and reduction, and a plain SGD update (every engine and
// anchor uses SGD here, so the optimizer is the same on every side).
func trainStep(tb testing.TB, m model, d described, b data) func() {
	tb.Helper()
	opt, err := runtime.NewOptimizer(runtime.OptimizerConfig{Kind: runtime.SGD, LearningRate: lr}, m.Params())
	if err != nil {
		tb.Fatal(err)
	}
	n := len(b.labels)
	dropout, _ := m.(interface{ SetDropoutStep(seed, step uint64) })
	var step uint64
	if d.recipe.Loss == runtime.SquaredError {
		reg, ok := m.(runtime.Regressor)
		if !ok {
			tb.Fatalf("%s: an mse recipe on a model without BackwardSquaredError", m.Name())
		}
		scale := float32(1)
		if d.recipe.Reduction == runtime.Mean {
			scale = 1 / float32(n*m.Classes())
		}
		return func() {
			if dropout != nil {
				step++
				dropout.SetDropoutStep(1, step)
			}
			reg.BackwardSquaredError(b.x, b.targets, scale)
			opt.Step(m.Params())
		}
	}
	scale := float32(1)
	if d.recipe.Reduction == runtime.Mean {
		scale = 1 / float32(n)
	}
	return func() {
		if dropout != nil {
			step++
			dropout.SetDropoutStep(1, step)
		}
		m.Backward(b.x, b.labels, scale)
		opt.Step(m.Params())
	}
}

// measure runs op b.N times and reports samples/s, MACs/sample, GFLOP/s,
// cpu-ns/op and GFLOP/cpu-s, counting flopsPerMAC FLOPs per MAC of each of
// the op's samples, and allocations.
func measure(b *testing.B, samples int, macs int64, flopsPerMAC float64, op func()) {
	op()
	b.ReportAllocs()
	cpu := benchutil.ProcessCPUTime()
	for b.Loop() {
		op()
	}
	cpu = benchutil.ProcessCPUTime() - cpu
	total := float64(b.N) * float64(samples)
	flops := flopsPerMAC * float64(macs) * total
	b.ReportMetric(total/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(macs), "MACs/sample")
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		b.ReportMetric(flops/cpu.Seconds()/1e9, "GFLOP/cpu-s")
	}
}

// workerCounts are the thread counts the suite compares.
var workerCounts = []int{1, 2}

// inferBatch is the batch of op=infer.
const inferBatch = 256

// setWorkers gives a Frozen count workers when it can use several, and
// reports whether it could (a Frozen that runs on the caller's goroutine
// has one worker only).
func setWorkers(s served, count int) bool {
	if w, ok := s.frozen.(interface{ SetWorkers(count int) }); ok {
		w.SetWorkers(count)
		return true
	}
	return count == 1
}

// BenchmarkSuite runs every measurement of the suite as
// net=NAME/op=OP/batch=B/isa=ISA/workers=W (OP: train, infer or latency).
func BenchmarkSuite(b *testing.B) {
	for _, n := range networks {
		b.Run("net="+n.name, func(b *testing.B) {
			d := describe(b, n)
			batches := []int{64}
			if d.batch != 64 {
				batches = append(batches, d.batch)
			}
			for _, batch := range batches {
				b.Run(fmt.Sprintf("op=train/batch=%d", batch), func(b *testing.B) {
					eachConfig(b, func(b *testing.B, workers int) {
						in := n.new()
						in.model.SetWorkers(workers)
						in.model.Init(1)
						measure(b, batch, d.macs, 6, trainStep(b, in.model, d, synthetic(in.model, d, batch)))
					})
				})
			}
			b.Run(fmt.Sprintf("op=infer/batch=%d", inferBatch), func(b *testing.B) {
				eachConfig(b, func(b *testing.B, workers int) {
					in := n.new()
					in.model.Init(1)
					s := in.freeze()
					if !setWorkers(s, workers) {
						b.Skip("Frozen.Forward runs on one goroutine in this build")
					}
					x := synthetic(in.model, d, inferBatch).x
					z := make([]float32, inferBatch*in.model.Classes())
					measure(b, inferBatch, d.macs, 2, func() { s.frozen.Forward(x, z) })
				})
			})
			b.Run("op=latency/batch=1", func(b *testing.B) {
				eachConfig(b, func(b *testing.B, workers int) {
					in := n.new()
					in.model.Init(1)
					s := in.freeze()
					if !setWorkers(s, workers) {
						b.Skip("Frozen.Logits runs on one goroutine in this build")
					}
					x := synthetic(in.model, d, 1).x
					z := make([]float32, in.model.Classes())
					measure(b, 1, d.macs, 2, func() { s.logits(x, z) })
				})
			})
		})
	}
}

// eachConfig runs bench as isa=ISA/workers=W for every ISA path this CPU
// and build have and every worker count of the suite.
func eachConfig(b *testing.B, bench func(b *testing.B, workers int)) {
	benchutil.EachISA(b, func(b *testing.B) {
		for _, w := range workerCounts {
			b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) { bench(b, w) })
		}
	})
}

// TestSuiteNetworks checks that each network's generated package is the one
// its description describes (name, input and output sizes, parameter
// count), so that the suite cannot measure a stale package, and that one
// training step and both inference calls run and give finite outputs.
func TestSuiteNetworks(t *testing.T) {
	for _, n := range networks {
		t.Run(n.name, func(t *testing.T) {
			d := describe(t, n)
			net, err := ir.LoadFile(filepath.Join("..", "..", n.description))
			if err != nil {
				t.Fatal(err)
			}
			in := n.new()
			m := in.model
			m.SetWorkers(1)
			m.Init(1)
			params := 0
			for _, p := range m.Params() {
				params += len(p.Value)
			}
			if m.Name() != net.Name || m.InputShape().Size() != net.Input.Size() || params != net.Totals().Params {
				t.Fatalf("generated package: %s, input %d, %d params; description: %s, input %d, %d params (run go generate ./benchmarks/suite/...)",
					m.Name(), m.InputShape().Size(), params, net.Name, net.Input.Size(), net.Totals().Params)
			}
			const batch = 3
			b := synthetic(m, d, batch)
			trainStep(t, m, d, b)()
			s := in.freeze()
			z := make([]float32, batch*m.Classes())
			s.frozen.Forward(b.x, z)
			one := make([]float32, m.Classes())
			s.logits(b.x[:m.InputShape().Size()], one)
			// The batch and one-sample kernels round differently; the
			// differential tests in gen/emit check them closely.
			for i, v := range z[:m.Classes()] {
				if diff := math.Abs(float64(v - one[i])); !(diff <= 1e-4*max(1, math.Abs(float64(v)))) {
					t.Fatalf("output %d: Forward %v, Logits %v", i, v, one[i])
				}
			}
		})
	}
}
