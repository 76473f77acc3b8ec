package main

import (
	"bytes"
	"math"
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
