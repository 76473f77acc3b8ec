package hostile

import (
	"math"
	"sync"
	"testing"

	"github.com/cnngen/cnngen/datasets"
	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/generated/digits"
	"github.com/cnngen/cnngen/runtime"
)

// trainRun is one training run's outcome: the last step's log and the final
// parameters.
type trainRun struct {
	last   runtime.StepLog
	params [][]float32
}

// run trains m for a few full-batch steps of the digits recipe (on a slice of
// the data, so that it stays quick under -race) and returns the outcome.
func run(t *testing.T, m runtime.Model, train *runtime.Dataset, cfg runtime.TrainConfig) trainRun {
	res, err := runtime.Train(m, train, nil, cfg, runtime.TrainOptions{})
	if err != nil {
		t.Errorf("%s: %v", m.Name(), err)
		return trainRun{}
	}
	var params [][]float32
	for _, p := range m.Params() {
		params = append(params, append([]float32(nil), p.Value...))
	}
	return trainRun{last: res.Last, params: params}
}

// TestConcurrentTraining trains two generic models and two generated digits
// models at the same time in one process with runtime.Train, and checks that
// each ends bit for bit where the same run ends alone: models and the
// training loop share no mutable state. Run it with -race (CI does).
func TestConcurrentTraining(t *testing.T) {
	src, err := examples.FS.ReadFile("digits.yaml")
	if err != nil {
		t.Fatal(err)
	}
	net, err := ir.Load("digits.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	all, err := datasets.Digits()
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, 96)
	for i := range idx {
		idx[i] = i
	}
	data := all.Subset(idx)
	cfg := net.Train
	cfg.Steps = 3
	cfg.BatchSize = 40 // mini-batches: the shuffle stream is exercised too

	newGeneric := func() runtime.Model {
		m, err := runtime.NewGeneric(net.Arch())
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	newGenerated := func() runtime.Model {
		m := digits.New()
		m.SetWorkers(2)
		return m
	}
	makers := []struct {
		name string
		new  func() runtime.Model
		seed uint64
	}{
		{"generic seed 1", newGeneric, 1},
		{"generic seed 2", newGeneric, 2},
		{"generated seed 1", newGenerated, 1},
		{"generated seed 2", newGenerated, 2},
	}

	want := make([]trainRun, len(makers))
	for i, mk := range makers {
		c := cfg
		c.Seed = mk.seed
		want[i] = run(t, mk.new(), data, c)
	}
	got := make([]trainRun, len(makers))
	var wg sync.WaitGroup
	for i, mk := range makers {
		c := cfg
		c.Seed = mk.seed
		m := mk.new()
		wg.Go(func() { got[i] = run(t, m, data, c) })
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	for i, mk := range makers {
		if got[i].last != want[i].last {
			t.Errorf("%s: last step %+v concurrently, %+v alone", mk.name, got[i].last, want[i].last)
		}
		for p := range want[i].params {
			for k, w := range want[i].params[p] {
				if g := got[i].params[p][k]; math.Float32bits(g) != math.Float32bits(w) {
					t.Fatalf("%s: parameter %d value %d is %g concurrently, %g alone", mk.name, p, k, g, w)
				}
			}
		}
	}
	// The two engines run the same recipe: their losses agree closely.
	for s := range 2 {
		gen, ref := got[2+s].last.Cost, got[s].last.Cost
		if math.Abs(gen-ref) > 1e-3*math.Max(1, math.Abs(ref)) {
			t.Errorf("seed %d: generated cost %g, generic %g", s+1, gen, ref)
		}
	}
}
