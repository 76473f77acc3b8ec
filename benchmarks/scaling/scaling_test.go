package scaling

import (
	"fmt"
	"github.com/cnngen/cnngen/benchmarks/internal/benchutil"
	"math/rand/v2"
	"testing"

	"github.com/cnngen/cnngen/benchmarks/scaling/gen/conv2"
	"github.com/cnngen/cnngen/benchmarks/scaling/gen/digits64"
	lenet "github.com/cnngen/cnngen/benchmarks/suite/gen/lenet5"
	"github.com/cnngen/cnngen/generated/digits"
	"github.com/cnngen/cnngen/runtime"
)

// generatedModel is what every generated package's Model offers beyond
// runtime.Model.
type generatedModel interface {
	runtime.Model
	Init(seed uint64)
	SetWorkers(count int)
	Step(x []float32, labels []int32, lr float32) (loss float64, correct int)
}

// network is one point of the study.
type network struct {
	name string
	arch runtime.Arch
	new  func() generatedModel
}

// networks are the study's networks in order of MACs per sample.
var networks = []network{
	{"digits", digits.Arch(), func() generatedModel { return digits.New() }},
	{"digits64", digits64.Arch(), func() generatedModel { return digits64.New() }},
	{"lenet", lenet.Arch(), func() generatedModel { return lenet.New() }},
	{"conv2", conv2.Arch(), func() generatedModel { return conv2.New() }},
}

// batch is the number of samples per forward call and per training step.
const batch = 256

// lr is small enough that repeated steps on the same batch stay finite.
const lr = 1e-5

// syntheticData returns batch seeded uniform [0,1) inputs for arch and
// seeded labels.
func syntheticData(arch runtime.Arch, classes int) ([]float32, []int32) {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*arch.Input.Size())
	for i := range x {
		x[i] = r.Float32()
	}
	labels := make([]int32, batch)
	for i := range labels {
		labels[i] = int32(r.IntN(classes))
	}
	return x, labels
}

// TestMACs checks the MAC count on the digits network, worked by hand:
// conv 8·8·32·3·3·1 + dense 512·300 + dense 300·10.
func TestMACs(t *testing.T) {
	if got, want := MACs(digits.Arch()), 8*8*32*9+512*300+300*10; got != want {
		t.Errorf("MACs(digits) = %d, want %d", got, want)
	}
	// lenet: conv1 28·28·6·25, conv2 10·10·16·25·6, dense 400·120, 120·84, 84·10.
	if got, want := MACs(lenet.Arch()), 28*28*6*25+10*10*16*150+400*120+120*84+84*10; got != want {
		t.Errorf("MACs(lenet) = %d, want %d", got, want)
	}
}

// measure runs op b.N times and reports samples/s, MACs/sample, GFLOP/s and
// GFLOP/cpu-s, counting flopsPerMAC FLOPs per MAC of each sample.
func measure(b *testing.B, macs int, flopsPerMAC float64, op func()) {
	op()
	b.ReportAllocs()
	cpu := benchutil.ProcessCPUTime()
	for b.Loop() {
		op()
	}
	cpu = benchutil.ProcessCPUTime() - cpu
	samples := float64(b.N) * batch
	flops := flopsPerMAC * float64(macs) * samples
	b.ReportMetric(samples/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(macs), "MACs/sample")
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		b.ReportMetric(flops/cpu.Seconds()/1e9, "GFLOP/cpu-s")
	}
}

// eachEngine runs bench for every network as net=NAME/engine=generated/
// isa=ISA/workers=W (every ISA path this CPU has, 1 and 2 workers) and
// net=NAME/engine=generic.
func eachEngine(b *testing.B, generated func(b *testing.B, n network, m generatedModel), generic func(b *testing.B, n network, g *runtime.Generic)) {
	for _, n := range networks {
		b.Run("net="+n.name, func(b *testing.B) {
			b.Run("engine=generated", func(b *testing.B) {
				benchutil.EachISA(b, func(b *testing.B) {
					for _, workers := range []int{1, 2} {
						b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
							m := n.new()
							m.SetWorkers(workers)
							m.Init(1)
							generated(b, n, m)
						})
					}
				})
			})
			b.Run("engine=generic", func(b *testing.B) {
				g, err := runtime.NewGeneric(n.arch)
				if err != nil {
					b.Fatal(err)
				}
				runtime.InitParams(g.Params(), 1)
				generic(b, n, g)
			})
		})
	}
}

// BenchmarkScalingForward is batched inference (logits of 256 samples).
// FLOPs: 2 per MAC.
func BenchmarkScalingForward(b *testing.B) {
	run := func(b *testing.B, n network, m runtime.Model) {
		x, _ := syntheticData(n.arch, m.Classes())
		logits := make([]float32, batch*m.Classes())
		measure(b, MACs(n.arch), 2, func() { m.Forward(x, logits) })
	}
	eachEngine(b,
		func(b *testing.B, n network, m generatedModel) { run(b, n, m) },
		func(b *testing.B, n network, g *runtime.Generic) { run(b, n, g) })
}

// BenchmarkScalingTrain is one training step at batch 256: forward, backward
// with the summed loss, plain SGD. FLOPs: 6 per MAC (forward, input gradient,
// weight gradient).
func BenchmarkScalingTrain(b *testing.B) {
	eachEngine(b,
		func(b *testing.B, n network, m generatedModel) {
			x, labels := syntheticData(n.arch, m.Classes())
			measure(b, MACs(n.arch), 6, func() { m.Step(x, labels, lr) })
		},
		func(b *testing.B, n network, g *runtime.Generic) {
			x, labels := syntheticData(n.arch, g.Classes())
			opt, err := runtime.NewOptimizer(runtime.OptimizerConfig{Kind: runtime.SGD, LearningRate: lr}, g.Params())
			if err != nil {
				b.Fatal(err)
			}
			measure(b, MACs(n.arch), 6, func() {
				g.Backward(x, labels, 1)
				opt.Step(g.Params())
			})
		})
}
