package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// suiteNets are the suite's networks (benchmarks/suite) in order of MACs
// per sample, as its benchmarks and the anchors name them.
var suiteNets = []string{"autoencoder", "digits", "lenet5", "dscnn", "mobilenet_vww", "resnet8"}

// convHeavy are the convolution-heavy networks of the suite, which the
// issue's FMA-peak targets apply to.
var convHeavy = map[string]bool{"resnet8": true, "dscnn": true, "mobilenet_vww": true}

// suitePackages are the suite's generated packages besides
// generated/digits, for the build-cost table.
var suitePackages = []struct{ net, dir string }{
	{"lenet5", "benchmarks/suite/gen/lenet5"},
	{"resnet8", "benchmarks/suite/gen/resnet8"},
	{"dscnn", "benchmarks/suite/gen/dscnn"},
	{"mobilenet_vww", "benchmarks/suite/gen/mobilenet"},
	{"autoencoder", "benchmarks/suite/gen/autoencoder"},
}

// suiteSteps are the suite's stages: o.count rounds, each of cnngen's
// benchmarks once and then the anchors (PyTorch, which in the first round
// also exports the ONNX models, then ONNX Runtime on those). Every figure is
// the median over the rounds. On a shared VM the machine's speed drifts by
// up to 40 % within minutes; in interleaved rounds the drift falls on both
// sides of each ratio, where one long run of each side after the other
// would put it between them.
func suiteSteps(o options) []step {
	benchtime := "1s"
	// The pure-Go path is measured too (it is what non-amd64 builds run),
	// except in a quick run.
	pattern := "^BenchmarkSuite$"
	if o.quick {
		benchtime, pattern = "300ms", "^BenchmarkSuite$/./././isa=(avx2|avx512)/"
	}
	onnxDir := ""
	var steps []step
	for round := 1; round <= max(1, o.count); round++ {
		// rawFile names a stage's raw output: base.txt in the first round,
		// base-N.txt in round N.
		rawFile := func(base string) string {
			if round == 1 {
				return base + ".txt"
			}
			return fmt.Sprintf("%s-%d.txt", base, round)
		}
		of := ""
		if o.count > 1 {
			of = fmt.Sprintf(", round %d of %d", round, o.count)
		}
		steps = append(steps, step{"cnngen suite (benchmarks/suite)" + of, func(r *runner, res *results) error {
			return r.goBenchTo(res, "suite", rawFile("suite"), ".", "-run", "^$", "-bench", pattern, "-benchtime", benchtime, "-count", "1", "-timeout", "2h", "./benchmarks/suite/")
		}})
		if !o.skipPyTorch {
			steps = append(steps, step{"PyTorch on the suite (benchmarks/pytorch/suite.py)" + of, func(r *runner, res *results) error {
				args := []string{"benchmarks/pytorch/suite.py", "--threads", "1,2"}
				if round == 1 {
					onnxDir = filepath.Join(r.raw, "onnx")
					args = append(args, "--export-onnx", onnxDir)
				}
				if o.quick {
					args = append(args, "--quick")
				}
				return r.anchor(res, rawFile("pytorch-suite"), o.python, args...)
			}})
		}
		if !o.skipORT {
			steps = append(steps, step{"ONNX Runtime on the suite (benchmarks/ort/bench.js)" + of, func(r *runner, res *results) error {
				if onnxDir == "" {
					return fmt.Errorf("no ONNX models: they are exported by the PyTorch step")
				}
				if _, err := os.Stat(filepath.Join(r.root, "benchmarks", "ort", "node_modules", "onnxruntime-node")); err != nil && r.replay == "" {
					return fmt.Errorf("onnxruntime-node is not installed (cd benchmarks/ort && npm install --ignore-scripts)")
				}
				args := []string{"benchmarks/ort/bench.js", "--models", onnxDir, "--threads", "1,2"}
				if o.quick {
					args = append(args, "--quick")
				}
				return r.anchor(res, rawFile("ort-suite"), "node", args...)
			}})
		}
	}
	return steps
}

// anchor runs an anchor's command and keeps its JSON records (lines that
// start with "{"); a "# skipped: …" line with no records is an error, so
// that the run notes it.
func (r *runner) anchor(res *results, file, name string, args ...string) error {
	if _, err := exec.LookPath(name); err != nil && r.replay == "" {
		return fmt.Errorf("%s is not installed", name)
	}
	out, err := r.exec(file, ".", nil, name, args...)
	if err != nil {
		return err
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var rec pyRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			return fmt.Errorf("%s output: %v: %s", name, err, line)
		}
		res.Anchors = append(res.Anchors, rec)
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s printed no records:\n%s", name, lastLines(string(out), 5))
	}
	fmt.Fprintf(r.log, "   %d records\n", n)
	return nil
}

// anchorValue is impl's figure for metric on net at batch with threads
// threads, the median over the rounds that measured it (the lower middle
// one of an even count), with the variant of that round; or NaN.
func (res *results) anchorValue(impl, net, metric string, batch, threads int) (float64, string) {
	var found []pyRecord
	for _, a := range res.Anchors {
		if a.Impl == impl && a.Net == net && a.Metric == metric && a.Batch == batch && a.Threads == threads {
			found = append(found, a)
		}
	}
	if len(found) == 0 {
		return math.NaN(), ""
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].Value < found[j].Value })
	mid := found[(len(found)-1)/2]
	return mid.Value, mid.Variant
}

// suiteBest is the fastest vector-path configuration (lowest median ns/op)
// of the suite's op on net at batch with workers workers, falling back to
// the pure-Go path on a machine without vector paths.
func (res *results) suiteBest(net, op string, batch, workers int) (*bench, float64) {
	prefix := fmt.Sprintf("BenchmarkSuite/net=%s/op=%s/batch=%d/isa=", net, op, batch)
	suffix := fmt.Sprintf("/workers=%d", workers)
	var found *bench
	val := math.NaN()
	var pure *bench
	keys := make([]string, 0, len(res.Go["suite"]))
	for k := range res.Go["suite"] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b := res.Go["suite"][k]
		if !strings.HasPrefix(b.Name, prefix) || !strings.HasSuffix(b.Name, suffix) {
			continue
		}
		if strings.Contains(b.Name, "isa=purego") {
			pure = b
			continue
		}
		if m := b.median("ns/op"); !math.IsNaN(m) && (found == nil || m < val) {
			found, val = b, m
		}
	}
	if found == nil && pure != nil {
		return pure, pure.median("ns/op")
	}
	return found, val
}

// suiteBatches are the training batches of net's benchmarks: 64 and the
// recipe's, as they ran.
func (res *results) suiteBatches(net string) []int {
	seen := map[int]bool{}
	var batches []int
	prefix := "BenchmarkSuite/net=" + net + "/op=train/batch="
	for _, b := range res.Go["suite"] {
		if rest, ok := strings.CutPrefix(b.Name, prefix); ok {
			var batch int
			if _, err := fmt.Sscanf(rest, "%d", &batch); err == nil && !seen[batch] {
				seen[batch] = true
				batches = append(batches, batch)
			}
		}
	}
	sort.Ints(batches)
	return batches
}

// peakFor is the FMA peak (GFLOP/s, wall clock) of the vector width b ran
// with on workers cores.
func (res *results) peakFor(b *bench, workers int) (float64, string) {
	width := "zmm"
	if m := configRE.FindStringSubmatch(b.Name); m != nil && m[1] != "avx512" {
		width = "ymm"
	}
	if pk := res.at("peak", "BenchmarkFMAPeak/"+width+"/per-P", workers); pk != nil {
		return pk.median("GFLOP/s"), width
	}
	return math.NaN(), width
}

// suiteRows builds the suite's ratio table: for each network, the issue's
// comparisons with PyTorch and ONNX Runtime at 1 and 2 threads, the
// one-sample speed-up on 2 workers and the fractions of the FMA peak.
func suiteRows(res *results) []ratioRow {
	var rows []ratioRow
	timeStr := func(ns float64) string {
		if math.IsNaN(ns) {
			return ""
		}
		return fmtNs(ns)
	}
	for _, net := range suiteNets {
		add := func(what string, cn, other float64, cnS, otherS string, higherBetter bool, target float64, note string) {
			r := newRatioRow(what, cn, other, cnS, otherS, higherBetter, target, note)
			r.Net = net
			rows = append(rows, r)
		}
		against := func(what string, b *bench, ns float64, impl, metric string, batch, threads int, target float64) {
			v, variant := res.anchorValue(impl, net, metric, batch, threads)
			scale := 1e6 // ms
			if strings.HasSuffix(metric, "_us") {
				scale = 1e3
			}
			name := map[string]string{"pytorch": "PyTorch", "onnxruntime": "ONNX Runtime"}[impl]
			note := config(b) + cpuNote(b)
			if variant != "" {
				note += "; " + name + " " + variant
			}
			add(fmt.Sprintf("%s, %d thread(s), vs %s", what, threads, name), ns, v*scale, timeStr(ns), timeStr(v*scale), false, target, note)
		}
		for _, batch := range res.suiteBatches(net) {
			target := 0.0
			if batch == 64 {
				target = 2
			}
			for _, w := range []int{1, 2} {
				b, ns := res.suiteBest(net, "train", batch, w)
				against(fmt.Sprintf("training step, batch %d", batch), b, ns, "pytorch", "train_step_ms", batch, w, target)
			}
		}
		for _, w := range []int{1, 2} {
			b, ns := res.suiteBest(net, "infer", 256, w)
			against("inference, batch 256", b, ns, "onnxruntime", "infer_batch_ms", 256, w, 1.5)
			against("inference, batch 256", b, ns, "pytorch", "infer_batch_ms", 256, w, 0)
		}
		for _, w := range []int{1, 2} {
			target := 0.0
			if w == 1 {
				target = 2
			}
			b, ns := res.suiteBest(net, "latency", 1, w)
			against("one sample", b, ns, "onnxruntime", "infer_latency_us", 1, w, target)
			against("one sample", b, ns, "pytorch", "infer_latency_us", 1, w, 0)
		}
		b1, ns1 := res.suiteBest(net, "latency", 1, 1)
		b2, ns2 := res.suiteBest(net, "latency", 1, 2)
		macs := math.NaN()
		if b1 != nil {
			macs = b1.median("MACs/sample")
		}
		target := 0.0
		if macs > 2e6 {
			target = 1 / 0.6
		}
		add("one sample, speed-up of 2 workers over 1", ns2, ns1, timeStr(ns2), timeStr(ns1), false, target, config(b2)+" against "+config(b1))
		for _, op := range []struct {
			name, op   string
			batch      int
			flopPerMAC float64
			target     float64
		}{
			{"training step, batch 64", "train", 64, 6, 0.6},
			{"inference, batch 256", "infer", 256, 2, 0.7},
		} {
			b, ns := res.suiteBest(net, op.op, op.batch, 2)
			if b == nil {
				add(op.name+", 2 workers, FLOP/s / FMA peak", math.NaN(), math.NaN(), "", "", true, 0, "")
				continue
			}
			achieved := op.flopPerMAC * b.median("MACs/sample") * float64(op.batch) / ns // GFLOP/s
			peak, width := res.peakFor(b, 2)
			target := 0.0
			if convHeavy[net] {
				target = op.target
			}
			add(op.name+", 2 workers, FLOP/s / FMA peak", achieved, peak, fmt.Sprintf("%.1f GFLOP/s", achieved), fmtGF(peak), true, target,
				fmt.Sprintf("%s; %g·MACs per sample; peak: %s FMA loop on 2 cores", config(b), op.flopPerMAC, width))
		}
	}
	return rows
}

// suiteNet is one network's size, code and allocation figures.
type suiteNet struct {
	Net         string
	MACs        float64
	SBytes      int64
	GoBytes     int64
	BuildSecs   float64
	MaxAllocs   float64
	AllocsWhere string
}

// suiteNetRows collects, per network, its MACs, generated code size, build
// time and the most allocations per op of any of its benchmarks.
func suiteNetRows(res *results) []suiteNet {
	var rows []suiteNet
	for _, net := range suiteNets {
		s := suiteNet{Net: net, MACs: math.NaN(), MaxAllocs: math.NaN()}
		keys := make([]string, 0, len(res.Go["suite"]))
		for k := range res.Go["suite"] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b := res.Go["suite"][k]
			if !strings.HasPrefix(b.Name, "BenchmarkSuite/net="+net+"/") {
				continue
			}
			s.MACs = b.median("MACs/sample")
			if a := b.median("allocs/op"); !math.IsNaN(a) && (math.IsNaN(s.MaxAllocs) || a > s.MaxAllocs) {
				s.MaxAllocs, s.AllocsWhere = a, strings.TrimPrefix(b.Name, "BenchmarkSuite/net="+net+"/")
			}
		}
		for _, c := range res.BuildCost {
			if c.Net == net {
				s.SBytes, s.GoBytes, s.BuildSecs = c.SBytes, c.GoBytes, c.Seconds
			}
		}
		if !math.IsNaN(s.MACs) || s.SBytes > 0 {
			rows = append(rows, s)
		}
	}
	return rows
}

// writeSuiteText writes the suite's tables.
func writeSuiteText(w io.Writer, res *results) {
	if len(res.Suite) == 0 {
		return
	}
	fmt.Fprintln(w, "### Suite: cnngen against PyTorch and ONNX Runtime on the networks people deploy")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "cnngen: the fastest vector path (AVX2 or AVX-512) at the given worker count; training steps are plain SGD with the recipe's loss on synthetic data, inference is Frozen.Forward (batch) and Frozen.Logits (one sample). Anchors at the same thread count.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| network | comparison | cnngen | other | ratio | target | | cnngen configuration; other's |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, r := range res.Suite {
		ratio, target := "–", "–"
		peak := strings.Contains(r.What, "peak")
		if !math.IsNaN(r.Ratio) {
			ratio = fmt.Sprintf("%.2f×", r.Ratio)
			if peak {
				ratio = fmt.Sprintf("%.0f %%", 100*r.Ratio)
			}
		}
		if r.Target > 0 {
			target = fmt.Sprintf("≥ %.3g×", r.Target)
			if peak {
				target = fmt.Sprintf("≥ %.0f %%", 100*r.Target)
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Net, r.What, r.Cnngen, r.Other, ratio, target, r.Met, strings.Trim(r.Note, "; "))
	}
	met, missed := 0, 0
	for _, r := range res.Suite {
		switch r.Met {
		case "met":
			met++
		case "missed":
			missed++
		}
	}
	fmt.Fprintf(w, "\nTargets met: %d of %d.\n", met, met+missed)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| network | MACs/sample | .s bytes | .go bytes | go build wall s | most allocs/op (where) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, s := range res.SuiteNets {
		allocs := "–"
		switch {
		case s.MaxAllocs == 0:
			allocs = "0"
		case !math.IsNaN(s.MaxAllocs):
			allocs = fmt.Sprintf("%.0f (%s)", s.MaxAllocs, s.AllocsWhere)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %.2f | %s |\n", s.Net, num(s.MACs, 0), s.SBytes, s.GoBytes, s.BuildSecs, allocs)
	}
	fmt.Fprintln(w)
}
