package main

import (
	"bytes"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
)

// goOutput is a shortened go test -bench output in the format the driver
// reads.
const goOutput = `goos: linux
goarch: amd64
pkg: github.com/cnngen/cnngen/benchmarks
BenchmarkDigitsForward1/engine=generated/isa=avx2-2     	  100000	      9000 ns/op	      9000 cpu-ns/op	    111111 samples/s	       0 B/op	       0 allocs/op
BenchmarkDigitsForward1/engine=generated/isa=avx512-2   	  100000	      7000 ns/op	      7000 cpu-ns/op	    142857 samples/s	       0 B/op	       0 allocs/op
BenchmarkDigitsForward1/engine=generated/isa=avx512-2   	  100000	      8000 ns/op	      8000 cpu-ns/op	    125000 samples/s	       0 B/op	       0 allocs/op
BenchmarkDigitsForward1/engine=generated/isa=avx512-2   	  100000	     90000 ns/op	      8000 cpu-ns/op	    125000 samples/s	       0 B/op	       0 allocs/op
BenchmarkDigitsForward1/engine=frozen/isa=avx512-2      	  100000	      5000 ns/op	      5000 cpu-ns/op	    200000 samples/s	       0 B/op	       0 allocs/op
BenchmarkDigitsForward1/engine=generic-2                	   10000	    100000 ns/op	    100000 cpu-ns/op	     10000 samples/s	       0 B/op	       0 allocs/op
BenchmarkDigitsTrainStep/engine=generated/isa=avx512/workers=1-2 	 100	  20000000 ns/op	  20000000 cpu-ns/op	 80850 samples/s	       0 B/op	       0 allocs/op
BenchmarkDigitsTrainStep/engine=generated/isa=avx512/workers=2-2 	 100	  12000000 ns/op	  24000000 cpu-ns/op	134750 samples/s	       0 B/op	       0 allocs/op
BenchmarkDigitsTrainStep/engine=generic-2 	 3	 400000000 ns/op	 400000000 cpu-ns/op	 4042 samples/s	       0 B/op	       0 allocs/op
PASS
`

func TestSplitProcs(t *testing.T) {
	for _, c := range []struct {
		in   string
		name string
		p    int
	}{
		{"BenchmarkX/a=b-2", "BenchmarkX/a=b", 2},
		{"BenchmarkForward/batch=1", "BenchmarkForward/batch=1", 1},
		{"BenchmarkFMAPeak/zmm/per-P", "BenchmarkFMAPeak/zmm/per-P", 1},
		{"BenchmarkFMAPeak/zmm/per-P-2", "BenchmarkFMAPeak/zmm/per-P", 2},
	} {
		if name, p := splitProcs(c.in); name != c.name || p != c.p {
			t.Errorf("splitProcs(%q) = %q, %d; want %q, %d", c.in, name, p, c.name, c.p)
		}
	}
}

func TestRatios(t *testing.T) {
	res := &results{}
	n, err := parseGoBench(res, "digits", []byte(goOutput))
	if err != nil || n != 9 {
		t.Fatalf("parseGoBench: %d results, %v; want 9", n, err)
	}
	res.PyTorch = []pyRecord{
		{Threads: 1, Metric: "train_step_ms", Batch: 1617, Value: 42},
		{Threads: 2, Metric: "train_step_ms", Batch: 1617, Value: 36},
		{Threads: 1, Metric: "infer_latency_us", Batch: 1, Value: 31.5},
	}
	rows := ratios(res)
	find := func(what string) ratioRow {
		for _, r := range rows {
			if r.What == what {
				return r
			}
		}
		t.Fatalf("no row %q", what)
		return ratioRow{}
	}
	// Best generated step: avx512 with 2 workers, 12 ms; PyTorch's best 36 ms.
	if r := find("training step, batch 1617, vs PyTorch"); math.Abs(r.Ratio-3) > 1e-9 || r.Met != "met" || !strings.Contains(r.Note, "avx512, 2 worker(s)") {
		t.Errorf("step vs PyTorch: %+v", r)
	}
	// One sample: the Frozen copy's 5 µs against 31.5 µs; the training
	// Model's avx512 median (8 µs, not the 90 µs outlier) on its own row.
	if r := find("one-sample inference vs PyTorch"); math.Abs(r.Ratio-31.5/5) > 1e-9 || r.Met != "met" || !strings.HasPrefix(r.Note, "Frozen.Logits, avx512") {
		t.Errorf("one sample vs PyTorch: %+v", r)
	}
	if r := find("one-sample, training Model.Logits, vs PyTorch"); math.Abs(r.Ratio-31.5/8) > 1e-9 {
		t.Errorf("Model.Logits vs PyTorch: %+v", r)
	}
	if r := find("training step, batch 1617, vs generic runtime"); math.Abs(r.Ratio-400.0/12) > 1e-9 || r.Met != "met" {
		t.Errorf("step vs generic: %+v", r)
	}
	if r := find("one-sample inference vs Gorgonia"); r.Met != "not measured" {
		t.Errorf("Gorgonia without results: %+v", r)
	}
	res.Ratios = rows
	var buf bytes.Buffer
	writeText(&buf, res)
	if !strings.Contains(buf.String(), "| training step, batch 1617, vs PyTorch | 12.00 ms | 36.00 ms | 3.00× | ≥ 2.5× | met |") {
		t.Errorf("table:\n%s", buf.String())
	}
}

// suiteOutput is a shortened suite output: ResNet-8 on two ISA paths, and
// the FMA peak.
const suiteOutput = `goos: linux
goarch: amd64
BenchmarkSuite/net=resnet8/op=train/batch=64/isa=purego/workers=2-2 	1	900000000 ns/op	 12501632 MACs/sample	0 B/op	0 allocs/op
BenchmarkSuite/net=resnet8/op=train/batch=64/isa=avx2/workers=2-2 	3	100000000 ns/op	 12501632 MACs/sample	0 B/op	0 allocs/op
BenchmarkSuite/net=resnet8/op=train/batch=64/isa=avx512/workers=2-2 	3	80000000 ns/op	 12501632 MACs/sample	0 B/op	0 allocs/op
BenchmarkSuite/net=resnet8/op=train/batch=64/isa=avx512/workers=1-2 	3	130000000 ns/op	 12501632 MACs/sample	0 B/op	0 allocs/op
BenchmarkSuite/net=resnet8/op=latency/batch=1/isa=avx512/workers=1-2 	400	500000 ns/op	 12501632 MACs/sample	0 B/op	0 allocs/op
BenchmarkSuite/net=resnet8/op=latency/batch=1/isa=avx512/workers=2-2 	400	400000 ns/op	 12501632 MACs/sample	0 B/op	2 allocs/op
PASS
`

const peakOutput = `BenchmarkFMAPeak/zmm/per-P-2 	10	1000 ns/op	 340 GFLOP/s
BenchmarkFMAPeak/zmm/per-P 	10	1000 ns/op	 170 GFLOP/s
`

func TestSuiteRows(t *testing.T) {
	res := &results{}
	if _, err := parseGoBench(res, "suite", []byte(suiteOutput)); err != nil {
		t.Fatal(err)
	}
	if _, err := parseGoBench(res, "peak", []byte(peakOutput)); err != nil {
		t.Fatal(err)
	}
	res.Anchors = []pyRecord{
		{Impl: "pytorch", Net: "resnet8", Threads: 2, Metric: "train_step_ms", Batch: 64, Value: 120},
		{Impl: "onnxruntime", Net: "resnet8", Threads: 1, Metric: "infer_latency_us", Batch: 1, Value: 750},
		{Impl: "onnxruntime", Net: "lenet5", Threads: 1, Metric: "infer_latency_us", Batch: 1, Value: 20},
	}
	rows := suiteRows(res)
	find := func(what string) ratioRow {
		for _, r := range rows {
			if r.Net == "resnet8" && r.What == what {
				return r
			}
		}
		t.Fatalf("no row %q", what)
		return ratioRow{}
	}
	// The fastest vector path (avx512, 80 ms), not the pure-Go one.
	if r := find("training step, batch 64, 2 thread(s), vs PyTorch"); math.Abs(r.Ratio-1.5) > 1e-9 || r.Met != "missed" || !strings.Contains(r.Note, "avx512, 2 worker(s)") {
		t.Errorf("train vs PyTorch: %+v", r)
	}
	if r := find("training step, batch 64, 1 thread(s), vs PyTorch"); r.Met != "not measured" {
		t.Errorf("train without PyTorch's figure: %+v", r)
	}
	if r := find("one sample, 1 thread(s), vs ONNX Runtime"); math.Abs(r.Ratio-1.5) > 1e-9 || r.Target != 2 || r.Met != "missed" {
		t.Errorf("latency vs ORT: %+v", r)
	}
	if r := find("one sample, speed-up of 2 workers over 1"); math.Abs(r.Ratio-1.25) > 1e-9 || r.Met != "missed" {
		t.Errorf("latency speed-up: %+v", r)
	}
	// 6·12501632·64 FLOPs in 80 ms = 60.0 GFLOP/s of a 340 GFLOP/s peak.
	if r := find("training step, batch 64, 2 workers, FLOP/s / FMA peak"); math.Abs(r.Ratio-6*12501632*64/80e6/340) > 1e-9 || r.Target != 0.6 {
		t.Errorf("peak fraction: %+v", r)
	}
	res.Suite = rows
	res.SuiteNets = suiteNetRows(res)
	if len(res.SuiteNets) != 1 || res.SuiteNets[0].MaxAllocs != 2 || !strings.HasPrefix(res.SuiteNets[0].AllocsWhere, "op=latency/batch=1/isa=avx512/workers=2") {
		t.Errorf("suite nets: %+v", res.SuiteNets)
	}
	var buf bytes.Buffer
	writeText(&buf, res)
	if !strings.Contains(buf.String(), "| resnet8 | training step, batch 64, 2 thread(s), vs PyTorch | 80.00 ms | 120.00 ms | 1.50× | ≥ 2× | missed |") {
		t.Errorf("table:\n%s", buf.String())
	}
}

func TestRecordRun(t *testing.T) {
	path := t.TempDir() + "/RESULTS.md"
	if err := os.WriteFile(path, []byte("# results\n\nintro\n\n## Run 1\n\nold\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := &results{Started: "2026-12-07T11:00:00Z", Parts: []string{"suite"}, Machine: machine{CPU: "X", ISA: "AVX2+FMA (no AVX-512)"}}
	if err := recordRun(res, path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	s := string(b)
	newAt, oldAt := strings.Index(s, "## Run of 2026-12-07T11:00:00Z: X, AVX2+FMA (no AVX-512)"), strings.Index(s, "## Run 1")
	if !strings.HasPrefix(s, "# results\n\nintro\n\n") || newAt < 0 || oldAt < newAt || !strings.HasSuffix(s, "## Run 1\n\nold\n") {
		t.Errorf("recorded file:\n%s", s)
	}
}

// TestStealShare checks the reading of /proc/stat's aggregate line and the
// share of stolen time between two readings.
func TestStealShare(t *testing.T) {
	steal0, total0, ok := parseCPUTimes([]byte("cpu  862890 2101 95469 590464 2357 0 1014 30327 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n"))
	if !ok || steal0 != 30327 || total0 != 862890+2101+95469+590464+2357+1014+30327 {
		t.Fatalf("parseCPUTimes = %d, %d, %v", steal0, total0, ok)
	}
	if _, _, ok := parseCPUTimes([]byte("intr 1 2 3\n")); ok {
		t.Error("parseCPUTimes accepted a file without the cpu line")
	}
	if _, _, ok := parseCPUTimes([]byte("cpu  1 2 x 4 5 6 7 8\n")); ok {
		t.Error("parseCPUTimes accepted a value that is not a number")
	}
	if got := stealShare(steal0, total0, steal0+100, total0+800); got != "12.5 %" {
		t.Errorf("stealShare = %q, want 12.5 %%", got)
	}
	if got := stealShare(steal0, total0, steal0, total0); got != "" {
		t.Errorf("stealShare with no time between the readings = %q, want \"\"", got)
	}
}

func TestAnchorValueIsTheRoundsMedian(t *testing.T) {
	res := &results{Anchors: []pyRecord{
		{Impl: "onnxruntime", Net: "dscnn", Threads: 1, Metric: "infer_batch_ms", Batch: 256, Value: 27, Variant: "r1"},
		{Impl: "onnxruntime", Net: "dscnn", Threads: 2, Metric: "infer_batch_ms", Batch: 256, Value: 5},
		{Impl: "onnxruntime", Net: "dscnn", Threads: 1, Metric: "infer_batch_ms", Batch: 256, Value: 22, Variant: "r2"},
		{Impl: "onnxruntime", Net: "dscnn", Threads: 1, Metric: "infer_batch_ms", Batch: 256, Value: 31, Variant: "r3"},
	}}
	if v, variant := res.anchorValue("onnxruntime", "dscnn", "infer_batch_ms", 256, 1); v != 27 || variant != "r1" {
		t.Errorf("median of 27, 22, 31 = %v (%q), want 27 (r1)", v, variant)
	}
	if v, _ := res.anchorValue("pytorch", "dscnn", "infer_batch_ms", 256, 1); !math.IsNaN(v) {
		t.Errorf("no records: %v, want NaN", v)
	}
}

func TestSuiteStepsInterleaveRounds(t *testing.T) {
	var titles []string
	for _, s := range suiteSteps(options{count: 2}) {
		titles = append(titles, s.title)
	}
	want := []string{
		"cnngen suite (benchmarks/suite), round 1 of 2",
		"PyTorch on the suite (benchmarks/pytorch/suite.py), round 1 of 2",
		"ONNX Runtime on the suite (benchmarks/ort/bench.js), round 1 of 2",
		"cnngen suite (benchmarks/suite), round 2 of 2",
		"PyTorch on the suite (benchmarks/pytorch/suite.py), round 2 of 2",
		"ONNX Runtime on the suite (benchmarks/ort/bench.js), round 2 of 2",
	}
	if !slices.Equal(titles, want) {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(titles, "\n"), strings.Join(want, "\n"))
	}
}
