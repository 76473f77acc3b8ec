package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/viz"
)

// fakeClock advances by step at every reading.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time {
	t := c.t
	c.t = c.t.Add(c.step)
	return t
}

// steps returns the log entries of a run of n steps of batches of 32.
func steps(n int) []runtime.StepLog {
	var s []runtime.StepLog
	for i := range n {
		s = append(s, runtime.StepLog{Step: i, Steps: n, Cost: 2 / float64(i+1), Correct: min(32, 8+2*i), Samples: 32})
	}
	return s
}

// TestProgressPlain feeds 20 steps, one second apart, to a plain reporter
// that prints every 5 seconds: lines at the steps 5 s, 10 s and 15 s after
// the first (not at the last, which the training command reports itself).
// At the first line 5 more steps took 5 s: 1 step/s, 32 samples/s, and 14
// steps are left: ETA 14 s.
func TestProgressPlain(t *testing.T) {
	var b bytes.Buffer
	p := newProgressMode(&b, false, 5*time.Second)
	clock := &fakeClock{t: time.Unix(0, 0), step: time.Second}
	p.now = clock.now
	for _, s := range steps(20) {
		p.Step(s)
	}
	p.Finish()
	want := "" +
		"cnngen: step 6/20 (30%)  1.0 steps/s  32 samples/s  ETA 14s  cost/sample 0.3333  train acc 0.562\n" +
		"cnngen: step 11/20 (55%)  1.0 steps/s  32 samples/s  ETA 9s  cost/sample 0.1818  train acc 0.875\n" +
		"cnngen: step 16/20 (80%)  1.0 steps/s  32 samples/s  ETA 4s  cost/sample 0.1250  train acc 1.000\n"
	if b.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestProgressRegression: a regression run's lines give the cost and no
// accuracy.
func TestProgressRegression(t *testing.T) {
	var b bytes.Buffer
	p := newProgressMode(&b, false, 5*time.Second)
	clock := &fakeClock{t: time.Unix(0, 0), step: time.Second}
	p.now = clock.now
	for _, s := range steps(8) {
		s.Regression, s.Correct = true, 0
		p.Step(s)
	}
	p.Finish()
	want := "cnngen: step 6/8 (75%)  1.0 steps/s  32 samples/s  ETA 2s  cost/sample 0.3333\n"
	if b.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestProgressLive draws the bar into a buffer: it shows the count, the
// rates, the time and the last cost, and Finish ends the line.
func TestProgressLive(t *testing.T) {
	var b bytes.Buffer
	p := newProgressMode(&b, true, 0)
	clock := &fakeClock{t: time.Unix(0, 0), step: time.Second}
	p.now = clock.now
	var stdout bytes.Buffer
	for _, s := range steps(10) {
		p.Step(s)
		if s.Step == 4 {
			p.Println(&stdout, s)
		}
	}
	p.Finish()
	out := b.String()
	for _, want := range []string{"train", "10/10", "steps/s", "32 samples/s", "cost/sample 0.2000  train acc 0.812"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar output lacks %q:\n%q", want, out)
		}
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("bar output does not end the line: %q", out)
	}
	if stdout.String() != "step    4  cost/sample 0.4000  train acc 0.500\n" {
		t.Errorf("log line %q", stdout.String())
	}
}

// TestProgressHook checks the log cadence of the hook: the first, every
// logEvery-th and the last step, each also passed to onLog.
func TestProgressHook(t *testing.T) {
	var bar, stdout bytes.Buffer
	p := newProgressMode(&bar, false, time.Hour)
	var logged []int
	hook := p.Hook(&stdout, 5, func(s runtime.StepLog) { logged = append(logged, s.Step) })
	for _, s := range steps(12) {
		hook(s)
	}
	p.Finish()
	if got := strings.Count(stdout.String(), "\n"); got != 4 || len(logged) != 4 ||
		logged[0] != 0 || logged[1] != 5 || logged[2] != 10 || logged[3] != 11 {
		t.Errorf("logged steps %v, %d lines:\n%s", logged, got, stdout.String())
	}
	if p.done != 12 || p.samples != 12*32 {
		t.Errorf("the reporter saw %d steps and %d samples, want 12 and 384", p.done, p.samples)
	}
}

// TestProgressTraining plugs the hook and the curve recorder into a real
// run and draws the curve.
func TestProgressTraining(t *testing.T) {
	net := example(t, "digits.yaml")
	m, err := runtime.NewGeneric(net.Arch())
	if err != nil {
		t.Fatal(err)
	}
	train, test := digitsSplit(t, net, 1)
	cfg := net.Train
	cfg.Steps, cfg.BatchSize = 6, 100
	var bar, stdout bytes.Buffer
	p := newProgressMode(&bar, false, time.Hour)
	rec := &curveRecorder{model: m, test: test}
	res, err := runtime.Train(m, train, test, cfg, runtime.TrainOptions{LogEvery: 1, Log: p.Hook(&stdout, 2, rec.Record)})
	if err != nil {
		t.Fatal(err)
	}
	p.Finish()
	if len(rec.points) != 4 || rec.points[3].Step != 5 || !rec.points[3].Tested {
		t.Fatalf("recorded %+v, want steps 0, 2, 4, 5 with test accuracies", rec.points)
	}
	// The last step's test accuracy is measured before its update: it
	// matches the final score only if that update changed no answer, so
	// check the range alone.
	for _, pt := range rec.points {
		if pt.TestAccuracy < 0 || pt.TestAccuracy > 1 || pt.Cost <= 0 {
			t.Errorf("point %+v", pt)
		}
	}
	if res.Steps != 6 {
		t.Errorf("%d steps", res.Steps)
	}
	path := filepath.Join(t.TempDir(), "curve.png")
	if err := rec.Write(path); err != nil {
		t.Fatal(err)
	}
	if w, h := pngSize(t, path); w != viz.CurveWidth || h != viz.CurveHeight {
		t.Errorf("curve is %dx%d", w, h)
	}
}

// TestInterruptRelease releases a handler that saw no signal: no stop, no
// message, and releasing twice is harmless.
func TestInterruptRelease(t *testing.T) {
	var stderr bytes.Buffer
	in := notifyInterrupt(&stderr)
	in.Release()
	in.Release()
	if in.Requested() || stderr.Len() != 0 {
		t.Errorf("requested %v, stderr %q", in.Requested(), stderr.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
