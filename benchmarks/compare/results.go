package main

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/cnngen/cnngen/benchmarks/scaling"
	"github.com/cnngen/cnngen/generated/digits"
)

// results is everything one run measured.
type results struct {
	Started, Finished string
	Quick             bool
	// Parts are the -parts that ran (digits, suite).
	Parts    []string
	Machine  machine
	Commands []string
	Notes    []string
	// Go holds the Go benchmark results by group (digits, tutorial,
	// scaling, peak, gorgonia), then by "name@GOMAXPROCS".
	Go      map[string]map[string]*bench
	PyTorch []pyRecord
	// Anchors are the suite's PyTorch and ONNX Runtime records.
	Anchors []pyRecord
	// Suite is the suite's ratio table, SuiteNets its per-network figures.
	Suite     []ratioRow
	SuiteNets []suiteNet
	BuildCost []buildCost
	Ratios    []ratioRow
	Scaling   []scalingRow
	// Benchstat is benchstat's summary of the digits benchmarks.
	Benchstat string
}

// machine names where the run happened.
type machine struct {
	CPU, CPUs, L2, Go, LoadBefore string
	// Family and Model are lscpu's CPU family and model numbers: one
	// model name ("AMD EPYC") covers CPUs as different as Zen 2, 3 and 4.
	Family, Model string
	// ISA is the widest vector ISA cnngen's kernels can use here.
	ISA string
	// Steal is the share of the CPUs' time that the hypervisor gave to
	// other guests while the run's steps ran (/proc/stat), such as
	// "12.3 %", or "" where that is unknown: on a shared virtual machine
	// it is what makes one run's figures differ from the next.
	Steal string
}

// bench is one Go benchmark's values over the -count repeats, by unit as
// the benchmark printed it (ns/op, cpu-ns/op, samples/s, ...).
type bench struct {
	Name   string
	Procs  int
	Values map[string][]float64
}

// median is the median of the benchmark's values in unit, or NaN.
func (b *bench) median(unit string) float64 {
	v := slices.Clone(b.Values[unit])
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// pyRecord is one JSON line of bench.py.
type pyRecord struct {
	Impl    string `json:"impl"`
	Threads int    `json:"threads"`
	Metric  string `json:"metric"`
	Batch   int    `json:"batch"`
	Steps   int    `json:"steps,omitempty"`
	Seed    *int   `json:"seed,omitempty"`
	// Net and Version are set by the suite's anchors (suite.py, bench.js).
	Net     string  `json:"net,omitempty"`
	Version string  `json:"version,omitempty"`
	Variant string  `json:"variant,omitempty"`
	Value   float64 `json:"value"`
}

// best returns the benchmark of group whose name starts with prefix and
// has the lowest (lower) or highest median in unit, with that median.
func (res *results) best(group, prefix, unit string, lower bool) (*bench, float64) {
	var found *bench
	val := math.NaN()
	keys := make([]string, 0, len(res.Go[group]))
	for k := range res.Go[group] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b := res.Go[group][k]
		if !strings.HasPrefix(b.Name, prefix) {
			continue
		}
		m := b.median(unit)
		if math.IsNaN(m) {
			continue
		}
		if found == nil || (lower && m < val) || (!lower && m > val) {
			found, val = b, m
		}
	}
	return found, val
}

// bestExact is the lowest median in unit of the benchmarks of group named
// name, over their GOMAXPROCS values.
func (res *results) bestExact(group, name, unit string) (*bench, float64) {
	var found *bench
	val := math.NaN()
	for _, b := range res.Go[group] {
		if m := b.median(unit); b.Name == name && !math.IsNaN(m) && (found == nil || m < val || (m == val && b.Procs < found.Procs)) {
			found, val = b, m
		}
	}
	return found, val
}

// at is the benchmark of group named name that ran with GOMAXPROCS procs.
func (res *results) at(group, name string, procs int) *bench {
	return res.Go[group][fmt.Sprintf("%s@%d", name, procs)]
}

// pyBest is PyTorch's best figure for metric at batch over its thread
// counts (lowest for times, highest for rates) and the thread count.
func (res *results) pyBest(metric string, batch int, lower bool) (float64, int) {
	val, threads := math.NaN(), 0
	for _, r := range res.PyTorch {
		if r.Metric != metric || r.Batch != batch || r.Seed != nil {
			continue
		}
		if metric == "tutorial_run_s" && r.Steps != 0 && r.Steps != 2000 {
			continue // quick mode's short run is not the tutorial
		}
		if math.IsNaN(val) || (lower && r.Value < val) || (!lower && r.Value > val) {
			val, threads = r.Value, r.Threads
		}
	}
	return val, threads
}

// ratioRow is one line of the ratio table.
type ratioRow struct {
	// Net is the suite's network the row is about ("" for the digits
	// comparison).
	Net       string `json:",omitempty"`
	What      string
	Cnngen    string
	Other     string
	Ratio     float64
	Target    float64 // 0: no target, shown for information
	Met       string
	Note      string
	CnngenRaw float64
	OtherRaw  float64
}

// digitsMACs is the digits network's multiply-accumulates per sample.
var digitsMACs = scaling.MACs(digits.Arch())

// trainSize is the tutorial's full batch.
const trainSize = 1617

var configRE = regexp.MustCompile(`isa=(\w+)(?:/workers=(\d+))?`)

// config shortens a benchmark name to its ISA path and worker count.
func config(b *bench) string {
	if b == nil {
		return ""
	}
	m := configRE.FindStringSubmatch(b.Name)
	if m == nil {
		return ""
	}
	if m[2] == "" {
		return m[1]
	}
	return m[1] + ", " + m[2] + " worker(s)"
}

func cpuNote(b *bench) string {
	if b == nil {
		return ""
	}
	if c := b.median("cpu-ns/op"); !math.IsNaN(c) {
		return "; CPU " + fmtNs(c)
	}
	return ""
}

// newRatioRow compares cnngen's figure cn with another's (other): the
// ratio is cn/other when higher is better, other/cn otherwise, and is met
// when it reaches target (0: no target). cnS and otherS are the figures as
// shown; a missing figure is NaN and leaves the row "not measured".
func newRatioRow(what string, cn, other float64, cnS, otherS string, higherBetter bool, target float64, note string) ratioRow {
	r := ratioRow{What: what, Target: target, Note: note, CnngenRaw: cn, OtherRaw: other, Ratio: math.NaN()}
	r.Cnngen, r.Other = orDash(cnS), orDash(otherS)
	if !math.IsNaN(cn) && !math.IsNaN(other) && cn > 0 && other > 0 {
		if higherBetter {
			r.Ratio = cn / other
		} else {
			r.Ratio = other / cn
		}
	}
	switch {
	case math.IsNaN(r.Ratio):
		r.Met = "not measured"
	case target == 0:
		r.Met = "–"
	case r.Ratio >= target:
		r.Met = "met"
	default:
		r.Met = "missed"
	}
	return r
}

// ratios builds the ratio table from whatever the run measured; a row whose
// figures are missing says so.
func ratios(res *results) []ratioRow {
	var rows []ratioRow
	add := func(what string, cn, other float64, cnS, otherS string, higherBetter bool, target float64, note string) {
		rows = append(rows, newRatioRow(what, cn, other, cnS, otherS, higherBetter, target, note))
	}
	timeStr := func(ns float64) string {
		if math.IsNaN(ns) {
			return ""
		}
		return fmtNs(ns)
	}
	rateStr := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return fmt.Sprintf("%.0f samples/s", v)
	}
	threads := func(t int) string {
		if t == 0 {
			return ""
		}
		return fmt.Sprintf("PyTorch %d thread(s)", t)
	}

	// cnngen against PyTorch.
	step, stepNs := res.best("digits", "BenchmarkDigitsTrainStep/engine=generated/", "ns/op", true)
	py, pt := res.pyBest("train_step_ms", trainSize, true)
	add("training step, batch 1617, vs PyTorch", stepNs, py*1e6, timeStr(stepNs), timeStr(py*1e6), false, 2.5,
		config(step)+cpuNote(step)+"; "+threads(pt))
	for _, batch := range []int{256, 32, 1} {
		target := 0.0
		if batch == 32 {
			target = 2
		}
		b, ns := res.best("digits", fmt.Sprintf("BenchmarkDigitsTrainBatch/batch=%d/engine=generated/", batch), "ns/op", true)
		py, pt := res.pyBest("train_step_ms", batch, true)
		add(fmt.Sprintf("training step, batch %d, vs PyTorch", batch), ns, py*1e6, timeStr(ns), timeStr(py*1e6), false, target,
			config(b)+cpuNote(b)+"; "+threads(pt))
	}
	// One-sample inference is Frozen.Logits, the inference copy a program
	// serves from; the training Model's own Logits gets a row of its own.
	f1, f1Ns := res.best("digits", "BenchmarkDigitsForward1/engine=frozen/", "ns/op", true)
	f1What := "Frozen.Logits, "
	if f1 == nil {
		f1, f1Ns = res.best("digits", "BenchmarkDigitsForward1/engine=generated/", "ns/op", true)
		f1What = "Model.Logits, "
	}
	py, pt = res.pyBest("infer_latency_us", 1, true)
	pyLatency := py * 1e3
	add("one-sample inference vs PyTorch", f1Ns, pyLatency, timeStr(f1Ns), timeStr(pyLatency), false, 4, f1What+config(f1)+cpuNote(f1)+"; "+threads(pt))
	m1, m1Ns := res.best("digits", "BenchmarkDigitsForward1/engine=generated/", "ns/op", true)
	add("one-sample, training Model.Logits, vs PyTorch", m1Ns, pyLatency, timeStr(m1Ns), timeStr(pyLatency), false, 0, config(m1)+cpuNote(m1)+"; "+threads(pt))
	fb, fbRate := res.best("digits", "BenchmarkDigitsForwardBatch/engine=generated/", "samples/s", false)
	py, pt = res.pyBest("infer_throughput_sps", trainSize, false)
	add("batch-1617 inference vs PyTorch", fbRate, py, rateStr(fbRate), rateStr(py), true, 2, config(fb)+"; "+threads(pt))
	tut, tutS := res.best("tutorial", "BenchmarkDigitsTutorial", "s/run", true)
	py, pt = res.pyBest("tutorial_run_s", trainSize, true)
	tutNote := "generated, CPU's ISA path, 2 workers"
	if tut != nil {
		tutNote += fmt.Sprintf(", test accuracy %.4f", tut.median("test-acc"))
	}
	add("2000-step tutorial run vs PyTorch", tutS*1e9, py*1e9, timeStr(tutS*1e9), timeStr(py*1e9), false, 0, tutNote+"; "+threads(pt))

	// cnngen against Gorgonia.
	g, gNs := res.bestExact("gorgonia", "BenchmarkTrainStep/batch=1617", "ns/op")
	add("training step, batch 1617, vs Gorgonia", stepNs, gNs, timeStr(stepNs), timeStr(gNs), false, 20, config(step)+"; "+procsNote(g))
	g, gNs = res.bestExact("gorgonia", "BenchmarkForward/batch=1", "ns/op")
	add("one-sample inference vs Gorgonia", f1Ns, gNs, timeStr(f1Ns), timeStr(gNs), false, 20, f1What+config(f1)+"; "+procsNote(g))

	// Generated code against the generic runtime.
	_, gen1 := res.best("digits", "BenchmarkDigitsForward1/engine=generic", "ns/op", true)
	add("one-sample forward vs generic runtime", f1Ns, gen1, timeStr(f1Ns), timeStr(gen1), false, 10, f1What+config(f1))
	_, genStep := res.best("digits", "BenchmarkDigitsTrainStep/engine=generic", "ns/op", true)
	add("training step, batch 1617, vs generic runtime", stepNs, genStep, timeStr(stepNs), timeStr(genStep), false, 20, config(step))

	// FLOP/s against the measured FMA peak.
	if step != nil {
		isa, workers := "zmm", 1
		if m := configRE.FindStringSubmatch(step.Name); m != nil {
			if m[1] == "avx2" || m[1] == "purego" {
				isa = "ymm"
			}
			fmt.Sscan(m[2], &workers)
		}
		flops := 6 * float64(digitsMACs) * trainSize
		achieved := flops / stepNs // GFLOP/s
		pkV := math.NaN()
		if pk := res.at("peak", "BenchmarkFMAPeak/"+isa+"/per-P", workers); pk != nil {
			pkV = pk.median("GFLOP/s")
		}
		add("FLOP/s of the batch-1617 step / FMA peak (wall clock)", achieved, pkV,
			fmt.Sprintf("%.1f GFLOP/s", achieved), fmtGF(pkV), true, 0.55,
			fmt.Sprintf("%s; 6·MACs·1617 FLOPs, MACs/sample %d; peak: %s FMA loop on %d core(s)", config(step), digitsMACs, isa, workers))
		if c := step.median("cpu-ns/op"); !math.IsNaN(c) {
			perCPU := flops / c
			pc := math.NaN()
			if pk := res.at("peak", "BenchmarkFMAPeak/"+isa+"/single", 1); pk != nil {
				pc = pk.median("GFLOP/cpu-s")
			}
			add("FLOP per CPU-second of the batch-1617 step / per-core FMA peak", perCPU, pc,
				fmt.Sprintf("%.1f GFLOP/cpu-s", perCPU), fmtCPUGF(pc), true, 0.55,
				config(step)+"; CPU time, so the machine's other load does not count")
		}
	}
	return rows
}

func procsNote(b *bench) string {
	if b == nil {
		return ""
	}
	return fmt.Sprintf("Gorgonia -cpu %d", b.Procs)
}

func fmtCPUGF(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return fmt.Sprintf("%.1f GFLOP/cpu-s", v)
}

func fmtGF(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return fmt.Sprintf("%.1f GFLOP/s", v)
}

// fmtNs formats a duration in nanoseconds with a unit that suits it.
func fmtNs(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

// scalingRow is one network and engine configuration of the scaling study.
type scalingRow struct {
	Net     string
	MACs    float64
	Engine  string // "generated" or "generic"
	ISA     string
	Workers int
	Forward measure
	Train   measure
}

// measure is one benchmark's figures per sample.
type measure struct {
	SamplesPerSec, NsPerSample, GFLOPs, GFLOPsCPU float64
}

// scalingNets are the networks in order of size.
var scalingNets = []string{"digits", "digits64", "lenet", "conv2"}

// scalingRows collects the scaling study into one row per network and
// engine configuration.
func scalingRows(res *results) []scalingRow {
	var rows []scalingRow
	get := func(name string) (measure, float64, bool) {
		for _, b := range res.Go["scaling"] {
			if b.Name == name {
				sps := b.median("samples/s")
				return measure{SamplesPerSec: sps, NsPerSample: 1e9 / sps, GFLOPs: b.median("GFLOP/s"), GFLOPsCPU: b.median("GFLOP/cpu-s")}, b.median("MACs/sample"), true
			}
		}
		return measure{}, 0, false
	}
	for _, net := range scalingNets {
		configs := []string{"engine=generic"}
		var isas []string
		for _, b := range res.Go["scaling"] {
			if m := configRE.FindStringSubmatch(b.Name); m != nil && strings.Contains(b.Name, "net="+net+"/") && !slices.Contains(isas, m[1]) {
				isas = append(isas, m[1])
			}
		}
		order := map[string]int{"purego": 0, "avx2": 1, "avx512": 2}
		sort.Slice(isas, func(i, j int) bool { return order[isas[i]] < order[isas[j]] })
		for _, isa := range isas {
			for _, w := range []string{"1", "2"} {
				configs = append(configs, "engine=generated/isa="+isa+"/workers="+w)
			}
		}
		for _, c := range configs {
			fwd, macs, ok1 := get("BenchmarkScalingForward/net=" + net + "/" + c)
			train, macs2, ok2 := get("BenchmarkScalingTrain/net=" + net + "/" + c)
			if !ok1 && !ok2 {
				continue
			}
			row := scalingRow{Net: net, MACs: max(macs, macs2), Engine: "generic", Workers: 1, Forward: fwd, Train: train}
			if m := configRE.FindStringSubmatch(c); m != nil {
				row.Engine, row.ISA = "generated", m[1]
				fmt.Sscan(m[2], &row.Workers)
			}
			rows = append(rows, row)
		}
	}
	return rows
}
