package main

import (
	"bytes"
	"errors"
	"image"
	_ "image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cnngen/cnngen/datasets"
	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/generated/digits"
	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
	"github.com/cnngen/cnngen/viz"
)

// runCLI runs cnngen with args and returns its exit code and outputs.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestTrainCommand runs the default experiment for 3 steps end to end, on
// the compiled-in generated code and on the generic engine.
func TestTrainCommand(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		engine string
		stderr string
	}{
		{nil, "generated", `^cnngen: engine generated \((purego|avx2|avx512), \d+ workers?\)\n`},
		{[]string{"-workers", "1"}, "generated", `^cnngen: engine generated \((purego|avx2|avx512), 1 worker\)\n`},
		{[]string{"-engine", "generic"}, "generic", `^cnngen: engine generic \(reference runtime, 1 worker\)\n`},
	} {
		t.Run(tc.engine, func(t *testing.T) {
			code, stdout, stderr := runCLI(append([]string{"train", "-steps", "3"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			checkTrainLog(t, stdout, tc.engine)
			stderr = withoutProgress(stderr)
			if !regexp.MustCompile(tc.stderr + `cnngen: 3 steps in \S+ \(\S+/step\)\n$`).MatchString(stderr) {
				t.Errorf("stderr = %q, want the engine and the timing lines", stderr)
			}
		})
	}
}

// checkTrainLog checks the log of a 3-step run of the default experiment.
func checkTrainLog(t *testing.T, stdout, engine string) {
	t.Helper()
	want := []string{
		`^digits: 1617 training and 180 test samples from digits\.csv\.gz, seed 1, engine ` + engine + `$`,
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
		`^digits: 1797 samples, 2 seeds, engine generated$`,
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
		{[]string{"-engine", "fast"}, 2, `cnngen train: unknown engine "fast": want generated or generic`},
		{[]string{"-bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"-workers", "0"}, 2, "cnngen train: -workers 0: want at least 1"},
		{[]string{"-engine", "generic", "-workers", "2"}, 2, "cnngen train: -workers applies only to -engine generated"},
		{[]string{"-seeds", "1-2", "-save", "x.safetensors"}, 2, "cnngen train: -save does not go with -seeds"},
		{[]string{"-save", filepath.Join(dir, "no", "x.safetensors")}, 1, "cnngen: -save " + filepath.Join(dir, "no", "x.safetensors") + ": directory " + filepath.Join(dir, "no") + " does not exist"},
		{[]string{"-resume", filepath.Join(dir, "none.safetensors")}, 1, "cnngen: resuming " + filepath.Join(dir, "none.safetensors") + ": no such file or directory"},
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
		switch {
		case code == 1 && stderr != first+"\n":
			t.Errorf("train %s: stderr %q, want one line", strings.Join(tc.args, " "), stderr)
		case code == 2 && !strings.Contains(stderr, "usage: cnngen train") && !strings.Contains(stderr, "run 'cnngen train -h' for usage"):
			t.Errorf("train %s: stderr %q, want the usage", strings.Join(tc.args, " "), stderr)
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
// the built-in digits, seed 1) for 200 full-batch steps on the compiled-in
// generated code (a few seconds). The PyTorch reference of the same recipe
// is at cost/sample ≈ 0.10–0.12 and training accuracy ≈ 0.97 there.
func TestDigitsLearns(t *testing.T) {
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
	job := trainJob{net: net, data: data, engine: "generated", workers: 2, stderr: io.Discard}
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

// TestTrainSaveResume trains 6 steps straight and 3 + save + resume 3 more,
// on each engine, and requires the same checkpoint bit for bit: weights,
// optimizer state and metadata.
func TestTrainSaveResume(t *testing.T) {
	// The generic engine trains on 200 samples, to keep it quick.
	small := filepath.Join(t.TempDir(), "small.csv")
	writeDigitsCSV(t, small, 200)
	for _, tc := range []struct {
		engine string
		data   []string
	}{
		{"generated", nil},
		{"generic", []string{"-data", small}},
	} {
		t.Run(tc.engine, func(t *testing.T) {
			dir := t.TempDir()
			straight, part, resumed := filepath.Join(dir, "straight.safetensors"), filepath.Join(dir, "part.safetensors"), filepath.Join(dir, "resumed.safetensors")
			args := append([]string{"-engine", tc.engine}, tc.data...)
			// The same log cadence in every run, so that the learning
			// curves the checkpoints keep are the same too.
			args = append(args, "-log-every", "1")
			mustTrain(t, append(args, "-steps", "6", "-save", straight)...)
			mustTrain(t, append(args, "-steps", "3", "-save", part)...)
			_, stdout, stderr := mustTrain(t, append(args, "-resume", part, "-steps", "3", "-save", resumed)...)
			if !strings.Contains(stderr, "cnngen: resuming "+part+" at step 3 of 6\n") {
				t.Errorf("stderr does not say where the run resumes:\n%s", stderr)
			}
			if !strings.Contains(stdout, "\nstep    3  ") || !strings.Contains(stdout, "\nstep    5  ") || strings.Contains(stdout, "\nstep    2  ") {
				t.Errorf("the resumed run does not log steps 3 to 5:\n%s", stdout)
			}
			if !bytes.Equal(mustReadFile(t, straight), mustReadFile(t, resumed)) {
				t.Errorf("checkpoint after 3 + 3 steps differs from the one after 6 straight steps")
			}
			meta, err := checkpoint.Load(resumed, digits.New(), nil)
			if err != nil {
				t.Fatal(err)
			}
			curve, err := curveFromMeta(meta)
			if err != nil {
				t.Fatal(err)
			}
			var steps []int
			for _, p := range curve {
				steps = append(steps, p.Step)
			}
			if !slices.Equal(steps, []int{0, 1, 2, 3, 4, 5}) {
				t.Errorf("the resumed checkpoint's curve has steps %v, want 0 to 5", steps)
			}
		})
	}
}

// writeDigitsCSV writes the first n samples of the built-in digits to path
// as CSV (values already divided by 16).
func writeDigitsCSV(t *testing.T, path string, n int) {
	t.Helper()
	d, err := datasets.Digits()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	size := d.Shape.Size()
	for i := range n {
		for _, v := range d.X[i*size : (i+1)*size] {
			b.WriteString(strconv.FormatFloat(float64(v), 'g', -1, 32) + ",")
		}
		b.WriteString(strconv.Itoa(int(d.Y[i])) + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTrainResumeErrors resumes with a checkpoint of another network and
// one whose run is over.
func TestTrainResumeErrors(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "d.safetensors")
	mustTrain(t, "-steps", "2", "-save", ckpt)
	desc := filepath.Join(dir, "two.yaml")
	if err := os.WriteFile(desc, mustRead(t, "twoconv.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	finished := filepath.Join(dir, "short.yaml")
	src := strings.Replace(string(examples.Digits), "steps: 2000", "steps: 2", 1)
	if err := os.WriteFile(finished, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.safetensors")
	if err := os.WriteFile(garbage, []byte("\x00\x00\x00\x00\xff\xff\xff\x7fnot a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.safetensors")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-engine", "generic", "-resume", ckpt, desc}, "cnngen: checkpoint " + ckpt + ` is for network "digits" (tensor conv1.weight: the checkpoint's shape is [32 1 3 3], the model's is [16 1 2 2] (PyTorch layout)), not "twoconv": pass its description, e.g. examples/digits.yaml` + "\n"},
		{[]string{"-resume", ckpt, finished}, "cnngen: resuming " + ckpt + ": the run has already taken 2 of the recipe's 2 steps; give -steps N to train N more\n"},
		// The path once, not "resuming P: P: …" nor "resuming P: open P: …".
		{[]string{"-resume", garbage, "-steps", "1"}, "cnngen: resuming " + garbage + ": safetensors: header length"},
		{[]string{"-resume", missing, "-steps", "1"}, "cnngen: resuming " + missing + ": no such file or directory\n"},
		{[]string{"-init", garbage, "-steps", "1"}, "cnngen: -init " + garbage + ": safetensors: header length"},
	} {
		code, _, stderr := runCLI(append([]string{"train"}, tc.args...)...)
		if code != 1 || !strings.HasPrefix(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("train %s: exit %d, stderr %q; want exit 1 and one line starting %q", strings.Join(tc.args, " "), code, stderr, tc.want)
		}
	}
}

// TestTrainDiverges provokes NaNs with a learning rate of 1e6: the run stops
// with one message naming the step and the layer, and the checkpoint that
// -save names keeps its earlier contents.
func TestTrainDiverges(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "good.safetensors")
	mustTrain(t, "-steps", "2", "-save", ckpt)
	good := mustReadFile(t, ckpt)
	desc := filepath.Join(dir, "huge.yaml")
	src := strings.Replace(string(examples.Digits), "learning_rate: 0.0001", "learning_rate: 1e6", 1)
	if err := os.WriteFile(desc, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// The generic engine trains on 200 samples, to keep it quick.
	small := filepath.Join(dir, "small.csv")
	writeDigitsCSV(t, small, 200)
	for _, engine := range []string{"generated", "generic"} {
		args := []string{"train", "-engine", engine, "-steps", "50", "-save", ckpt, desc}
		if engine == "generic" {
			args = append(args, "-data", small)
		}
		code, _, stderr := runCLI(args...)
		stderr = withoutProgress(stderr)
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		last := lines[len(lines)-1]
		if code != 1 || !regexp.MustCompile(`^cnngen: step \d+: .*\(layer (conv1|dense1|dense2)[;)].*; `+regexp.QuoteMeta(ckpt)+` not written, it keeps what it held$`).MatchString(last) {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant exit 1 and a message naming the step, the layer and the checkpoint", engine, code, stderr)
		}
		if len(lines) != 2 { // the engine line, then the error
			t.Errorf("%s: stderr has %d lines, want the engine and the error:\n%s", engine, len(lines), stderr)
		}
		if !bytes.Equal(mustReadFile(t, ckpt), good) {
			t.Errorf("%s: the checkpoint changed", engine)
		}
	}
}

// TestTrainPlot draws the learning curve of a short run on each engine in
// process and checks the reports of the files written and the curve that
// the checkpoint keeps: every logged step with its test accuracy.
func TestTrainPlot(t *testing.T) {
	small := filepath.Join(t.TempDir(), "small.csv")
	writeDigitsCSV(t, small, 200)
	for _, tc := range []struct {
		engine string
		data   []string
	}{
		{"generated", nil},
		{"generic", []string{"-data", small}},
	} {
		t.Run(tc.engine, func(t *testing.T) {
			dir := t.TempDir()
			png, ckpt := filepath.Join(dir, "curve.png"), filepath.Join(dir, "ck.safetensors")
			_, _, stderr := mustTrain(t, append([]string{"-engine", tc.engine, "-steps", "3", "-log-every", "1", "-plot", png, "-save", ckpt}, tc.data...)...)
			checkCurvePNG(t, png)
			checkWrote(t, stderr, ckpt+" (checkpoint after step 2)", png+" (learning curve, 3 steps)")
			checkTestedCurve(t, ckpt, digits.New(), []int{0, 1, 2})
		})
	}
	// Without -log-every: the first and the last step.
	dir := t.TempDir()
	png, ckpt := filepath.Join(dir, "curve.png"), filepath.Join(dir, "ck.safetensors")
	mustTrain(t, "-steps", "3", "-plot", png, "-save", ckpt)
	checkTestedCurve(t, ckpt, digits.New(), []int{0, 2})
}

// checkCurvePNG checks that path holds a learning-curve picture.
func checkCurvePNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil || cfg.Width != viz.CurveWidth || cfg.Height != viz.CurveHeight {
		t.Errorf("curve: %+v, %v; want a %dx%d PNG", cfg, err, viz.CurveWidth, viz.CurveHeight)
	}
}

// checkWrote checks that stderr reports writing each of files, given as
// "PATH (WHAT)", in that order.
func checkWrote(t *testing.T, stderr string, files ...string) {
	t.Helper()
	var got []string
	for _, line := range strings.Split(stderr, "\n") {
		if rest, ok := strings.CutPrefix(line, "cnngen: wrote "); ok {
			got = append(got, rest)
		}
	}
	if !slices.Equal(got, files) {
		t.Errorf("stderr reports writing %q, want %q:\n%s", got, files, stderr)
	}
}

// checkTestedCurve checks that the learning curve kept in the checkpoint
// ckpt (loaded into m) has the steps want, each with a test accuracy.
func checkTestedCurve(t *testing.T, ckpt string, m runtime.Model, want []int) {
	t.Helper()
	meta, err := checkpoint.Load(ckpt, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	curve, err := curveFromMeta(meta)
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	for _, p := range curve {
		steps = append(steps, p.Step)
		if !p.Tested || p.TestAccuracy < 0 || p.TestAccuracy > 1 {
			t.Errorf("%s: step %d has no test accuracy (%+v)", ckpt, p.Step, p)
		}
	}
	if !slices.Equal(steps, want) {
		t.Errorf("%s: the curve has steps %v, want %v", ckpt, steps, want)
	}
}

// TestTrainChildProcess trains a network that is not compiled in: generated,
// built and run as a child process; then saves, resumes and saves again.
func TestTrainChildProcess(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	dir := t.TempDir()
	desc := filepath.Join(dir, "tanh_avgpool.yaml")
	if err := os.WriteFile(desc, mustRead(t, "tanh_avgpool.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	ckpt, png := filepath.Join(dir, "t.safetensors"), filepath.Join(dir, "t.png")
	_, stdout, stderr := mustTrain(t, "-steps", "2", "-workers", "1", "-log-every", "1", "-save", ckpt, "-plot", png, desc)
	if !regexp.MustCompile(`^cnngen: engine generated \((purego|avx2|avx512), 1 worker; \S+ is not compiled in: generating, building and running it in a child process\)\n`).MatchString(stderr) {
		t.Errorf("stderr does not name the child-process engine:\n%s", stderr)
	}
	if !regexp.MustCompile(`(?m)^step    1  cost/sample \d\.\d{4}  train acc \d\.\d{3}\ntest accuracy `).MatchString(stdout) {
		t.Errorf("log:\n%s", stdout)
	}
	// The child measures the test accuracy at every logged step.
	checkCurvePNG(t, png)
	checkWrote(t, stderr, ckpt+" (checkpoint after step 1)", png+" (learning curve, 2 steps)")
	checkTestedCurve(t, ckpt, mustGeneric(t, desc), []int{0, 1})
	_, stdout, stderr = mustTrain(t, "-resume", ckpt, "-steps", "1", "-log-every", "1", "-save", ckpt, "-plot", png, desc)
	if !strings.Contains(stdout, "\nstep    2  ") {
		t.Errorf("the resumed run does not log step 2:\n%s", stdout)
	}
	checkWrote(t, stderr, ckpt+" (checkpoint after step 2)", png+" (learning curve, 3 steps)")
	checkTestedCurve(t, ckpt, mustGeneric(t, desc), []int{0, 1, 2})
	meta, err := checkpoint.Load(ckpt, mustGeneric(t, desc), nil)
	if err != nil || meta[checkpoint.MetaOptimizerSteps] != "3" {
		t.Errorf("checkpoint after 2 + 1 steps: %v, %v; want 3 optimizer steps", meta, err)
	}
}

// TestTrainInterrupt sends the process an interrupt during a run with
// -save: the run stops after the current step, saves and exits 0. A
// network in a child process gets the interrupt passed on.
func TestTrainInterrupt(t *testing.T) {
	if goruntime.GOOS == "windows" {
		t.Skip("no SIGINT to oneself on Windows")
	}
	dir := t.TempDir()
	child := filepath.Join(dir, "tanh_avgpool.yaml")
	if err := os.WriteFile(child, mustRead(t, "tanh_avgpool.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, desc := range []string{defaultDescription, child} {
		if desc == child {
			if _, err := exec.LookPath("go"); err != nil {
				t.Skip("needs the go command")
			}
		}
		ckpt := filepath.Join(dir, "stopped.safetensors")
		var stdout bytes.Buffer
		var stderr lockedBuffer // the interrupt notice comes from another goroutine
		// The interrupt goes out as step 1 is logged; the run stops after
		// the step that is running when it arrives.
		w := &hookWriter{w: &stdout, match: "step    1 ", hook: func() {
			p, err := os.FindProcess(os.Getpid())
			if err == nil {
				err = p.Signal(os.Interrupt)
			}
			if err != nil {
				t.Error(err)
			}
		}}
		args := []string{"train", "-steps", "100000", "-log-every", "1", "-save", ckpt}
		if desc == child {
			args = append(args, desc)
		}
		code := run(args, w, &stderr)
		if code != 0 {
			t.Fatalf("%s: exit %d:\n%s", desc, code, stderr.String())
		}
		m := regexp.MustCompile(`cnngen: stopped after step (\d+) of 100000\n`).FindStringSubmatch(stderr.String())
		if m == nil || !strings.Contains(stderr.String(), "cnngen: interrupted") {
			t.Fatalf("%s: stderr does not report the interrupt:\n%s", desc, stderr.String())
		}
		last, _ := strconv.Atoi(m[1])
		if last > 1000 {
			t.Errorf("%s: the run went on to step %d", desc, last)
		}
		file := desc
		if desc == defaultDescription {
			file = filepath.Join(dir, "digits.yaml")
			if err := os.WriteFile(file, examples.Digits, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		meta, err := checkpoint.Load(ckpt, mustGeneric(t, file), nil)
		if err != nil || meta[checkpoint.MetaOptimizerSteps] != strconv.Itoa(last+1) {
			t.Errorf("%s: checkpoint of the stopped run: %v, %v; want %d optimizer steps", desc, meta, err, last+1)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// hookWriter calls hook once, on the first write containing match.
type hookWriter struct {
	w     io.Writer
	match string
	hook  func()
	done  bool
}

func (h *hookWriter) Write(p []byte) (int, error) {
	if !h.done && bytes.Contains(p, []byte(h.match)) {
		h.done = true
		h.hook()
	}
	return h.w.Write(p)
}

// TestISAError checks that a CNNGEN_ISA the program cannot honour stops
// every command with one line and exit 1: through the hook, and for real in
// a child process (the variable is read at start-up).
func TestISAError(t *testing.T) {
	if os.Getenv("CNNGEN_TEST_ISA_CHILD") == "1" {
		os.Exit(run([]string{"summary", "../../examples/digits.yaml"}, os.Stdout, os.Stderr))
	}
	defer func(f func() error) { isaError = f }(isaError)
	isaError = func() error { return errors.New("CNNGEN_ISA=avx9: unknown instruction set") }
	for _, cmd := range []string{"train", "summary", "eval"} {
		code, _, stderr := runCLI(cmd)
		if code != 1 || stderr != "cnngen: CNNGEN_ISA=avx9: unknown instruction set\n" {
			t.Errorf("%s: exit %d, stderr %q", cmd, code, stderr)
		}
	}
	isaError = func() error { return nil }

	cmd := exec.Command(os.Args[0], "-test.run=^TestISAError$")
	cmd.Env = append(os.Environ(), "CNNGEN_TEST_ISA_CHILD=1", "CNNGEN_ISA=bogus")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || stderr.String() != "cnngen: CNNGEN_ISA=bogus: unknown instruction set \"bogus\": want purego, avx2, avx512\n" {
		t.Errorf("CNNGEN_ISA=bogus: %v, stderr %q; want exit 1 and one line", err, stderr.String())
	}
}

// progressLine matches the plain progress lines that a run slower than
// plainEvery prints (a loaded machine, the race detector).
var progressLine = regexp.MustCompile(`(?m)^cnngen: step \d+/\d+ \(.*\n`)

// withoutProgress removes the progress lines from stderr.
func withoutProgress(stderr string) string {
	return progressLine.ReplaceAllString(stderr, "")
}

// mustTrain runs cnngen train with args and fails the test unless it
// succeeds.
func mustTrain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	code, stdout, stderr := runCLI(append([]string{"train"}, args...)...)
	if code != 0 {
		t.Fatalf("train %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return code, stdout, stderr
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustGeneric builds the network of the description file on the generic
// engine.
func mustGeneric(t *testing.T, file string) *runtime.Generic {
	t.Helper()
	net, err := ir.Load(file, mustReadFile(t, file))
	if err != nil {
		t.Fatal(err)
	}
	g, err := runtime.NewGeneric(net.Arch())
	if err != nil {
		t.Fatal(err)
	}
	return g
}
