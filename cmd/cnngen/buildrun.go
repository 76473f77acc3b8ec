package main

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/cnngen/cnngen/gen/emit"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/generated/digits"
	"github.com/cnngen/cnngen/runtime"
)

// Training on generated code.
//
// The digits network is compiled into cnngen (generated/digits): a
// description whose architecture equals it (the built-in example, or a copy
// of it) trains in process. Any other description is generated into a
// temporary module, together with a small trainer (trainerMain) that runs
// runtime.Train — the same loop as in process — on the data it is handed;
// the module is built with the go command and run as a child process that
// streams its log and result back as JSON lines.
//
// The temporary module must build against this module's runtime. It finds
// it, in order:
//
//  1. $CNNGEN_SRC, a checkout of github.com/cnngen/cnngen: a replace
//     directive points at it;
//  2. the source tree this binary was built from (go build, go run or go
//     install from a checkout), located by the path of this file at build
//     time: a replace directive points at it;
//  3. the module version recorded in the binary (go install
//     github.com/cnngen/cnngen/cmd/cnngen@vX.Y.Z): the module requires
//     that version, which the go command finds in its module cache (where
//     go install put it) or fetches from the module proxy.
//
// A binary built with -trimpath from a development tree and moved away has
// none of these; it says so and suggests CNNGEN_SRC or -engine generic.
// Embedding the runtime's sources in the binary would lift that last
// limitation; it needs a package at the module root (go:embed cannot reach
// ../../runtime from here), which is the lead's to add.

// trainDirPrefix starts the name of a child trainer's temporary directory,
// followed by the id of the cnngen process that made it and a dash.
const trainDirPrefix = "cnngen-train-pid"

// removeDeadTrainDirs removes, from the temporary directory, the child
// trainers' directories (binary and data) that earlier cnngen runs left
// behind when they were killed: those named trainDirPrefix, a process id
// and a dash, whose process is no longer alive (processAlive). It never
// touches a directory of a live process or any other file; it is best
// effort and reports nothing. Process ids are those of this system's (or
// container's) process namespace: a temporary directory shared with
// another namespace could hold directories of live runs there, which this
// would take for dead.
func removeDeadTrainDirs() {
	tmp := os.TempDir()
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	self := os.Getpid()
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), trainDirPrefix)
		if !ok || !e.IsDir() { // IsDir is false for a symbolic link
			continue
		}
		id, suffix, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(id)
		if !ok || err != nil || pid <= 0 || pid == self || suffix == "" || strings.Trim(suffix, "0123456789") != "" {
			continue
		}
		if processAlive(pid) {
			continue
		}
		os.RemoveAll(filepath.Join(tmp, e.Name()))
	}
}

// modulePath is this module's path.
const modulePath = "github.com/cnngen/cnngen"

// compiledModel returns a model of net on code compiled into cnngen, or nil
// when cnngen has none for it.
func compiledModel(net *ir.Network) runtime.Model {
	if reflect.DeepEqual(net.Arch(), digits.Arch()) {
		return digits.New()
	}
	return nil
}

// generatedModel returns the model that trainGenerated trains for net: the
// compiled-in generated model when cnngen has one, else a generic engine
// that holds the parameters (for evaluation and checkpoints) while the
// training itself runs on generated code in a child process.
func generatedModel(net *ir.Network) (runtime.Model, error) {
	if m := compiledModel(net); m != nil {
		return m, nil
	}
	return runtime.NewGeneric(net.Arch())
}

// trainGenerated is runtime.Train(m, train, test, cfg, opt) on generated
// code, for m from generatedModel(net), with workers workers. A compiled-in
// model trains in process. Otherwise the network's package is generated and
// built into a child trainer (see above), which trains from the same seed
// exactly as runtime.Train would, using workers workers: the job it is handed
// carries the data, the recipe and, to resume (opt.Resume), m's parameters
// and opt.Optimizer's state. Its log entries go to opt.Log as they come; when
// opt.Stop turns true the child is sent an interrupt, on which it stops after
// its current step (as it does on a Ctrl-C of its own). Its final parameters
// are copied into m and its optimizer state into Result.Optimizer, so that
// the caller saves checkpoints as for a model in process.
//
// The child's weights are out of the caller's reach while it trains, so the
// test accuracy of a learning curve is measured by the child: when curve is
// not nil, the child evaluates the test set at the steps curve names and
// each accuracy goes to curve.record before the log entry of its step goes
// to opt.Log. A model in process ignores curve (the caller evaluates m in
// its log callback).
func trainGenerated(net *ir.Network, m runtime.Model, train, test *runtime.Dataset, cfg runtime.TrainConfig, opt runtime.TrainOptions, workers int, curve *testCurve, stderr io.Writer) (*runtime.Result, error) {
	if _, ok := m.(*runtime.Generic); !ok {
		return runtime.Train(m, train, test, cfg, opt)
	}
	job := trainerJob{Train: train, Test: test, Config: cfg, LogEvery: opt.LogEvery, Workers: workers, Resume: opt.Resume, TestEvery: -1}
	var record func(step int, accuracy float64)
	if curve != nil && test != nil && test.Len() > 0 && !test.Regression() {
		job.TestEvery, record = max(curve.every, 0), curve.record
	}
	if opt.Resume {
		for _, p := range m.Params() {
			job.Params = append(job.Params, p.Value)
		}
		job.Buffers = runtime.SaveBuffers(m)
		if opt.Optimizer != nil {
			s := opt.Optimizer.State()
			job.Optimizer = &s
		}
	} else if opt.Optimizer != nil {
		return nil, fmt.Errorf("network %s runs on generated code in a child process, which makes its own optimizer", net.Name)
	}
	// The directory's name carries this process's id, so that a later run
	// removes it if this one is killed (removeDeadTrainDirs).
	dir, err := os.MkdirTemp("", trainDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin, err := buildTrainer(net, dir)
	if err != nil {
		return nil, err
	}
	jobFile := filepath.Join(dir, "job.gob")
	if err := writeJob(jobFile, job); err != nil {
		return nil, err
	}
	out, err := runTrainer(bin, jobFile, opt.Log, record, opt.Stop, stderr)
	if err != nil {
		return nil, err
	}
	params := m.Params()
	if len(out.Params) != len(params) {
		return nil, fmt.Errorf("the generated trainer returned %d parameters, want %d", len(out.Params), len(params))
	}
	for i, p := range params {
		if len(out.Params[i]) != len(p.Value) {
			return nil, fmt.Errorf("the generated trainer returned %d values for %s, want %d", len(out.Params[i]), p.Name, len(p.Value))
		}
		copy(p.Value, out.Params[i])
	}
	if err := runtime.RestoreBuffers(m, out.Buffers); err != nil {
		return nil, fmt.Errorf("the generated trainer's buffers: %v", err)
	}
	optimizer, err := runtime.NewOptimizerForRun(cfg.Optimizer, params, max(out.Last.Steps, 1))
	if err != nil {
		return nil, err
	}
	if err := optimizer.SetState(out.Optimizer); err != nil {
		return nil, fmt.Errorf("the generated trainer's optimizer state: %v", err)
	}
	return &runtime.Result{Steps: out.Steps, Stopped: out.Stopped, Last: out.Last, Test: out.Test, TestError: out.TestError, Duration: out.Duration, Optimizer: optimizer}, nil
}

// testCurve asks the child trainer for the test accuracy at the steps of a
// learning curve: the first, the last and every every-th (only the first and
// last for every 0), as progress.Hook logs them. record receives each
// step's accuracy.
type testCurve struct {
	every  int
	record func(step int, accuracy float64)
}

// trainerJob is what the child trainer reads: the data, the recipe, the
// worker count, the steps at which to measure the test accuracy (TestEvery
// as testCurve.every; negative: never) and, to resume a run, the
// parameters, buffers (batch norm running statistics) and optimizer state
// to start from.
type trainerJob struct {
	Train, Test *runtime.Dataset
	Config      runtime.TrainConfig
	LogEvery    int
	TestEvery   int
	Workers     int
	Resume      bool
	Params      [][]float32
	Buffers     runtime.BufferState
	Optimizer   *runtime.OptimizerState
}

// trainerResult is the child trainer's outcome: runtime.Result without the
// optimizer, whose state travels instead, and the trained parameters (in
// Params order) and buffers.
type trainerResult struct {
	Steps     int
	Stopped   bool
	Last      runtime.StepLog
	Test      runtime.Score
	TestError runtime.RegressionScore
	Duration  time.Duration
	Params    [][]float32
	Buffers   runtime.BufferState
	Optimizer runtime.OptimizerState
}

// trainerMessage is one JSON line from the child trainer: a log entry (with
// the test accuracy at its step, when the job asked for it), the result or
// an error.
type trainerMessage struct {
	Log          *runtime.StepLog `json:",omitempty"`
	TestAccuracy *float64         `json:",omitempty"`
	Result       *trainerResult   `json:",omitempty"`
	Error        string           `json:",omitempty"`
}

// trainerMain is the child trainer's main package. It imports the generated
// package as cnngenrun/model; its first argument is the job file. With a
// second argument "watch-stdin" it exits as soon as its standard input
// reaches end of file: cnngen holds the writing end, so that the child ends
// with its parent on every system (on Linux the parent's death also kills
// it, see setParentDeath). It mirrors trainerJob, trainerResult and
// trainerMessage.
const trainerMain = `// Command cnngenrun trains the generated model with cnngen's runtime; cnngen
// train builds and runs it for descriptions that are not compiled in.
package main

import (
	"encoding/gob"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"cnngenrun/model"

	"github.com/cnngen/cnngen/runtime"
)

type job struct {
	Train, Test *runtime.Dataset
	Config      runtime.TrainConfig
	LogEvery    int
	TestEvery   int
	Workers     int
	Resume      bool
	Params      [][]float32
	Buffers     runtime.BufferState
	Optimizer   *runtime.OptimizerState
}

type result struct {
	Steps     int
	Stopped   bool
	Last      runtime.StepLog
	Test      runtime.Score
	TestError runtime.RegressionScore
	Duration  time.Duration
	Params    [][]float32
	Buffers   runtime.BufferState
	Optimizer runtime.OptimizerState
}

type message struct {
	Log          *runtime.StepLog ` + "`json:\",omitempty\"`" + `
	TestAccuracy *float64         ` + "`json:\",omitempty\"`" + `
	Result       *result          ` + "`json:\",omitempty\"`" + `
	Error        string           ` + "`json:\",omitempty\"`" + `
}

func main() {
	if len(os.Args) > 2 && os.Args[2] == "watch-stdin" {
		// cnngen holds the other end of stdin open while it runs: end
		// of file means it is gone, and so is anyone to train for.
		go func() {
			io.Copy(io.Discard, os.Stdin)
			fmt.Fprintln(os.Stderr, "cnngenrun: cnngen is gone: stopping")
			os.Exit(3)
		}()
	}
	out := json.NewEncoder(os.Stdout)
	if err := run(out); err != nil {
		out.Encode(message{Error: err.Error()})
		os.Exit(1)
	}
}

func run(out *json.Encoder) error {
	// Interrupts (a Ctrl-C on the terminal, or cnngen passing one on) stop
	// the run after the current step; cnngen saves the result.
	var stop atomic.Bool
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		for range signals {
			stop.Store(true)
		}
	}()

	f, err := os.Open(os.Args[1])
	if err != nil {
		return err
	}
	defer f.Close()
	var j job
	if err := gob.NewDecoder(f).Decode(&j); err != nil {
		return err
	}
	m := model.New()
	m.SetWorkers(j.Workers)
	opt := runtime.TrainOptions{Resume: j.Resume, Stop: stop.Load}
	if j.Resume {
		params := m.Params()
		if len(j.Params) != len(params) {
			return fmt.Errorf("resuming: %d parameters, want %d", len(j.Params), len(params))
		}
		for i, p := range params {
			if len(j.Params[i]) != len(p.Value) {
				return fmt.Errorf("resuming: %d values for %s, want %d", len(j.Params[i]), p.Name, len(p.Value))
			}
			copy(p.Value, j.Params[i])
		}
		if err := runtime.RestoreBuffers(m, j.Buffers); err != nil {
			return fmt.Errorf("resuming: %v", err)
		}
		if j.Optimizer != nil {
			o, err := runtime.NewOptimizerForRun(j.Config.Optimizer, params, runTotal(j))
			if err != nil {
				return err
			}
			if err := o.SetState(*j.Optimizer); err != nil {
				return err
			}
			opt.Optimizer = o
		}
	}
	var logErr error
	var eval runtime.Evaluator
	opt.LogEvery = j.LogEvery
	opt.Log = func(s runtime.StepLog) {
		msg := message{Log: &s}
		if testAt(j, s) && logErr == nil {
			// The learning curve's test accuracy at this step, measured
			// here because cnngen cannot reach the weights.
			score, err := eval.Evaluate(m, j.Test)
			if err != nil {
				logErr = fmt.Errorf("the test accuracy at step %d: %v", s.Step, err)
			} else {
				a := score.Accuracy()
				msg.TestAccuracy = &a
			}
		}
		if err := out.Encode(msg); err != nil && logErr == nil {
			logErr = err
		}
	}
	res, err := runtime.Train(m, j.Train, j.Test, j.Config, opt)
	if err != nil {
		return err
	}
	if logErr != nil {
		return logErr
	}
	r := &result{Steps: res.Steps, Stopped: res.Stopped, Last: res.Last, Test: res.Test, TestError: res.TestError, Duration: res.Duration, Optimizer: res.Optimizer.State(), Buffers: runtime.SaveBuffers(m)}
	for _, p := range m.Params() {
		r.Params = append(r.Params, p.Value)
	}
	return out.Encode(message{Result: r})
}

// testAt reports whether the job asks for the test accuracy at step s.
func testAt(j job, s runtime.StepLog) bool {
	if j.TestEvery < 0 || j.Test == nil || j.Test.Len() == 0 {
		return false
	}
	return s.Step == 0 || s.Step == s.Steps-1 || (j.TestEvery > 0 && s.Step%j.TestEvery == 0)
}

// runTotal is the number of steps of the job's run (for the cosine schedule).
func runTotal(j job) int {
	c := j.Config
	if c.Steps > 0 {
		return c.Steps
	}
	n := j.Train.Len()
	if c.BatchSize == 0 || c.BatchSize >= n {
		return c.Epochs
	}
	return c.Epochs * ((n + c.BatchSize - 1) / c.BatchSize)
}
`

// buildTrainer writes the temporary module for net into dir and builds the
// trainer, returning the binary's path.
func buildTrainer(net *ir.Network, dir string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("network %s is not compiled into cnngen, and running it on generated code needs the go command, which is not on PATH (install Go, or use -engine generic)", net.Name)
	}
	req, err := runtimeRequirement()
	if err != nil {
		return "", err
	}
	files, err := emit.Generate(net, emit.Options{Package: "model"})
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "model"), 0o755); err != nil {
		return "", err
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, "model", f.Name), f.Contents, 0o644); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(trainerMain), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), req.goMod(), 0o644); err != nil {
		return "", err
	}
	if req.goSum != nil {
		if err := os.WriteFile(filepath.Join(dir, "go.sum"), req.goSum, 0o644); err != nil {
			return "", err
		}
	}
	bin := filepath.Join(dir, "cnngenrun")
	if goruntime.GOOS == "windows" {
		bin += ".exe"
	}
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	cmd.Dir = dir
	// -mod=mod lets the go command complete go.sum (from the module cache
	// or the proxy) when the module is required by version.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the generated code of %s against %s: %v\n%s", net.Name, req, err, strings.TrimSpace(out.String()))
	}
	return bin, nil
}

// requirement is how the temporary module reaches this module.
type requirement struct {
	version string // required version (v0.0.0 with a replace)
	replace string // source tree, or ""
	goSum   []byte // the source tree's go.sum, or nil
}

func (r requirement) String() string {
	if r.replace != "" {
		return modulePath + " in " + r.replace
	}
	return modulePath + " " + r.version
}

// goMod is the temporary module's go.mod. Paths are quoted, as go.mod
// allows, so that spaces in them are harmless.
func (r requirement) goMod() []byte {
	var b bytes.Buffer
	b.WriteString("module cnngenrun\n\ngo 1.26\n\n")
	b.WriteString("require " + modulePath + " " + r.version + "\n")
	if r.replace != "" {
		b.WriteString("\nreplace " + modulePath + " => " + strconv.Quote(r.replace) + "\n")
	}
	return b.Bytes()
}

// runtimeRequirement finds this module for the temporary module (see the
// comment at the top of this file).
func runtimeRequirement() (requirement, error) {
	if dir := os.Getenv("CNNGEN_SRC"); dir != "" {
		r, err := sourceTree(dir)
		if err != nil {
			return requirement{}, fmt.Errorf("CNNGEN_SRC: %v", err)
		}
		return r, nil
	}
	if _, file, _, ok := goruntime.Caller(0); ok && filepath.IsAbs(file) {
		if r, err := sourceTree(filepath.Join(filepath.Dir(file), "..", "..")); err == nil {
			return r, nil
		}
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Path == modulePath {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			return requirement{version: v}, nil
		}
	}
	return requirement{}, errors.New("cannot find the cnngen runtime to build generated code against: this binary has neither its source tree nor a module version; set CNNGEN_SRC to a checkout of " + modulePath + ", or use -engine generic")
}

// sourceTree checks that dir holds this module's source and returns the
// requirement that replaces the module with it.
func sourceTree(dir string) (requirement, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return requirement{}, err
	}
	mod, err := os.ReadFile(filepath.Join(abs, "go.mod"))
	if err != nil {
		return requirement{}, err
	}
	first, _, _ := strings.Cut(string(mod), "\n")
	if strings.TrimSpace(first) != "module "+modulePath {
		return requirement{}, fmt.Errorf("%s is not a checkout of %s", abs, modulePath)
	}
	if _, err := os.Stat(filepath.Join(abs, "runtime")); err != nil {
		return requirement{}, fmt.Errorf("%s has no runtime directory", abs)
	}
	sum, err := os.ReadFile(filepath.Join(abs, "go.sum"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return requirement{}, err
	}
	return requirement{version: "v0.0.0", replace: abs, goSum: sum}, nil
}

func writeJob(path string, j trainerJob) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := gob.NewEncoder(w).Encode(j); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runTrainer runs the child trainer on jobFile, passing its log entries to
// log, the test accuracies that come with them to test (before the entry;
// test may be nil) and its standard error to stderr, and returns its
// result. After each
// log entry it polls stop (if not nil); once that is true it sends the
// child an interrupt, which makes it stop after its current step.
func runTrainer(bin, jobFile string, log func(runtime.StepLog), test func(step int, accuracy float64), stop func() bool, stderr io.Writer) (*trainerResult, error) {
	cmd := exec.Command(bin, jobFile, "watch-stdin")
	cmd.Stderr = stderr
	setParentDeath(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// The child's stdin is a pipe whose writing end only this process
	// holds: when it dies, however, the child reads end of file and exits.
	lifeline, lifelineW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer lifelineW.Close() // after Wait: the child is gone by then
	cmd.Stdin = lifeline
	err = cmd.Start()
	lifeline.Close()
	if err != nil {
		return nil, err
	}
	var res *trainerResult
	var childErr error
	stopped := false
	dec := json.NewDecoder(stdout)
	for {
		var msg trainerMessage
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			childErr = fmt.Errorf("reading the trainer's output: %v", err)
			io.Copy(io.Discard, stdout)
			break
		}
		switch {
		case msg.Log != nil:
			if msg.TestAccuracy != nil && test != nil {
				test(msg.Log.Step, *msg.TestAccuracy)
			}
			if log != nil {
				log(*msg.Log)
			}
			if stop != nil && !stopped && stop() {
				stopped = true
				// Not every system can deliver an interrupt (Windows cannot);
				// there the child trains on to the end.
				_ = cmd.Process.Signal(os.Interrupt)
			}
		case msg.Result != nil:
			res = msg.Result
		case msg.Error != "":
			childErr = errors.New(msg.Error)
		}
	}
	waitErr := cmd.Wait()
	switch {
	case childErr != nil:
		return nil, childErr
	case waitErr != nil:
		return nil, fmt.Errorf("the generated trainer failed: %v", waitErr)
	case res == nil:
		return nil, errors.New("the generated trainer ended without a result")
	}
	return res, nil
}
