package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
)

// runner runs the benchmark commands from the repository root, keeps each
// output in raw and records the commands it ran.
type runner struct {
	root     string
	raw      string
	log      io.Writer
	commands []string
	// replay, if set, is the raw directory of an earlier run whose
	// outputs are read instead of running the commands again.
	replay string
}

// repoRoot is the directory of the main module's go.mod.
func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the cnngen repository")
	}
	return filepath.Dir(mod), nil
}

// exec runs name with args in dir (relative to the root), writing its
// output to raw/<file> and echoing progress lines to the log. It returns the
// standard output.
func (r *runner) exec(file, dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = filepath.Join(r.root, dir)
	cmd.Env = append(os.Environ(), env...)
	shown := strings.Join(append(env, append([]string{name}, quoteArgs(args)...)...), " ")
	if dir != "." {
		shown = "(cd " + dir + " && " + shown + ")"
	}
	r.commands = append(r.commands, shown)
	fmt.Fprintf(r.log, "   $ %s\n", shown)
	if r.replay != "" {
		fmt.Fprintf(r.log, "   (read from %s)\n", filepath.Join(r.replay, file))
		return os.ReadFile(filepath.Join(r.replay, file))
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = io.MultiWriter(&stdout, &lineCounter{w: r.log})
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	fmt.Fprintf(r.log, "   (%.0f s)\n", time.Since(start).Seconds())
	if werr := os.WriteFile(filepath.Join(r.raw, file), append(stdout.Bytes(), stderr.Bytes()...), 0o644); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		tail := lastLines(stderr.String()+stdout.String(), 8)
		return stdout.Bytes(), fmt.Errorf("%s failed: %v\n%s", name, err, tail)
	}
	return stdout.Bytes(), nil
}

// goBench runs go test with args in dir and parses the benchmark results
// into res under the group name.
func (r *runner) goBench(res *results, group, dir string, args ...string) error {
	return r.goBenchTo(res, group, group+".txt", dir, args...)
}

// goBenchTo is goBench with the raw output in raw/<file>: a group that
// runs in several rounds adds each round's results to the others.
func (r *runner) goBenchTo(res *results, group, file, dir string, args ...string) error {
	out, err := r.exec(file, dir, nil, "go", append([]string{"test"}, args...)...)
	if err != nil {
		return err
	}
	n, perr := parseGoBench(res, group, out)
	if perr != nil {
		return perr
	}
	if n == 0 {
		return fmt.Errorf("no benchmark results in the output of go test %s", strings.Join(args, " "))
	}
	fmt.Fprintf(r.log, "   %d results\n", n)
	return nil
}

// parseGoBench reads Go benchmark output with benchfmt and adds every result
// to res.Go[group]; it returns how many results it read.
func parseGoBench(res *results, group string, out []byte) (int, error) {
	rd := benchfmt.NewReader(bytes.NewReader(out), group)
	n := 0
	for rd.Scan() {
		rec, ok := rd.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		// benchfmt drops the "Benchmark" prefix; keep the names as go test
		// prints them.
		name, procs := splitProcs("Benchmark" + rec.Name.String())
		key := fmt.Sprintf("%s@%d", name, procs)
		if res.Go == nil {
			res.Go = map[string]map[string]*bench{}
		}
		if res.Go[group] == nil {
			res.Go[group] = map[string]*bench{}
		}
		b := res.Go[group][key]
		if b == nil {
			b = &bench{Name: name, Procs: procs, Values: map[string][]float64{}}
			res.Go[group][key] = b
		}
		for _, v := range rec.Values {
			unit, val := v.Unit, v.Value
			if v.OrigUnit != "" {
				unit, val = v.OrigUnit, v.OrigValue
			}
			b.Values[unit] = append(b.Values[unit], val)
		}
		n++
	}
	return n, rd.Err()
}

// splitProcs splits "BenchmarkX/a=b-2" into "BenchmarkX/a=b" and 2; a name
// without the suffix ran with GOMAXPROCS 1.
func splitProcs(full string) (string, int) {
	i := strings.LastIndexByte(full, '-')
	if i > 0 && i < len(full)-1 {
		var p int
		if _, err := fmt.Sscanf(full[i+1:], "%d", &p); err == nil && fmt.Sprint(p) == full[i+1:] {
			return full[:i], p
		}
	}
	return full, 1
}

// pytorch runs bench.py and keeps its JSON records.
func (r *runner) pytorch(res *results, python string, quick, tutorial bool) error {
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil && r.replay == "" {
		return fmt.Errorf("%s has no torch (apt-get install python3-torch python3-numpy; see benchmarks/README.md)", python)
	}
	args := []string{"benchmarks/pytorch/bench.py", "--threads", "1,2"}
	if quick {
		args = append(args, "--quick")
	}
	if !tutorial {
		args = append(args, "--skip-tutorial")
	}
	out, err := r.exec("pytorch.txt", ".", nil, python, args...)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var rec pyRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			return fmt.Errorf("bench.py output: %v: %s", err, line)
		}
		res.PyTorch = append(res.PyTorch, rec)
	}
	if len(res.PyTorch) == 0 {
		return fmt.Errorf("bench.py printed no records:\n%s", lastLines(string(out), 5))
	}
	fmt.Fprintf(r.log, "   %d records\n", len(res.PyTorch))
	return nil
}

// lineCounter shows a dot per benchmark line so that a long run shows
// progress without flooding the terminal.
type lineCounter struct{ w io.Writer }

func (c *lineCounter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(p, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("Benchmark")) || bytes.HasPrefix(line, []byte("{")) {
			fmt.Fprint(c.w, ".")
		}
	}
	return len(p), nil
}

func quoteArgs(args []string) []string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " |$^*()") {
			a = "'" + a + "'"
		}
		q[i] = a
	}
	return q
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// machineInfo names the CPU, the Go version and the machine's load.
func machineInfo(root string) machine {
	var m machine
	if out, err := exec.Command("lscpu").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			switch strings.TrimSpace(k) {
			case "Model name":
				m.CPU = v
			case "CPU(s)":
				m.CPUs = v
			case "L2 cache":
				m.L2 = v
			case "CPU family":
				m.Family = v
			case "Model":
				m.Model = v
			}
		}
	}
	m.ISA = "none (pure Go)"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		flags := map[string]bool{}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "flags" {
				for _, f := range strings.Fields(v) {
					flags[f] = true
				}
				break
			}
		}
		switch {
		case flags["avx512f"] && flags["avx512bw"] && flags["avx512dq"] && flags["avx512vl"]:
			m.ISA = "AVX-512 (and AVX2+FMA)"
		case flags["avx2"] && flags["fma"]:
			m.ISA = "AVX2+FMA (no AVX-512)"
		}
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		m.Go = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadBefore = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

// cpuTimes returns the steal time and the total of the first line of
// /proc/stat (all CPUs, in clock ticks), or ok false where there is none.
func cpuTimes() (steal, total uint64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	return parseCPUTimes(b)
}

// parseCPUTimes reads the aggregate "cpu" line of /proc/stat's contents b:
// user nice system idle iowait irq softirq steal ..., of which steal is
// the eighth value.
func parseCPUTimes(b []byte) (steal, total uint64, ok bool) {
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, 0, false
	}
	for i, f := range fields[1:] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += v
		if i == 7 {
			steal = v
		}
	}
	return steal, total, true
}

// stealShare formats the share of the CPUs' time stolen between two
// readings of cpuTimes, or "" when there is nothing to compare.
func stealShare(steal0, total0, steal1, total1 uint64) string {
	if total1 <= total0 || steal1 < steal0 {
		return ""
	}
	return fmt.Sprintf("%.1f %%", 100*float64(steal1-steal0)/float64(total1-total0))
}
