package main

import (
	"bytes"
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
	writeSuiteText(w, res)
	if len(res.Ratios) > 0 {
		writeDigitsText(w, res)
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
			for _, s := range res.SuiteNets {
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

// writeDigitsText writes the digits ratio table and the scaling table.
func writeDigitsText(w io.Writer, res *results) {
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
}

func num(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

// writeMarkdownFile writes the run (see writeMarkdown) to path, under a
// title of its own.
func writeMarkdownFile(res *results, path, chart string) error {
	var buf bytes.Buffer
	fmt.Fprintln(&buf, "<!-- Written by go run ./benchmarks/compare -md; the figures are one run's. -->")
	fmt.Fprintln(&buf, "# cnngen benchmark results")
	fmt.Fprintln(&buf)
	writeMarkdown(&buf, res, chart)
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// recordRun inserts the run into the Markdown file at path (RESULTS.md) as a
// section of its own, above the first earlier run (its first "## "
// heading), so that the file keeps every run, newest first.
func recordRun(res *results, path string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var run bytes.Buffer
	fmt.Fprintf(&run, "## Run of %s: %s, %s\n\n", res.Started, res.Machine.CPU, res.Machine.ISA)
	fmt.Fprintf(&run, "Recorded by `go run ./benchmarks/compare -parts %s -record %s`.\n\n", strings.Join(res.Parts, ","), filepath.Base(path))
	writeMarkdown(&run, res, "")
	run.WriteString("\n")
	at := bytes.Index(old, []byte("\n## "))
	if at < 0 {
		at = len(old)
	} else {
		at++
	}
	out := append(append(append([]byte(nil), old[:at]...), run.Bytes()...), old[at:]...)
	return os.WriteFile(path, out, 0o644)
}

// writeMarkdown writes the machine (CPU, ISA, measured FMA peak), the
// commands, the tables, the chart link and benchstat's summary of the
// digits benchmarks.
func writeMarkdown(w io.Writer, res *results, chart string) {
	family := ""
	if res.Machine.Family != "" {
		family = fmt.Sprintf("family %s, model %s; ", res.Machine.Family, res.Machine.Model)
	}
	fmt.Fprintf(w, "- CPU: %s (%s%s CPUs, L2 %s), from `lscpu`; vector ISA: %s\n", res.Machine.CPU, family, res.Machine.CPUs, res.Machine.L2, res.Machine.ISA)
	fmt.Fprintf(w, "- FMA peak (benchmarks/peak, wall clock): %s\n", peakSummary(res))
	fmt.Fprintf(w, "- Go: %s\n", res.Machine.Go)
	steal := ""
	if res.Machine.Steal != "" {
		steal = fmt.Sprintf("; stolen by the hypervisor during the run: %s of the CPUs' time (/proc/stat)", res.Machine.Steal)
	}
	fmt.Fprintf(w, "- Run: %s to %s (UTC)%s; load average before: %s%s\n", res.Started, res.Finished, map[bool]string{true: ", -quick", false: ""}[res.Quick], res.Machine.LoadBefore, steal)
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
}

// peakSummary lists the measured FMA peaks: per vector width, 1 and 2
// cores.
func peakSummary(res *results) string {
	var parts []string
	for _, width := range []string{"zmm", "ymm"} {
		for _, procs := range []int{1, 2} {
			if pk := res.at("peak", "BenchmarkFMAPeak/"+width+"/per-P", procs); pk != nil {
				parts = append(parts, fmt.Sprintf("%s %d core(s) %s", width, procs, fmtGF(pk.median("GFLOP/s"))))
			}
		}
	}
	if len(parts) == 0 {
		return "not measured"
	}
	return strings.Join(parts, ", ")
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
