package main

import (
	"bufio"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	"github.com/cnngen/cnngen/gen/emit"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
)

// The memory check of cnngen train: before it builds a model, train
// estimates what the run will allocate on its engine (gen/emit's memory
// model of the generated package, or the generic engine's batch buffers,
// plus the optimizer's state and the data) and refuses a run over the
// budget, with the ways out, rather than let the child trainer or the
// engine die allocating (a 65536-filter convolution asked for 12.9 GB).

// fallbackMemory is the budget when the machine's memory is unknown (not
// Linux, or /proc/meminfo unreadable).
const fallbackMemory = 8 << 30

// processOverhead is what a cnngen process takes besides its model and
// data (the Go runtime, the code, the garbage collector's slack): the
// generated wide convolution's child trainer peaked 10 % above its buffers.
const processOverhead = 32 << 20

// byteSize is a size in bytes given as a flag: 123, 512MiB, 16GiB, 2GB...
type byteSize int64

// sizeUnits are the suffixes byteSize accepts, longest first.
var sizeUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
	{"B", 1},
}

func (b *byteSize) String() string { return formatBytes(int64(*b)) }

// Set parses a size: a whole or decimal number, optionally followed by a
// unit (B, KB, MB, GB, TB in powers of 1000; KiB, MiB, GiB, TiB or K, M,
// G, T in powers of 1024).
func (b *byteSize) Set(s string) error {
	num, factor := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, factor = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.factor
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 || v*float64(factor) >= 1<<62 {
		return fmt.Errorf("want a size such as 16GiB or 512MiB, got %q", s)
	}
	*b = byteSize(v * float64(factor))
	return nil
}

// formatBytes writes n in the largest binary unit that keeps it ≥ 1.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// defaultBudget is half of the machine's memory (MemTotal of
// /proc/meminfo on Linux), or fallbackMemory, and says which.
func defaultBudget() (int64, string) {
	if total := memTotal(); total > 0 {
		return total / 2, "half of this machine's " + formatBytes(total)
	}
	return fallbackMemory, "the default budget, as this machine's memory is unknown"
}

// memTotal reads MemTotal from /proc/meminfo, or returns 0.
func memTotal() int64 {
	if goruntime.GOOS != "linux" {
		return 0
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil || kb <= 0 {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// optimizerSlots is the number of per-parameter buffers of the optimizer.
func optimizerSlots(kind runtime.OptimizerKind) int64 {
	switch kind {
	case runtime.Momentum:
		return 1
	case runtime.Adam:
		return 2
	}
	return 0
}

// genericMemory estimates what the generic engine touches to train net on
// batches of batch samples and evaluate it on chunks of eval: parameters
// and gradients, and per layer its output and output gradient for the
// batch (the engine's reserve). A larger evaluation chunk makes reserve
// allocate the buffers again, while the training batch's may still be
// live; forward-only, it writes the outputs only. (Measured: a
// 65536-filter convolution on 8×8 inputs, batches of 64 and 180 test
// samples, peaked at 5.2 GB; this estimates 5.4 GB.)
func genericMemory(net *ir.Network, batch, eval int) int64 {
	const f32 = 4
	var params, outs, scratch int64
	for _, p := range net.Params {
		params += int64(p.Size())
	}
	for _, l := range net.Layers {
		if l.Kind == runtime.Flatten || l.Kind == runtime.Softmax {
			continue
		}
		outs += int64(l.Out.Size())
		if l.Kind == runtime.Dropout {
			outs += int64(l.Out.Size())
		}
		scratch = max(scratch, int64(l.In.Size()))
	}
	floats := 2*params + int64(batch)*(2*outs+scratch+int64(net.Classes))
	if eval > batch {
		floats += int64(eval) * (outs + int64(net.Classes))
	}
	return f32 * floats
}

// memoryEstimate is a training run's estimate, split for the message.
type memoryEstimate struct {
	total, perWorker int64
}

// estimate returns the job's estimate with workers workers on engine.
func (j *trainJob) estimate(engine string, workers int, cfg runtime.TrainConfig) (memoryEstimate, error) {
	trainSize := j.trainSize(cfg.TestFraction)
	batch := trainSize
	if cfg.BatchSize > 0 && cfg.BatchSize < trainSize {
		batch = cfg.BatchSize
	}
	// Evaluation runs Forward on chunks of up to 256 test samples.
	eval := min(256, j.data.Len()-trainSize)
	if j.fixedTest != nil {
		eval = min(256, j.fixedTest.Len())
	}
	const f32 = 4
	data := int64(len(j.data.X))*f32 + int64(len(j.data.Y))*4
	if !j.data.InputTargets {
		data += int64(len(j.data.Targets)) * f32
	}
	var params int64
	for _, p := range j.net.Params {
		params += int64(p.Size())
	}
	optimizer := optimizerSlots(cfg.Optimizer.Kind) * f32 * params
	if engine == "generic" {
		// The data, and its split into training and test sets.
		return memoryEstimate{total: genericMemory(j.net, batch, eval) + optimizer + 2*data + processOverhead}, nil
	}
	m, err := emit.EstimateMemory(j.net)
	if err != nil {
		return memoryEstimate{}, err
	}
	// Forward uses the same tile buffers as training: the evaluation adds
	// only its logits.
	run := m.Training(workers, batch) + int64(eval)*int64(j.net.Classes)*f32
	e := memoryEstimate{total: run + optimizer + 2*data + processOverhead}
	e.perWorker = (m.Training(workers, batch) - m.Model) / int64(workers)
	if j.engine == "generated" && compiledModel(j.net) == nil {
		// The parent holds a generic engine's parameters and gradient and
		// the optimizer it rebuilds; the child decodes its own copy of the
		// data.
		e.total += 2*f32*params + optimizer + data + processOverhead
	}
	return e, nil
}

// checkMemory refuses the job when its estimate is over budget (≤ 0: the
// default budget), naming the ways out that fit.
func (j *trainJob) checkMemory(cfg runtime.TrainConfig, budget int64) error {
	what := "the budget set by -max-memory"
	if budget <= 0 {
		budget, what = defaultBudget()
	}
	e, err := j.estimate(j.engine, j.workers, cfg)
	if err != nil {
		return err
	}
	if e.total <= budget {
		return nil
	}
	msg := fmt.Sprintf("%s needs an estimated %s to train on engine %s", j.net.Name, formatBytes(e.total), j.engine)
	if j.engine == "generated" {
		msg += fmt.Sprintf(" with %s (%s of buffers per worker)", count(j.workers, "worker"), formatBytes(e.perWorker))
	}
	msg += fmt.Sprintf(", over %s of %s; ", what, formatBytes(budget))
	var ways []string
	if j.engine == "generated" && j.workers > 1 {
		if one, err := j.estimate("generated", 1, cfg); err == nil {
			ways = append(ways, fmt.Sprintf("fewer workers (-workers 1 needs %s)", formatBytes(one.total)))
		}
	}
	if j.engine == "generated" {
		if g, err := j.estimate("generic", 1, cfg); err == nil {
			ways = append(ways, fmt.Sprintf("the generic engine (-engine generic needs %s)", formatBytes(g.total)))
		}
	}
	ways = append(ways, fmt.Sprintf("a smaller batch or network, or a larger budget (-max-memory %s)", roundUpSize(e.total)))
	return fmt.Errorf("%stry %s", msg, strings.Join(ways, ", "))
}

// roundUpSize is n rounded up to whole GiB (or MiB below 1 GiB), as a
// -max-memory value.
func roundUpSize(n int64) string {
	if n < 1<<30 {
		return fmt.Sprintf("%dMiB", (n+1<<20-1)>>20)
	}
	return fmt.Sprintf("%dGiB", (n+1<<30-1)>>30)
}
