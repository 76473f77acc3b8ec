package main

import (
	"regexp"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/emit"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/generated/digits"
)

// TestMemoryEstimateDigits compares gen/emit's memory model with what the
// compiled-in digits model allocates, for 1 to 3 workers.
func TestMemoryEstimateDigits(t *testing.T) {
	net, err := ir.Load(defaultDescription, examples.Digits)
	if err != nil {
		t.Fatal(err)
	}
	m, err := emit.EstimateMemory(net)
	if err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		// A dropped model's workers end once their goroutines see
		// their channels closed.
		goruntime.GC()
		time.Sleep(20 * time.Millisecond)
		goruntime.GC()
		var s goruntime.MemStats
		goruntime.ReadMemStats(&s)
		return s.HeapAlloc
	}
	for workers := 1; workers <= 3; workers++ {
		before := heap()
		model := digits.New()
		model.SetWorkers(workers)
		got := int64(heap() - before)
		model.SetWorkers(1) // ends the workers' goroutines
		want := m.Training(workers, 0)
		t.Logf("%d workers: %d bytes allocated, %d estimated", workers, got, want)
		if got < want*9/10 || got > want*11/10 {
			t.Errorf("%d workers: the model allocates %d bytes, the estimate is %d: want within 10%%", workers, got, want)
		}
	}
}

// TestTrainMemoryBudget checks that train refuses, before it builds a
// model, a run whose estimate exceeds -max-memory, in one line that gives
// the ways out (regression: a 65536-filter convolution made the child
// trainer die allocating 12.9 GB).
func TestTrainMemoryBudget(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"train", "-steps", "1", "-workers", "2", "-max-memory", "1MiB"}, []string{
			`^cnngen: digits needs an estimated [0-9.]+ MiB to train on engine generated with 2 workers \([0-9.]+ KiB of buffers per worker\), over the budget set by -max-memory of 1\.0 MiB; try `,
			`fewer workers \(-workers 1 needs [0-9.]+ MiB\)`, `the generic engine \(-engine generic needs [0-9.]+ MiB\)`, `-max-memory [0-9]+MiB\)\n$`,
		}},
		{[]string{"train", "-steps", "1", "-engine", "generic", "-max-memory", "1MiB"}, []string{
			`^cnngen: digits needs an estimated [0-9.]+ MiB to train on engine generic, over the budget set by -max-memory of 1\.0 MiB; try a smaller batch or network, or a larger budget \(-max-memory [0-9]+MiB\)\n$`,
		}},
	} {
		code, stdout, stderr := runCLI(tc.args...)
		if code != 1 || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q; want exit 1 before any training", tc.args, code, stdout)
		}
		for _, re := range tc.want {
			if !regexp.MustCompile(re).MatchString(stderr) {
				t.Errorf("%v: stderr %q does not match %q", tc.args, stderr, re)
			}
		}
	}
	if code, _, stderr := runCLI("train", "-max-memory", "lots"); code != 2 || !strings.Contains(stderr, `want a size such as 16GiB or 512MiB, got "lots"`) {
		t.Errorf("-max-memory lots: exit %d, stderr %q; want a usage error", code, firstLine(stderr))
	}
	// The default budget, half of the machine's memory, lets digits train.
	if code, _, stderr := runCLI("train", "-steps", "1", "-log-every", "0"); code != 0 {
		t.Errorf("digits with the default budget: exit %d: %s", code, stderr)
	}
	var b byteSize
	for in, want := range map[string]int64{"16GiB": 16 << 30, "512MiB": 512 << 20, "2GB": 2e9, "1.5G": 3 << 29, "4096": 4096} {
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("byteSize.Set(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
}
