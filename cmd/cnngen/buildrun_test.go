package main

import (
	"io"
	"math"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/datasets"
	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
)

// trainBoth trains the example name for a few steps on the generic engine
// and on generated code, and returns both logs and results.
func trainBoth(t *testing.T, name string, steps int) (generic, generated []runtime.StepLog, gres, res *runtime.Result) {
	t.Helper()
	src, err := examples.FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	net, err := ir.Load(name, src)
	if err != nil {
		t.Fatal(err)
	}
	data, err := datasets.Digits()
	if err != nil {
		t.Fatal(err)
	}
	cfg := net.Train
	cfg.Steps, cfg.Epochs = steps, 0
	train, test, err := data.Split(cfg.TestFraction, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	g, err := runtime.NewGeneric(net.Arch())
	if err != nil {
		t.Fatal(err)
	}
	gres, err = runtime.Train(g, train, test, cfg, runtime.TrainOptions{LogEvery: 1, Log: func(s runtime.StepLog) { generic = append(generic, s) }})
	if err != nil {
		t.Fatal(err)
	}
	m, err := generatedModel(net)
	if err != nil {
		t.Fatal(err)
	}
	res, err = trainGenerated(net, m, train, test, cfg, runtime.TrainOptions{LogEvery: 1, Log: func(s runtime.StepLog) { generated = append(generated, s) }}, 2, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The trained parameters are the generic engine's (today bit for bit;
	// the tolerance is gen/emit's differential test's).
	for i, p := range m.Params() {
		q := g.Params()[i]
		scale := 1.0
		for _, v := range q.Value {
			scale = max(scale, math.Abs(float64(v)))
		}
		for j := range p.Value {
			if d := math.Abs(float64(p.Value[j] - q.Value[j])); d > 1e-5*math.Abs(float64(q.Value[j]))+1e-6*scale {
				t.Fatalf("trained %s[%d] = %g, generic %g", p.Name, j, p.Value[j], q.Value[j])
			}
		}
	}
	if res.Optimizer == nil || res.Optimizer.State().Steps != gres.Optimizer.State().Steps {
		t.Errorf("optimizer state after the run: %+v, generic %+v", res.Optimizer, gres.Optimizer)
	}
	return generic, generated, gres, res
}

// compareRuns requires the same log (costs within a relative 1e-5) and
// test score. (Today the generated code computes bit for bit what the
// generic engine does.)
func compareRuns(t *testing.T, generic, generated []runtime.StepLog, gres, res *runtime.Result) {
	t.Helper()
	if len(generic) != len(generated) {
		t.Fatalf("generated code logged %d steps, generic %d", len(generated), len(generic))
	}
	same := func(a, b runtime.StepLog) bool {
		cost := a.Cost
		a.Cost = b.Cost
		return a == b && math.Abs(cost-b.Cost) <= 1e-5*math.Abs(b.Cost)
	}
	for i := range generic {
		if !same(generated[i], generic[i]) {
			t.Errorf("step %d: generated %+v, generic %+v", i, generated[i], generic[i])
		}
	}
	if res.Steps != gres.Steps || res.Test != gres.Test || !same(res.Last, gres.Last) {
		t.Errorf("result: generated %+v, generic %+v", res, gres)
	}
}

// TestTrainGeneratedInProcess trains the digits example on the compiled-in
// generated package.
func TestTrainGeneratedInProcess(t *testing.T) {
	net, err := ir.Load(examples.DigitsFile, examples.Digits)
	if err != nil {
		t.Fatal(err)
	}
	if compiledModel(net) == nil {
		t.Fatal("the digits example is not compiled in")
	}
	generic, generated, gres, res := trainBoth(t, "digits.yaml", 3)
	compareRuns(t, generic, generated, gres, res)
}

// TestTrainGeneratedChildProcess trains twoconv, which is not compiled in:
// generated into a temporary module, built and run as a child process.
func TestTrainGeneratedChildProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds generated code")
	}
	net, err := ir.Load("twoconv.yaml", mustRead(t, "twoconv.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if compiledModel(net) != nil {
		t.Fatal("twoconv should not be compiled in")
	}
	generic, generated, gres, res := trainBoth(t, "twoconv.yaml", 5)
	compareRuns(t, generic, generated, gres, res)
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := examples.FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRuntimeRequirement checks how the temporary module finds the runtime.
func TestRuntimeRequirement(t *testing.T) {
	t.Setenv("CNNGEN_SRC", t.TempDir())
	if _, err := runtimeRequirement(); err == nil {
		t.Error("CNNGEN_SRC pointing at an empty directory was accepted")
	}
	t.Setenv("CNNGEN_SRC", "../..")
	r, err := runtimeRequirement()
	if err != nil {
		t.Fatal(err)
	}
	if r.replace == "" || r.version != "v0.0.0" || r.goSum == nil {
		t.Errorf("requirement %+v, want a replace to the source tree with its go.sum", r)
	}
	t.Setenv("CNNGEN_SRC", "")
	// Built by go test from the source tree: found by this file's path.
	if r, err := runtimeRequirement(); err != nil || r.replace == "" {
		t.Errorf("without CNNGEN_SRC: %+v, %v; want the source tree", r, err)
	}
	mod := string(requirement{version: "v0.0.0", replace: "/a dir/cnngen"}.goMod())
	if !strings.Contains(mod, `replace github.com/cnngen/cnngen => "/a dir/cnngen"`) {
		t.Errorf("go.mod does not quote the replacement path:\n%s", mod)
	}
}

// TestTrainGeneratedErrors checks the errors of the child-process path.
func TestTrainGeneratedErrors(t *testing.T) {
	net, err := ir.Load("twoconv.yaml", mustRead(t, "twoconv.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := generatedModel(net)
	if err != nil {
		t.Fatal(err)
	}
	data, err := datasets.Digits()
	if err != nil {
		t.Fatal(err)
	}
	o, err := runtime.NewOptimizer(net.Train.Optimizer, m.Params())
	if err != nil {
		t.Fatal(err)
	}
	_, err = trainGenerated(net, m, data, nil, net.Train, runtime.TrainOptions{Optimizer: o}, 1, nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "makes its own optimizer") {
		t.Errorf("an optimizer for a child process: %v, want an error saying it makes its own", err)
	}
	t.Setenv("PATH", t.TempDir())
	_, err = trainGenerated(net, m, data, nil, net.Train, runtime.TrainOptions{}, 1, nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "needs the go command") || !strings.Contains(err.Error(), "-engine generic") {
		t.Errorf("without go on PATH: %v, want an error naming the go command and -engine generic", err)
	}
}
