// Package benchmarks compares the code cnngen generates for the digits
// network with the generic reference engine (and, in subdirectories, with
// other frameworks). Run, for example:
//
//	go test ./benchmarks -run '^$' -bench Digits -benchtime 3s -count 5 | tee new.txt
//	benchstat new.txt
//
// The generated engine runs as sub-benchmarks per ISA path this CPU has
// (isa=purego|avx2|avx512, forced with runtime.ForceISA) and, for batches,
// per worker count (workers=1|2). The machine is shared: repeat runs and
// compare with benchstat.
package benchmarks

import (
	"fmt"
	"github.com/cnngen/cnngen/benchmarks/internal/benchutil"
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

func newGenerated(workers int) *digits.Model {
	m := digits.New()
	m.SetWorkers(workers)
	m.Init(1)
	return m
}

// eachWorkers runs bench as a sub-benchmark "workers=W" for 1 and 2
// workers.
func eachWorkers(b *testing.B, bench func(b *testing.B, workers int)) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) { bench(b, workers) })
	}
}

// BenchmarkDigitsForward1 is the one-sample forward pass (logits), on the
// training Model (engine=generated: Model.Logits, weights in the standard
// layout) and on its frozen copy (engine=frozen: Frozen.Logits, dense
// weights padded). It runs on the caller's goroutine, so the worker count
// does not apply.
func BenchmarkDigitsForward1(b *testing.B) {
	x, _ := digitsData(b, 1)
	in := (*[digits.InputSize]float32)(x)
	one := func(b *testing.B, logitsOf func(*[digits.InputSize]float32, *[digits.Classes]float32)) {
		var logits [digits.Classes]float32
		logitsOf(in, &logits)
		b.ReportAllocs()
		defer reportCPU(b, benchutil.ProcessCPUTime())
		for b.Loop() {
			logitsOf(in, &logits)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	}
	b.Run("engine=generated", func(b *testing.B) {
		benchutil.EachISA(b, func(b *testing.B) { one(b, newGenerated(1).Logits) })
	})
	b.Run("engine=frozen", func(b *testing.B) {
		benchutil.EachISA(b, func(b *testing.B) { one(b, newGenerated(1).Freeze().Logits) })
	})
	b.Run("engine=generic", func(b *testing.B) {
		g := newGeneric(b)
		logits := make([]float32, digits.Classes)
		g.Forward(x, logits)
		b.ReportAllocs()
		defer reportCPU(b, benchutil.ProcessCPUTime())
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
	run := func(b *testing.B, model interface{ Forward(x, logits []float32) }) {
		logits := make([]float32, trainSize*digits.Classes)
		model.Forward(x, logits)
		b.ReportAllocs()
		defer reportCPU(b, benchutil.ProcessCPUTime())
		for b.Loop() {
			model.Forward(x, logits)
		}
		b.ReportMetric(float64(b.N)*trainSize/b.Elapsed().Seconds(), "samples/s")
	}
	b.Run("engine=generated", func(b *testing.B) {
		benchutil.EachISA(b, func(b *testing.B) {
			eachWorkers(b, func(b *testing.B, workers int) { run(b, newGenerated(workers)) })
		})
	})
	b.Run("engine=frozen", func(b *testing.B) {
		benchutil.EachISA(b, func(b *testing.B) { run(b, newGenerated(1).Freeze()) })
	})
	b.Run("engine=generic", func(b *testing.B) { run(b, newGeneric(b)) })
}

// BenchmarkDigitsForward1Parallel is one-sample inference from GOMAXPROCS
// goroutines sharing one Frozen (as a server would use it).
func BenchmarkDigitsForward1Parallel(b *testing.B) {
	x, _ := digitsData(b, 1)
	in := (*[digits.InputSize]float32)(x)
	benchutil.EachISA(b, func(b *testing.B) {
		f := newGenerated(1).Freeze()
		b.ReportAllocs()
		defer reportCPU(b, benchutil.ProcessCPUTime())
		b.RunParallel(func(pb *testing.PB) {
			var logits [digits.Classes]float32
			for pb.Next() {
				f.Logits(in, &logits)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	})
}

// BenchmarkDigitsTrainStep is one full-batch training step (1617 samples):
// Backward with the summed loss, then plain SGD at the tutorial's rate.
func BenchmarkDigitsTrainStep(b *testing.B) {
	x, labels := digitsData(b, trainSize)
	const lr = 0.0001
	b.Run("engine=generated", func(b *testing.B) {
		benchutil.EachISA(b, func(b *testing.B) {
			eachWorkers(b, func(b *testing.B, workers int) {
				m := newGenerated(workers)
				m.Step(x, labels, lr)
				b.ReportAllocs()
				defer reportCPU(b, benchutil.ProcessCPUTime())
				for b.Loop() {
					m.Step(x, labels, lr)
				}
				b.ReportMetric(float64(b.N)*trainSize/b.Elapsed().Seconds(), "samples/s")
			})
		})
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
		defer reportCPU(b, benchutil.ProcessCPUTime())
		for b.Loop() {
			g.Backward(x, labels, 1)
			opt.Step(g.Params())
		}
		b.ReportMetric(float64(b.N)*trainSize/b.Elapsed().Seconds(), "samples/s")
	})
}

// reportCPU reports the process CPU time per operation since start, as
// cpu-ns/op: on a shared, loaded machine a steadier figure than ns/op. With
// one worker it is the time the work took on one core; with W workers it is
// the sum over the cores (at best W times ns/op).
func reportCPU(b *testing.B, start time.Duration) {
	if start == 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(benchutil.ProcessCPUTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkDigitsTrainBatch is one training step (Backward with the summed
// loss, then plain SGD) on the first B training samples, for the batch sizes
// the issue compares with PyTorch: 256, 32 and 1. BenchmarkDigitsTrainStep
// is the same at the full batch (1617).
func BenchmarkDigitsTrainBatch(b *testing.B) {
	const lr = 0.0001
	for _, batch := range []int{256, 32, 1} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			x, labels := digitsData(b, batch)
			b.Run("engine=generated", func(b *testing.B) {
				benchutil.EachISA(b, func(b *testing.B) {
					eachWorkers(b, func(b *testing.B, workers int) {
						m := newGenerated(workers)
						m.Step(x, labels, lr)
						b.ReportAllocs()
						defer reportCPU(b, benchutil.ProcessCPUTime())
						for b.Loop() {
							m.Step(x, labels, lr)
						}
						b.ReportMetric(float64(b.N)*float64(batch)/b.Elapsed().Seconds(), "samples/s")
					})
				})
			})
			b.Run("engine=generic", func(b *testing.B) {
				g := newGeneric(b)
				opt, err := runtime.NewOptimizer(runtime.OptimizerConfig{Kind: runtime.SGD, LearningRate: lr}, g.Params())
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				defer reportCPU(b, benchutil.ProcessCPUTime())
				for b.Loop() {
					g.Backward(x, labels, 1)
					opt.Step(g.Params())
				}
				b.ReportMetric(float64(b.N)*float64(batch)/b.Elapsed().Seconds(), "samples/s")
			})
		})
	}
}

// BenchmarkDigitsTutorial is the reference experiment end to end: the
// seeded 90/10 split, 2000 full-batch SGD steps through runtime.Train, and
// the test-set evaluation, on the generated engine with the ISA path the
// CPU picks and 2 workers. One iteration takes tens of seconds: run it with
// -benchtime 1x. It reports the run's seconds and its test accuracy.
func BenchmarkDigitsTutorial(b *testing.B) {
	d, err := datasets.Digits()
	if err != nil {
		b.Fatal(err)
	}
	cfg := runtime.TrainConfig{
		Reduction:    runtime.Sum,
		Optimizer:    runtime.OptimizerConfig{Kind: runtime.SGD, LearningRate: 0.0001},
		Steps:        2000,
		Seed:         1,
		TestFraction: 0.1,
	}
	var acc float64
	defer reportCPU(b, benchutil.ProcessCPUTime())
	for b.Loop() {
		train, test, err := d.Split(cfg.TestFraction, cfg.Seed)
		if err != nil {
			b.Fatal(err)
		}
		res, err := runtime.Train(newGenerated(2), train, test, cfg, runtime.TrainOptions{})
		if err != nil {
			b.Fatal(err)
		}
		acc = res.Test.Accuracy()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/run")
	b.ReportMetric(acc, "test-acc")
}
