// Package benchmarks compares the code cnngen generates for the digits
// network with the generic reference engine (and, in subdirectories, with
// other frameworks). Run, for example:
//
//	go test ./benchmarks -run '^$' -bench Digits -benchtime 3s -count 5 | tee new.txt
//	benchstat new.txt
//
// The machine is shared: repeat runs and compare with benchstat.
package benchmarks

import (
	"testing"
	"time"

	"github.com/cnngen/cnngen/datasets"
	"github.com/cnngen/cnngen/generated/digits"
	"github.com/cnngen/cnngen/runtime"
)

// digitsData returns the first n digits samples and their labels.
func digitsData(b *testing.B, n int) ([]float32, []int32) {
	b.Helper()
	d, err := datasets.Digits()
	if err != nil {
		b.Fatal(err)
	}
	size := d.Shape.Size()
	return d.X[:n*size], d.Y[:n]
}

// trainSize is the tutorial's full batch: 90 % of the 1797 digits.
const trainSize = 1617

func newGeneric(b *testing.B) *runtime.Generic {
	b.Helper()
	g, err := runtime.NewGeneric(digits.Arch())
	if err != nil {
		b.Fatal(err)
	}
	runtime.InitParams(g.Params(), 1)
	return g
}

func newGenerated() *digits.Model {
	m := digits.New()
	m.Init(1)
	return m
}

// BenchmarkDigitsForward1 is the one-sample forward pass (logits).
func BenchmarkDigitsForward1(b *testing.B) {
	x, _ := digitsData(b, 1)
	b.Run("engine=generated", func(b *testing.B) {
		m := newGenerated()
		in := (*[digits.InputSize]float32)(x)
		var logits [digits.Classes]float32
		b.ReportAllocs()
		defer reportCPU(b, processCPUTime())
		for b.Loop() {
			m.Logits(in, &logits)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	})
	b.Run("engine=generic", func(b *testing.B) {
		g := newGeneric(b)
		logits := make([]float32, digits.Classes)
		g.Forward(x, logits)
		b.ReportAllocs()
		defer reportCPU(b, processCPUTime())
		for b.Loop() {
			g.Forward(x, logits)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	})
}

// BenchmarkDigitsForwardBatch is batched inference over the 1617 training
// samples.
func BenchmarkDigitsForwardBatch(b *testing.B) {
	x, _ := digitsData(b, trainSize)
	for _, engine := range []struct {
		name  string
		model runtime.Model
	}{{"generated", newGenerated()}, {"generic", newGeneric(b)}} {
		b.Run("engine="+engine.name, func(b *testing.B) {
			logits := make([]float32, trainSize*digits.Classes)
			engine.model.Forward(x, logits)
			b.ReportAllocs()
			defer reportCPU(b, processCPUTime())
			for b.Loop() {
				engine.model.Forward(x, logits)
			}
			b.ReportMetric(float64(b.N)*trainSize/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkDigitsTrainStep is one full-batch training step (1617 samples):
// Backward with the summed loss, then plain SGD at the tutorial's rate.
func BenchmarkDigitsTrainStep(b *testing.B) {
	x, labels := digitsData(b, trainSize)
	const lr = 0.0001
	b.Run("engine=generated", func(b *testing.B) {
		m := newGenerated()
		m.Step(x, labels, lr)
		b.ReportAllocs()
		defer reportCPU(b, processCPUTime())
		for b.Loop() {
			m.Step(x, labels, lr)
		}
		b.ReportMetric(float64(b.N)*trainSize/b.Elapsed().Seconds(), "samples/s")
	})
	b.Run("engine=generic", func(b *testing.B) {
		g := newGeneric(b)
		opt, err := runtime.NewOptimizer(runtime.OptimizerConfig{Kind: runtime.SGD, LearningRate: lr}, g.Params())
		if err != nil {
			b.Fatal(err)
		}
		g.Backward(x, labels, 1)
		opt.Step(g.Params())
		b.ReportAllocs()
		defer reportCPU(b, processCPUTime())
		for b.Loop() {
			g.Backward(x, labels, 1)
			opt.Step(g.Params())
		}
		b.ReportMetric(float64(b.N)*trainSize/b.Elapsed().Seconds(), "samples/s")
	})
}

// reportCPU reports the process CPU time per operation since start, as
// cpu-ns/op: on a shared, loaded machine a steadier figure than ns/op. (The
// benchmarks are single-threaded, so CPU time is the time the work took on
// one core.)
func reportCPU(b *testing.B, start time.Duration) {
	if start == 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(processCPUTime()-start)/float64(b.N), "cpu-ns/op")
}
