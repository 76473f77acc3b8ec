package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/datasets"
	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
)

// runCLI runs cnngen with args and returns its exit code and outputs.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestTrainCommand runs the default experiment for 3 steps end to end.
func TestTrainCommand(t *testing.T) {
	code, stdout, stderr := runCLI("train", "-steps", "3")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	want := []string{
		`^digits: 1617 training and 180 test samples from digits\.csv\.gz, seed 1, engine generic$`,
		`^sgd lr 0\.0001, loss summed over full batches of 1617, 3 steps$`,
		`^step    0  cost/sample 2\.[23]\d\d\d  train acc 0\.\d\d\d$`,
		`^step    2  cost/sample \d\.\d\d\d\d  train acc 0\.\d\d\d$`,
		`^test accuracy 0\.\d\d\d\d \(\d+/180\)$`,
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), stdout)
	}
	for i, w := range want {
		if !regexp.MustCompile(w).MatchString(lines[i]) {
			t.Errorf("line %d = %q, want a match for %s", i+1, lines[i], w)
		}
	}
	if !regexp.MustCompile(`^cnngen: 3 steps in \S+ \(\S+/step\)\n$`).MatchString(stderr) {
		t.Errorf("stderr = %q, want the timing line", stderr)
	}
}

// TestTrainCommandFlagsAfterFile gives the description as a file, with flags
// after it, and checks that the same seed gives the same log.
func TestTrainCommandFlagsAfterFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "digits.yaml")
	if err := os.WriteFile(file, examples.Digits, 0o644); err != nil {
		t.Fatal(err)
	}
	code, a, stderr := runCLI("train", file, "-steps", "2", "-log-every", "1", "-seed", "7")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(a, "seed 7,") || strings.Count(a, "\nstep ") != 2 {
		t.Errorf("output does not follow the flags after FILE:\n%s", a)
	}
	_, b, _ := runCLI("train", "-seed", "7", "-log-every", "1", file, "-steps", "2")
	if a != b {
		t.Errorf("two runs with seed 7 differ:\n%s\n%s", a, b)
	}
}

func TestTrainCommandSeeds(t *testing.T) {
	code, stdout, stderr := runCLI("train", "-seeds", "1-2", "-steps", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	want := []string{
		`^digits: 1797 samples, 2 seeds, engine generic$`,
		`^sgd lr 0\.0001, loss summed over full batches of 1617, 1 step$`,
		`^seed 1  test accuracy 0\.\d{4} \(\d+/180\)  final cost/sample \d\.\d{4}  train acc 0\.\d{3}$`,
		`^seed 2  test accuracy 0\.\d{4} \(\d+/180\)  final cost/sample \d\.\d{4}  train acc 0\.\d{3}$`,
		`^2 seeds: mean test accuracy 0\.\d{4}, min 0\.\d{4} \(seed [12]\)$`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), stdout)
	}
	for i, w := range want {
		if !regexp.MustCompile(w).MatchString(lines[i]) {
			t.Errorf("line %d = %q, want a match for %s", i+1, lines[i], w)
		}
	}
}

func TestTrainCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	row := strings.Repeat("0,", 64) + "3\n"
	if err := os.WriteFile(bad, []byte(row+strings.Repeat("0,", 63)+"0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string // the first line of stderr
	}{
		{[]string{"-engine", "fast"}, 2, `cnngen train: unknown engine "fast": want generic`},
		{[]string{"a.yaml", "b.yaml"}, 2, "cnngen train: want at most one description FILE, got 2: a.yaml b.yaml"},
		{[]string{"-seed", "1", "-seeds", "1-5"}, 2, "cnngen train: give -seed or -seeds, not both"},
		{[]string{"-seeds", "5-1"}, 2, `cnngen train: -seeds "5-1": "5-1" is not a range of seeds such as 1-5`},
		{[]string{"-steps", "0"}, 2, "cnngen train: -steps 0: want at least 1"},
		{[]string{"-scale", "2"}, 2, "cnngen train: -scale applies only to a -data file"},
		{[]string{"-steps", "x"}, 2, `invalid value "x" for flag -steps: parse error`},
		{[]string{"-data", bad, "-steps", "1"}, 1, "cnngen: " + bad + ":2: 64 columns, want 65 (64 values for 8x8x1, then the label)"},
		{[]string{filepath.Join(dir, "missing.yaml")}, 1, "cnngen: open " + filepath.Join(dir, "missing.yaml") + ": no such file or directory"},
	} {
		code, _, stderr := runCLI(append([]string{"train"}, tc.args...)...)
		first, _, _ := strings.Cut(stderr, "\n")
		if code != tc.code || first != tc.want {
			t.Errorf("train %s: exit %d, stderr %q\nwant exit %d, %q", strings.Join(tc.args, " "), code, stderr, tc.code, tc.want)
		}
	}
}

func TestParseSeeds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []uint64
	}{
		{"1-5", []uint64{1, 2, 3, 4, 5}},
		{"7", []uint64{7}},
		{"1,3, 8-9", []uint64{1, 3, 8, 9}},
		{"0-0", []uint64{0}},
	} {
		got, err := parseSeeds(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseSeeds(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "a", "1-", "-3", "3-1", "1,,2", "0-5000"} {
		if got, err := parseSeeds(in); err == nil {
			t.Errorf("parseSeeds(%q) = %v, want an error", in, got)
		}
	}
}

// TestDigitsLearns trains the reference experiment (examples/digits.yaml on
// the built-in digits, seed 1) for 200 full-batch steps on the generic
// engine. The PyTorch reference of the same recipe is at cost/sample ≈
// 0.10–0.12 and training accuracy ≈ 0.97 there.
func TestDigitsLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("200 full-batch steps on the generic engine take a while")
	}
	net, err := ir.Load(defaultDescription, examples.Digits)
	if err != nil {
		t.Fatal(err)
	}
	data, err := datasets.Digits()
	if err != nil {
		t.Fatal(err)
	}
	cfg := net.Train
	cfg.Steps, cfg.Epochs, cfg.Seed = 200, 0, 1
	train, test, err := data.Split(cfg.TestFraction, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	job := trainJob{net: net, data: data, engine: "generic"}
	var first runtime.StepLog
	res, err := job.run(train, test, cfg, runtime.TrainOptions{Log: func(s runtime.StepLog) {
		if s.Step == 0 {
			first = s
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("step 0: %v; step %d: %v; test accuracy %v; %v/step", first, res.Last.Step, res.Last, res.Test, perStep(res))
	if first.Cost < 2.1 || first.Cost > 2.5 {
		t.Errorf("step 0: cost/sample %.4f, want ≈ ln 10 = 2.30", first.Cost)
	}
	if res.Last.Cost > 0.2 || res.Last.TrainAccuracy() < 0.93 {
		t.Errorf("step 199: cost/sample %.4f, train acc %.3f; want < 0.2 and > 0.93", res.Last.Cost, res.Last.TrainAccuracy())
	}
	if res.Test.Accuracy() < 0.9 {
		t.Errorf("test accuracy %v after 200 steps, want > 0.9", res.Test)
	}
}
