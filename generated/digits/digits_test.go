package digits

// Hand-written tests of the generated package's concurrency: run them with
// -race (go test -race ./generated/digits). Agreement with the generic
// engine on every ISA path is gen/emit's TestDifferential.

import (
	"math"
	"math/rand/v2"
	goruntime "runtime"
	"sync"
	"testing"
	"time"

	"github.com/cnngen/cnngen/runtime"
)

// batch returns n random samples and labels.
func batch(seed uint64, n int) ([]float32, []int32) {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*InputSize)
	for i := range x {
		x[i] = r.Float32()
	}
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(r.IntN(Classes))
	}
	return x, labels
}

// train runs steps SGD steps from seed with the given worker count and
// returns the parameters.
func train(workers, steps int, x []float32, labels []int32) [][]float32 {
	m := New()
	m.SetWorkers(workers)
	m.Init(3)
	for range steps {
		m.Step(x, labels, 0.001)
	}
	var out [][]float32
	for _, p := range m.Params() {
		out = append(out, append([]float32(nil), p.Value...))
	}
	return out
}

func sameBits(t *testing.T, what string, a, b [][]float32) {
	t.Helper()
	for i := range a {
		for k := range a[i] {
			if math.Float32bits(a[i][k]) != math.Float32bits(b[i][k]) {
				t.Fatalf("%s: parameter %d value %d is %g, then %g", what, i, k, a[i][k], b[i][k])
			}
		}
	}
}

// TestConcurrentModels trains two models at the same time, each with
// several workers, and checks that each reaches the bits it reaches alone:
// models share no mutable state.
func TestConcurrentModels(t *testing.T) {
	x, labels := batch(1, 3*Tile+5)
	want := train(3, 3, x, labels)
	var wg sync.WaitGroup
	got := make([][][]float32, 2)
	for i := range got {
		wg.Go(func() { got[i] = train(3, 3, x, labels) })
	}
	wg.Wait()
	for i := range got {
		sameBits(t, "concurrent model", want, got[i])
	}
}

// TestSetWorkers changes the worker count of a model between steps; the
// result must equal a run with the final count from the same state.
func TestSetWorkers(t *testing.T) {
	x, labels := batch(2, 2*Tile+7)
	m := New()
	for _, w := range []int{1, 3, 2, 0} {
		m.SetWorkers(w)
		if want := max(w, 1); m.Workers() != want {
			t.Fatalf("Workers() = %d after SetWorkers(%d), want %d", m.Workers(), w, want)
		}
		m.Init(3)
		m.Step(x, labels, 0.001)
	}
	m2 := New()
	m2.SetWorkers(1)
	m2.Init(3)
	m2.Step(x, labels, 0.001)
	var a, b [][]float32
	for i, p := range m.Params() {
		a, b = append(a, p.Value), append(b, m2.Params()[i].Value)
	}
	sameBits(t, "after SetWorkers", b, a)
}

// TestWorkersStop checks that the goroutines of an unreachable model end.
func TestWorkersStop(t *testing.T) {
	before := goruntime.NumGoroutine()
	func() {
		m := New()
		m.SetWorkers(4)
		x, labels := batch(3, 4*Tile)
		m.Backward(x, labels, 1)
	}()
	for i := 0; i < 100 && goruntime.NumGoroutine() > before; i++ {
		goruntime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := goruntime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the model became unreachable, %d before", n, before)
	}
}

// TestFrozenWorkers checks that a Frozen's Forward gives the same bits with
// 1, 2 and 3 workers, on batches that split into uneven shards, and that the
// helpers of an unreachable Frozen end.
func TestFrozenWorkers(t *testing.T) {
	before := goruntime.NumGoroutine()
	func() {
		m := New()
		m.Init(3)
		f := m.Freeze()
		for _, n := range []int{1, Tile, 2*Tile + 1, 5*Tile + 7} {
			x, _ := batch(6, n)
			var want []float32
			for _, workers := range []int{1, 2, 3} {
				f.SetWorkers(workers)
				if f.Workers() != workers {
					t.Fatalf("Workers() = %d after SetWorkers(%d)", f.Workers(), workers)
				}
				got := make([]float32, n*Classes)
				f.Forward(x, got)
				if want == nil {
					want = got
					continue
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("n=%d, %d workers: logit %d = %v, with one worker %v", n, workers, i, got[i], want[i])
					}
				}
			}
		}
		f.SetWorkers(4)
	}()
	for i := 0; i < 100 && goruntime.NumGoroutine() > before; i++ {
		goruntime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := goruntime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the Frozen became unreachable, %d before", n, before)
	}
}

// TestNoAllocs checks that the batch and one-sample calls, the Model's
// and a Frozen's, do not allocate with two workers, on every ISA path.
func TestNoAllocs(t *testing.T) {
	x, labels := batch(4, 2*Tile+3)
	logits := make([]float32, len(labels)*Classes)
	for _, isa := range runtime.AvailableISAs() {
		restore, err := runtime.ForceISA(isa)
		if err != nil {
			t.Fatal(err)
		}
		m := New()
		m.SetWorkers(2)
		m.Init(1)
		var one [Classes]float32
		frozen := m.Freeze()
		frozen.SetWorkers(2)
		big := make([]float32, 5*Tile*InputSize) // large enough for Forward to pack
		bigLogits := make([]float32, 5*Tile*Classes)
		for what, f := range map[string]func(){
			"Forward":        func() { m.Forward(x, logits) },
			"Forward packed": func() { m.Forward(big, bigLogits) },
			"Backward":       func() { m.Backward(x, labels, 1) },
			"Step":           func() { m.Step(x, labels, 0.001) },
			"Logits":         func() { m.Logits((*[InputSize]float32)(x), &one) },
			"Frozen Logits":  func() { frozen.Logits((*[InputSize]float32)(x), &one) },
			"Frozen Forward": func() { frozen.Forward(x, logits) },
		} {
			if a := testing.AllocsPerRun(5, f); a != 0 {
				t.Errorf("%v: %s allocates %v times per call", isa, what, a)
			}
		}
		restore()
	}
}

// TestFrozenConcurrent runs Logits and Forward of one Frozen from several
// goroutines at once, while the Model it came from trains on: every result
// must equal the one computed alone before, on every ISA path. (Agreement
// with the generic engine is gen/emit's TestDifferential.)
func TestFrozenConcurrent(t *testing.T) {
	x, labels := batch(5, 2*Tile+3)
	for _, isa := range runtime.AvailableISAs() {
		restore, err := runtime.ForceISA(isa)
		if err != nil {
			t.Fatal(err)
		}
		m := New()
		m.Init(2)
		f := m.Freeze()
		want := make([]float32, len(labels)*Classes)
		f.Forward(x, want)
		// Logits runs the one-sample kernels, which round differently
		// from the batch ones: its reference is Logits alone.
		wantOne := make([][Classes]float32, 4)
		for g := range wantOne {
			f.Logits((*[InputSize]float32)(x[g*InputSize:]), &wantOne[g])
		}
		var wg sync.WaitGroup
		errs := make(chan string, 8)
		for g := range 4 {
			wg.Go(func() {
				got := make([]float32, len(want))
				for range 5 {
					var one [Classes]float32
					f.Logits((*[InputSize]float32)(x[g*InputSize:]), &one)
					f.Forward(x, got)
					for i := range got {
						if got[i] != want[i] {
							errs <- "Forward changed"
							return
						}
					}
					if one != wantOne[g] {
						errs <- "Logits changed"
						return
					}
				}
			})
		}
		for range 3 {
			m.Step(x, labels, 0.01)
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Errorf("%v: %s", isa, e)
		}
		restore()
	}
}
