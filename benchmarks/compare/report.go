package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// benchstatVersion is the golang.org/x/perf version go.mod requires; the
// driver runs its benchstat on the digits results.
const benchstatVersion = "v0.0.0-20250813145418-2f7363a06fe1"

// benchstat runs benchstat on a raw output file, or says why it could not.
func benchstat(file string) string {
	cmd := exec.Command("go", "run", "golang.org/x/perf/cmd/benchstat@"+benchstatVersion, filepath.Base(file))
	cmd.Dir = filepath.Dir(file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Sprintf("benchstat failed: %v\n%s", err, lastLines(string(out), 5))
	}
	return string(out)
}

// writeText writes the ratio, scaling and build-cost tables as Markdown
// tables, which read well in a terminal too.
func writeText(w io.Writer, res *results) {
	fmt.Fprintln(w, "### Ratio table (cnngen against the issue's targets)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| comparison | cnngen | other | ratio | target | | cnngen configuration; other's |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, r := range res.Ratios {
		ratio, target := "–", "–"
		if !math.IsNaN(r.Ratio) {
			ratio = fmt.Sprintf("%.2f×", r.Ratio)
			if strings.Contains(r.What, "peak") {
				ratio = fmt.Sprintf("%.0f %%", 100*r.Ratio)
			}
		}
		if r.Target > 0 {
			target = fmt.Sprintf("≥ %g×", r.Target)
			if strings.Contains(r.What, "peak") {
				target = fmt.Sprintf("≥ %.0f %%", 100*r.Target)
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", r.What, r.Cnngen, r.Other, ratio, target, r.Met, strings.Trim(r.Note, "; "))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### Scaling (batch 256, synthetic data)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Time per sample; GFLOP/s counts 2·MACs per sample forward and 6·MACs per sample for a training step (forward, input gradient, weight gradient); GFLOP/cpu-s divides the same FLOPs by the process's CPU time.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| network | MACs/sample | engine | forward µs/sample | forward samples/s | forward GFLOP/s | forward GFLOP/cpu-s | train µs/sample | train samples/s | train GFLOP/s | train GFLOP/cpu-s |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range res.Scaling {
		engine := "generic"
		if s.Engine == "generated" {
			engine = fmt.Sprintf("generated %s, %d worker(s)", s.ISA, s.Workers)
		}
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s.Net, s.MACs, engine,
			num(s.Forward.NsPerSample/1e3, 2), num(s.Forward.SamplesPerSec, 0), num(s.Forward.GFLOPs, 2), num(s.Forward.GFLOPsCPU, 2),
			num(s.Train.NsPerSample/1e3, 2), num(s.Train.SamplesPerSec, 0), num(s.Train.GFLOPs, 2), num(s.Train.GFLOPsCPU, 2))
	}
	if len(res.BuildCost) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "### Generated source size and build time")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| network | MACs/sample | package | .go bytes | .s bytes | go build wall s | go build CPU s |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
		for _, c := range res.BuildCost {
			macs := math.NaN()
			for _, s := range res.Scaling {
				if s.Net == c.Net {
					macs = s.MACs
				}
			}
			fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %.2f | %.2f |\n", c.Net, num(macs, 0), c.Package, c.GoBytes, c.SBytes, c.Seconds, c.CPUSeconds)
		}
	}
	if len(res.Notes) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Skipped:")
		for _, n := range res.Notes {
			fmt.Fprintf(w, "- %s\n", strings.ReplaceAll(strings.TrimSpace(n), "\n", " / "))
		}
	}
}

func num(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

// writeMarkdownFile writes the machine, the commands, the tables, the chart
// link and benchstat's summary of the digits benchmarks to path.
func writeMarkdownFile(res *results, path, chart string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := f
	fmt.Fprintln(w, "<!-- Written by go run ./benchmarks/compare -md; the figures are one run's. -->")
	fmt.Fprintln(w, "# cnngen benchmark results")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- CPU: %s (%s CPUs, L2 %s), from `lscpu`\n", res.Machine.CPU, res.Machine.CPUs, res.Machine.L2)
	fmt.Fprintf(w, "- Go: %s\n", res.Machine.Go)
	fmt.Fprintf(w, "- Run: %s to %s (UTC)%s; load average before: %s\n", res.Started, res.Finished, map[bool]string{true: ", -quick", false: ""}[res.Quick], res.Machine.LoadBefore)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands the driver ran:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "```sh")
	for _, c := range res.Commands {
		fmt.Fprintln(w, c)
	}
	fmt.Fprintln(w, "```")
	fmt.Fprintln(w)
	writeText(w, res)
	if chart != "" {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "![throughput against network size](%s)\n", chart)
	}
	if res.Benchstat != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "### benchstat of the digits benchmarks")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "```")
		fmt.Fprint(w, res.Benchstat)
		fmt.Fprintln(w, "```")
	}
	return f.Close()
}

// writeJSON writes every figure of the run to path.
func writeJSON(res *results, path string) error {
	// JSON has no NaN: a figure that was not measured is written as 0, in
	// copies, so that the Markdown written after still says "–".
	copied := *res
	copied.Ratios = append([]ratioRow(nil), res.Ratios...)
	copied.Scaling = append([]scalingRow(nil), res.Scaling...)
	res = &copied
	clean := func(v *float64) {
		if math.IsNaN(*v) || math.IsInf(*v, 0) {
			*v = 0
		}
	}
	for i := range res.Ratios {
		r := &res.Ratios[i]
		clean(&r.Ratio)
		clean(&r.CnngenRaw)
		clean(&r.OtherRaw)
	}
	for i := range res.Scaling {
		s := &res.Scaling[i]
		for _, m := range []*measure{&s.Forward, &s.Train} {
			clean(&m.SamplesPerSec)
			clean(&m.NsPerSample)
			clean(&m.GFLOPs)
			clean(&m.GFLOPsCPU)
		}
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
