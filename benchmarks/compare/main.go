// Command compare is the one command that runs cnngen's benchmarks against
// the alternatives and prints the ratio tables:
//
//	go run ./benchmarks/compare                      # everything (about 30–40 minutes)
//	go run ./benchmarks/compare -parts suite         # the suite only
//	go run ./benchmarks/compare -quick               # short run, noisy figures
//	go run ./benchmarks/compare -record benchmarks/RESULTS.md   # keep the run in RESULTS.md
//
// Run it from anywhere inside the repository. It has two parts (-parts):
//
// suite: the networks people deploy (benchmarks/suite: digits, LeNet-5 and
// the four MLPerf Tiny models), each measured for a training step at batch
// 64 and at its recipe's batch, batch-256 inference and one-sample latency,
// at 1 and 2 workers, on every ISA path; then, right after, the same
// measurements in PyTorch (benchmarks/pytorch/suite.py, which also exports
// the models to ONNX) and the inference ones in ONNX Runtime
// (benchmarks/ort/bench.js, the npm package onnxruntime-node), each at 1
// and 2 threads. An anchor that is not installed is skipped with a note.
//
// digits: the reference network in depth —
//
//   - the Go digits benchmarks (./benchmarks: generated code on every ISA
//     path with 1 and 2 workers, and the generic engine), including the
//     2000-step tutorial run (BenchmarkDigitsTutorial, left out by -quick);
//   - the scaling benchmarks (./benchmarks/scaling);
//   - Gorgonia's benchmarks (the separate module in benchmarks/gorgonia),
//     skipped with a note when that module does not build;
//   - PyTorch's bench.py with /usr/bin/python3, skipped with a note when
//     torch is not installed there.
//
// Both parts measure the FMA peak first (./benchmarks/peak, on 1 and 2
// cores), against which FLOP/s figures are read, and end with each generated
// package's source size and compile time. The driver parses the Go outputs
// with golang.org/x/perf/benchfmt and the anchors' JSON lines, and prints
// the ratio tables (each row: both figures, the ratio, the target and
// whether it was met). Ratios compare each side's best configuration in
// this run at the same thread count (ISA path for cnngen, variant for the
// anchors); the note column names it. Raw outputs are kept in -raw (a new
// temporary directory by default) for benchstat.
//
// The machine may be shared: every Go benchmark also reports cpu-ns/op (CPU
// time of the process per operation), which the tables show beside the
// wall-clock figures.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// options are the command-line flags.
type options struct {
	quick        bool
	count        int
	raw          string
	jsonPath     string
	mdPath       string
	chartPath    string
	skipPyTorch  bool
	skipGorgonia bool
	skipORT      bool
	parts        string
	record       string
	python       string
	noTutorials  bool
	replay       string
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("compare: ")
	var o options
	flag.BoolVar(&o.quick, "quick", false, "short run: fewer and shorter repeats, no 2000-step tutorial runs")
	flag.IntVar(&o.count, "count", 0, "repeats of each Go benchmark, and rounds of the suite with its anchors (default 3, 1 with -quick)")
	flag.StringVar(&o.raw, "raw", "", "directory for the raw outputs (default: a new temporary directory)")
	flag.StringVar(&o.jsonPath, "json", "", "also write every figure and the ratio table as JSON to this file")
	flag.StringVar(&o.mdPath, "md", "", "also write the results as Markdown to this file")
	flag.StringVar(&o.chartPath, "chart", "", "write the throughput-against-network-size chart (.png or .svg) to this file")
	flag.BoolVar(&o.skipPyTorch, "skip-pytorch", false, "do not run PyTorch")
	flag.BoolVar(&o.skipGorgonia, "skip-gorgonia", false, "do not run Gorgonia")
	flag.BoolVar(&o.skipORT, "skip-ort", false, "do not run ONNX Runtime (the suite's inference anchor)")
	flag.StringVar(&o.parts, "parts", "digits,suite", "what to run: digits (the reference network against PyTorch and Gorgonia, the scaling study), suite (the networks people deploy against PyTorch and ONNX Runtime), or both")
	flag.StringVar(&o.record, "record", "", "insert this run's results as a new section of this Markdown file (benchmarks/RESULTS.md), above the earlier runs")
	flag.StringVar(&o.python, "python", "/usr/bin/python3", "the Python interpreter that has torch")
	flag.BoolVar(&o.noTutorials, "skip-tutorial", false, "leave out the 2000-step tutorial runs (cnngen's and PyTorch's)")
	flag.StringVar(&o.replay, "replay", "", "read the outputs from this -raw directory of an earlier run instead of running the benchmarks")
	flag.Parse()
	if err := run(o, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run carries out the whole comparison and writes the report to w.
func run(o options, w io.Writer) error {
	if o.count == 0 {
		o.count = 3
		if o.quick {
			o.count = 1
		}
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if o.raw == "" {
		if o.raw, err = os.MkdirTemp("", "cnngen-compare-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(o.raw, 0o755); err != nil {
		return err
	}
	started := time.Now()
	r := &runner{root: root, raw: o.raw, log: w, replay: o.replay}
	res := &results{Started: started.UTC().Format(time.RFC3339), Quick: o.quick}
	for _, p := range []string{"digits", "suite"} {
		if o.has(p) {
			res.Parts = append(res.Parts, p)
		}
	}
	res.Machine = machineInfo(root)

	steps := plan(o)
	steal0, total0, timed := cpuTimes()
	for _, s := range steps {
		fmt.Fprintf(w, "== %s\n", s.title)
		if err := s.run(r, res); err != nil {
			note := fmt.Sprintf("%s: %v", s.title, err)
			fmt.Fprintf(w, "   skipped: %v\n", err)
			res.Notes = append(res.Notes, note)
		}
	}
	res.Finished = time.Now().UTC().Format(time.RFC3339)
	if steal1, total1, ok := cpuTimes(); ok && timed {
		res.Machine.Steal = stealShare(steal0, total0, steal1, total1)
	}
	res.Commands = r.commands
	if o.has("digits") {
		res.Ratios = ratios(res)
		res.Scaling = scalingRows(res)
	}
	if o.has("suite") {
		res.Suite = suiteRows(res)
		res.SuiteNets = suiteNetRows(res)
	}

	fmt.Fprintln(w)
	writeText(w, res)
	fmt.Fprintf(w, "\nraw outputs: %s\n", o.raw)

	if o.chartPath != "" {
		if err := writeChart(res.Scaling, o.chartPath); err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		fmt.Fprintf(w, "wrote %s\n", o.chartPath)
	}
	if o.jsonPath != "" {
		if err := writeJSON(res, o.jsonPath); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s\n", o.jsonPath)
	}
	if o.mdPath != "" {
		chartRel := ""
		if o.chartPath != "" {
			if rel, err := filepath.Rel(filepath.Dir(o.mdPath), o.chartPath); err == nil {
				chartRel = rel
			}
		}
		if err := writeMarkdownFile(res, o.mdPath, chartRel); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s\n", o.mdPath)
	}
	if o.record != "" {
		if err := recordRun(res, o.record); err != nil {
			return err
		}
		fmt.Fprintf(w, "recorded the run in %s\n", o.record)
	}
	return nil
}

// has reports whether -parts names part.
func (o options) has(part string) bool {
	for _, p := range strings.Split(o.parts, ",") {
		if strings.TrimSpace(p) == part {
			return true
		}
	}
	return false
}

// step is one stage of the comparison; an error skips it with a note.
type step struct {
	title string
	run   func(r *runner, res *results) error
}

// plan lists the stages in the order they run: PyTorch and cnngen's digits
// benchmarks back to back, so that the machine's load is as alike as it gets
// for the ratios that compare them.
func plan(o options) []step {
	benchtime, digitsBench := "1s", "^BenchmarkDigits(Forward1|ForwardBatch|TrainStep|TrainBatch)$"
	scalingTime, peakTime, gorgoniaTime := "1s", "0.5s", "5x"
	if o.quick {
		benchtime, scalingTime, peakTime, gorgoniaTime = "200ms", "3x", "200ms", "2x"
	}
	count := fmt.Sprint(o.count)
	steps := []step{
		{"FMA peak (benchmarks/peak)", func(r *runner, res *results) error {
			return r.goBench(res, "peak", ".", "-run", "^$", "-bench", ".", "-benchtime", peakTime, "-count", count, "-cpu", "1,2", "./benchmarks/peak/")
		}},
	}
	if o.has("digits") {
		if !o.skipPyTorch {
			steps = append(steps, step{"PyTorch (benchmarks/pytorch/bench.py)", func(r *runner, res *results) error {
				return r.pytorch(res, o.python, o.quick, !o.quick && !o.noTutorials)
			}})
		}
		steps = append(steps,
			step{"cnngen digits (benchmarks)", func(r *runner, res *results) error {
				if err := r.goBench(res, "digits", ".", "-run", "^$", "-bench", digitsBench, "-benchtime", benchtime, "-count", count, "./benchmarks/"); err != nil {
					return err
				}
				res.Benchstat = benchstat(filepath.Join(r.rawDir(), "digits.txt"))
				return nil
			}})
		if !o.quick && !o.noTutorials {
			steps = append(steps, step{"cnngen 2000-step tutorial run (BenchmarkDigitsTutorial)", func(r *runner, res *results) error {
				return r.goBench(res, "tutorial", ".", "-run", "^$", "-bench", "^BenchmarkDigitsTutorial$", "-benchtime", "1x", "-timeout", "1h", "./benchmarks/")
			}})
		}
		if !o.skipGorgonia {
			steps = append(steps, step{"Gorgonia (benchmarks/gorgonia, separate module)", func(r *runner, res *results) error {
				return r.goBench(res, "gorgonia", "benchmarks/gorgonia", "-run", "^$", "-bench", "^Benchmark(Forward|TrainStep)$", "-benchtime", gorgoniaTime, "-count", count, "-cpu", "1,2", ".")
			}})
		}
		steps = append(steps,
			step{"scaling (benchmarks/scaling)", func(r *runner, res *results) error {
				return r.goBench(res, "scaling", ".", "-run", "^$", "-bench", ".", "-benchtime", scalingTime, "-count", "1", "-timeout", "1h", "./benchmarks/scaling/")
			}},
		)
	}
	if o.has("suite") {
		steps = append(steps, suiteSteps(o)...)
	}
	steps = append(steps, step{"generated source size and build time", func(r *runner, res *results) error {
		return r.buildCost(res, o.has("digits"), o.has("suite"))
	}})
	return steps
}

// title-case helper for table cells.
func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "–"
	}
	return s
}
