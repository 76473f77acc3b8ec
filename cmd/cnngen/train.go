package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cnngen/cnngen/datasets"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/internal/quote"
	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
	"github.com/cnngen/cnngen/viz"
)

func init() {
	register(&command{
		name:    "train",
		summary: "train a network on its data and report the test accuracy",
		run:     runTrain,
	})
}

// defaultDescription is the name under which errors and logs refer to the
// built-in digits example.
const defaultDescription = "examples/digits.yaml"

// engines lists the -engine values, the default first.
var engines = []string{"generated", "generic"}

const trainUsage = `[flags] [FILE]

Trains the network that the description FILE (default: the built-in
examples/digits.yaml) describes, with the recipe of its train section, and
prints the tutorial's log: every -log-every steps (and at the first and last)
the step, the cost per sample and the training accuracy of that step's batch
before its update, then the accuracy on the held-out test set. On a terminal
a progress bar shows on stderr; otherwise a plain progress line every 10s.

Engines: "generated" (the default) runs code generated for the network: the
digits network is compiled into cnngen; any other FILE is generated into a
temporary module, built with the go command and run as a child process.
"generic" runs the runtime's reference implementation. CNNGEN_ISA=purego,
avx2 or avx512 forces the generated kernels' instruction set.

The data is the built-in digits set (pixels divided by 16) unless -data
names a CSV file: one sample per line, the H·W·C input values in HWC order
then the class label, optionally gzip-compressed (see runtime.ReadCSV).
A file of more than 2 GiB of text (after decompression), 5 million samples
or samples that take 1 GiB of memory is refused at the line where it goes
over; CNNGEN_DATA_MAX_BYTES, CNNGEN_DATA_MAX_ROWS and
CNNGEN_DATA_MAX_MEMORY raise the limits (e.g. CNNGEN_DATA_MAX_MEMORY=8GiB).

-data mnist trains on the embedded MNIST's 60,000 training images and tests
on its standard 10,000 test images, not on a random split (the test
fraction does not apply); pixels are divided by 255, and a 32x32x1 input
gets 2 zero pixels on each side.

-save F writes a safetensors checkpoint (weights, optimizer state, seed) at
the end, atomically, and also when Ctrl-C stops the run after its current
step. -resume F continues the run saved in F: its weights, its optimizer
state and its seed (unless -seed is given); -steps N then trains N more
steps, otherwise the run goes on to the recipe's total. When the loss or a
gradient turns NaN or infinite, training stops with an error naming the step
and the layer, and the -save file is not written (it keeps the last good
checkpoint saved there, if any). A learning curve too long for the
checkpoint's header is thinned to evenly spaced points (the metadata says
so); the weights are always saved.

Before any work, -save and -plot are checked: neither may be an input (FILE,
-data, -init, -resume; -save may replace the -resume checkpoint) or the
other, nor an existing non-regular file, and each directory must take a new
file.

-init F starts a new run from the weights of the checkpoint F (and its batch
norm running statistics, when the network has batch norm), instead of the
seed's random weights: fine-tuning. Unlike -resume it takes nothing else from
F: the optimizer (any, with fresh state), the step count (from 0), the seed
and the learning curve are the new run's. F may be a PyTorch state_dict
saved with safetensors; -rename old=new maps its tensor names onto the
network's (features.0=conv1 maps features.0.weight to conv1.weight and
features.0.bias to conv1.bias; -rename @FILE reads one old=new per line).
-rename also applies to -resume. Give -init or -resume, not both.

-seeds runs the recipe once per seed (each with its own split, weights and
shuffles) and prints each test accuracy, then their mean and minimum.

A regression network (loss mse) needs -data: each line holds the input
values then the targets (the network's outputs), or only the values for an
autoencoder (target: input), whose targets are its inputs (see
runtime.ReadRegressionCSV). The log shows the cost only, the end the test
loss instead of the accuracy.

Before it builds a model, train estimates the memory of the run (the
model's buffers per worker, the optimizer's state, the data) and refuses a
run over -max-memory (default: half of the machine's memory), saying what
fewer workers and -engine generic would need.

Flags may come before or after FILE.

flags:`

// trainFlags are the train command's options beyond the recipe.
type trainFlags struct {
	logEvery                 int
	save, resume, init, plot string
	rename                   renames // for the -resume or -init checkpoint
	seedSet, stepsSet        bool
}

// runTrain is the train command.
func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("train", trainUsage, stderr)
	steps := fs.Int("steps", 0, "number of optimizer steps (default: the description's; with -resume: `N` more steps)")
	seed := fs.Uint64("seed", 0, "seed for the split, the initial weights and the shuffles (default: the description's)")
	logEvery := fs.Int("log-every", 100, "log every `N` steps (0: only the first and the last)")
	dataPath := fs.String("data", "", "train on the CSV `file`, or on MNIST (-data mnist), instead of the built-in digits")
	scale := fs.Float64("scale", 1, "multiply every value of the -data file by `factor` (e.g. 0.0625 for 0..16 pixels)")
	engine := fs.String("engine", engines[0], "the engine that runs the network: "+strings.Join(engines, " or "))
	workers := fs.Int("workers", goruntime.GOMAXPROCS(0), "split each batch across `N` workers (generated engine)")
	seedList := fs.String("seeds", "", "run once per seed in `list` (e.g. 1-5 or 1,3,7) and report each test accuracy")
	save := fs.String("save", "", "save a checkpoint to `file` at the end (and on Ctrl-C)")
	resume := fs.String("resume", "", "continue the run saved in the checkpoint `file`")
	initFrom := fs.String("init", "", "start from the weights (and batch norm running statistics) of the checkpoint `file`, with a fresh optimizer and step count")
	rename := renames{}
	fs.Var(rename, "rename", renameUsage)
	plot := fs.String("plot", "", "draw the learning curve into the PNG `file`")
	var maxMemory byteSize
	fs.Var(&maxMemory, "max-memory", "refuse a run whose estimated memory exceeds `size` (e.g. 16GiB; default: half of the machine's memory)")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	if len(files) > 1 {
		return usageError{fmt.Sprintf("want at most one description FILE, got %d: %s", len(files), strings.Join(files, " "))}
	}
	if set["steps"] && *steps < 1 {
		return usageError{fmt.Sprintf("-steps %d: want at least 1", *steps)}
	}
	if *logEvery < 0 {
		return usageError{fmt.Sprintf("-log-every %d: want 0 or more", *logEvery)}
	}
	if !isEngine(*engine) {
		return usageError{fmt.Sprintf("unknown engine %q: want %s", *engine, strings.Join(engines, " or "))}
	}
	if *workers < 1 {
		return usageError{fmt.Sprintf("-workers %d: want at least 1", *workers)}
	}
	if set["workers"] && *engine != "generated" {
		return usageError{"-workers applies only to -engine generated"}
	}
	if set["scale"] && *dataPath == "" {
		return usageError{"-scale applies only to a -data file"}
	}
	if *initFrom != "" && *resume != "" {
		return usageError{"give -init or -resume, not both: -init takes only the weights of a checkpoint, -resume also its optimizer state and step count"}
	}
	if set["rename"] && *initFrom == "" && *resume == "" {
		return usageError{"-rename applies only to a checkpoint loaded with -init or -resume"}
	}
	var seeds []uint64
	if set["seeds"] {
		if set["seed"] {
			return usageError{"give -seed or -seeds, not both"}
		}
		for _, f := range []string{"save", "resume", "init", "plot"} {
			if set[f] {
				return usageError{fmt.Sprintf("-%s does not go with -seeds", f)}
			}
		}
		if seeds, err = parseSeeds(*seedList); err != nil {
			return usageError{fmt.Sprintf("-seeds %q: %v", *seedList, err)}
		}
	}
	// Fail now rather than after the training: no output may overwrite an
	// input or another output, and each must be writable. -save may
	// replace the -resume checkpoint: the run goes on in the same file.
	inputs := []pathArg{{flag: "-resume", what: "checkpoint", path: *resume}, {flag: "-init", what: "checkpoint", path: *initFrom}}
	if *dataPath != mnistData {
		inputs = append(inputs, pathArg{flag: "-data", what: "file", path: *dataPath})
	}
	if len(files) == 1 {
		inputs = append(inputs, pathArg{flag: "description", what: "FILE", path: files[0]})
	}
	if err := checkOutputs(inputs, []pathArg{{flag: "-save", path: *save, replaces: "-resume"}, {flag: "-plot", path: *plot}}); err != nil {
		return err
	}

	// Child trainers of earlier runs that were killed left their
	// directories behind.
	removeDeadTrainDirs()

	file, net, err := loadDescription(files)
	if err != nil {
		return err
	}
	data, fixedTest, dataName, err := loadTrainData(net, file, *dataPath, float32(*scale))
	if err != nil {
		return err
	}
	cfg := net.TrainConfig() // the recipe an app gets from ir.LoadRecipe
	if set["steps"] {
		cfg.Steps, cfg.Epochs = *steps, 0
	}
	if set["seed"] {
		cfg.Seed = *seed
	}
	job := trainJob{net: net, data: data, fixedTest: fixedTest, engine: *engine, workers: *workers, stderr: stderr}
	if err := job.checkMemory(cfg, int64(maxMemory)); err != nil {
		return err
	}
	if seeds != nil {
		job.announce()
		return job.runSeeds(cfg, seeds, stdout, stderr)
	}
	return job.runOnce(cfg, trainFlags{logEvery: *logEvery, save: *save, resume: *resume, init: *initFrom, rename: rename, plot: *plot, seedSet: set["seed"], stepsSet: set["steps"]}, dataName, stdout, stderr)
}

// runOnce is one training run with its log, progress, checkpoints and plot.
func (j *trainJob) runOnce(cfg runtime.TrainConfig, f trainFlags, dataName string, stdout, stderr io.Writer) error {
	m, err := j.newModel()
	if err != nil {
		return err
	}
	opt := runtime.TrainOptions{}
	var earlier []viz.Point // the learning curve of the run being resumed
	if f.resume != "" {
		var meta map[string]string
		if opt.Optimizer, meta, err = j.resume(m, &cfg, f); err != nil {
			return err
		}
		opt.Resume = true
		if earlier, err = curveFromMeta(meta); err != nil {
			fmt.Fprintf(stderr, "cnngen: %s: %v; the curve starts at the resumed step\n", f.resume, err)
		}
	}
	if f.init != "" {
		// Only the weights (and buffers): the optimizer, its step count,
		// the seed and the curve are the new run's own.
		if _, err := loadCheckpoint(f.init, m, nil, f.rename, j.net, "-init "+f.init, stderr); err != nil {
			return err
		}
		opt.Resume = true
	}
	j.announce()
	train, test, err := j.split(cfg.TestFraction, cfg.Seed)
	if err != nil {
		return fmt.Errorf("%s: %v", j.net.Name, err)
	}
	fmt.Fprintf(stdout, "%s: %d training and %d test samples from %s, seed %d, engine %s\n",
		j.net.Name, train.Len(), test.Len(), dataName, cfg.Seed, j.engine)
	fmt.Fprintf(stdout, "%s\n", describeRecipe(cfg, train.Len()))
	if f.resume != "" {
		fmt.Fprintf(stderr, "cnngen: resuming %s at step %d of %d\n", f.resume, opt.Optimizer.State().Steps, runTotal(cfg, train.Len()))
	}
	if f.init != "" {
		fmt.Fprintf(stderr, "cnngen: starting from the weights of %s\n", f.init)
	}

	rec := &curveRecorder{model: m, test: test, points: earlier}
	if isRegression(j.net) {
		// A regression network has no accuracy to plot.
		rec.test = nil
	}
	var onLog func(runtime.StepLog)
	if f.plot != "" || f.save != "" {
		// A checkpoint keeps the curve, so that -plot after -resume draws
		// the whole run.
		onLog = rec.Record
		if j.childProcess() && rec.test != nil {
			// The child's weights are out of reach while it trains: it
			// measures the test accuracy at the logged steps itself and
			// sends it along with their log entries.
			rec.test = nil
			j.curve = &testCurve{every: f.logEvery, record: rec.Tested}
		}
	}
	prog := newProgress(stderr)
	in := notifyInterrupt(stderr)
	defer in.Release()
	opt.LogEvery = 1 // the progress reporter sees every step; Hook logs every f.logEvery
	opt.Log = prog.Hook(stdout, f.logEvery, onLog)
	opt.Stop = in.Requested
	res, err := j.train(m, train, test, cfg, opt)
	prog.Finish()
	in.Release()
	if err != nil {
		if f.save != "" {
			return fmt.Errorf("%v; %s not written, it keeps what it held", err, f.save)
		}
		return err
	}
	if res.Stopped {
		fmt.Fprintf(stderr, "cnngen: stopped after step %d of %d\n", res.Last.Step, res.Last.Steps)
	}
	if res.Test.Total > 0 {
		fmt.Fprintf(stdout, "test accuracy %v\n", res.Test)
	} else if res.TestError.Samples > 0 {
		writeRegressionTest(stdout, res.TestError)
	} else {
		fmt.Fprintln(stdout, "no test set (test fraction 0)")
	}
	fmt.Fprintf(stderr, "cnngen: %s in %v (%v/step)\n", count(res.Steps, "step"),
		res.Duration.Round(time.Millisecond), perStep(res))
	if n := len(rec.points); n > 0 && !rec.points[n-1].Tested && res.Test.Total > 0 {
		rec.points[n-1].TestAccuracy, rec.points[n-1].Tested = res.Test.Accuracy(), true
	}
	if f.save != "" {
		meta := checkpointMeta(cfg)
		kept, err := curveToMeta(meta, rec.points)
		if err != nil {
			return fmt.Errorf("saving %s: %v", f.save, err)
		}
		if kept < len(rec.points) {
			fmt.Fprintf(stderr, "cnngen: %s keeps %d of the %d logged points of the learning curve, evenly spaced, to stay within its header budget\n", f.save, kept, len(rec.points))
		}
		if err := checkpoint.Save(f.save, m, res.Optimizer, meta); err != nil {
			return fmt.Errorf("saving %s: %v", f.save, err)
		}
		reportWrote(stderr, f.save, fmt.Sprintf("checkpoint after step %d", res.Last.Step))
	}
	if f.plot != "" {
		if err := rec.Write(f.plot); err != nil {
			return fmt.Errorf("-plot %s: %v", f.plot, err)
		}
		reportWrote(stderr, f.plot, rec.describe())
	}
	return nil
}

// resume loads the checkpoint f.resume into m and returns the optimizer
// with its state, made for the run's total steps, which it sets in cfg:
// the step count of the checkpoint plus -steps, or the recipe's total. The
// seed becomes the checkpoint's unless -seed was given.
func (j *trainJob) resume(m runtime.Model, cfg *runtime.TrainConfig, f trainFlags) (runtime.Optimizer, map[string]string, error) {
	trainSize := j.trainSize(cfg.TestFraction)
	planned := runTotal(*cfg, trainSize)
	// The optimizer's step count is only known once loaded, and the
	// optimizer for the run is made for its total: load into one made for
	// the planned total, then move the state over.
	loaded, err := runtime.NewOptimizerForRun(cfg.Optimizer, m.Params(), max(planned, 1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", j.net.Name, err)
	}
	meta, err := loadCheckpoint(f.resume, m, loaded, f.rename, j.net, "resuming "+f.resume, j.stderr)
	if err != nil {
		// A checkpoint of this network without the recipe's optimizer
		// state (weights only, or another optimizer's) still gives its
		// weights to a new run.
		if md := readMetadata(f.resume); md != nil && (md[checkpoint.MetaNetwork] == "" || md[checkpoint.MetaNetwork] == j.net.Name) &&
			md[checkpoint.MetaOptimizer] != string(loaded.State().Kind) {
			return nil, nil, fmt.Errorf("%v; to start a new run from its weights alone, give -init %s instead of -resume", err, f.resume)
		}
		return nil, nil, err
	}
	done := loaded.State().Steps
	if f.stepsSet {
		cfg.Steps += done // -steps N: N more steps
	}
	total := runTotal(*cfg, trainSize)
	if done >= total {
		return nil, nil, fmt.Errorf("resuming %s: the run has already taken %d of the recipe's %s; give -steps N to train N more", f.resume, done, count(total, "step"))
	}
	if !f.seedSet {
		if s, ok := meta[metaSeed]; ok {
			if cfg.Seed, err = strconv.ParseUint(s, 10, 64); err != nil {
				return nil, nil, fmt.Errorf("resuming %s: metadata %s = %s is not a seed (give -seed)", f.resume, metaSeed, quote.Quoted(s))
			}
		}
	}
	o, err := runtime.NewOptimizerForRun(cfg.Optimizer, m.Params(), total)
	if err != nil {
		return nil, nil, err
	}
	if err := o.SetState(loaded.State()); err != nil {
		return nil, nil, fmt.Errorf("resuming %s: %v", f.resume, err)
	}
	return o, meta, nil
}

// runTotal is the number of steps of the run that cfg describes on a
// training set of trainSize samples.
func runTotal(cfg runtime.TrainConfig, trainSize int) int {
	if cfg.Steps > 0 {
		return cfg.Steps
	}
	if cfg.BatchSize == 0 || cfg.BatchSize >= trainSize {
		return cfg.Epochs
	}
	return cfg.Epochs * ((trainSize + cfg.BatchSize - 1) / cfg.BatchSize)
}

// trainJob is a network, its data and the engine to run it on.
type trainJob struct {
	net     *ir.Network
	data    *runtime.Dataset
	engine  string
	workers int // for generated code
	stderr  io.Writer
	// curve, when not nil, asks a child trainer for the learning curve's
	// test accuracies (see trainGenerated).
	curve *testCurve

	// fixedTest is the test set of a data set that comes with its own
	// (MNIST), or nil: then each run splits data.
	fixedTest *runtime.Dataset
}

// childProcess reports whether the job's generated code runs in a child
// process (the network is not compiled into cnngen).
func (j *trainJob) childProcess() bool {
	return j.engine == "generated" && compiledModel(j.net) == nil
}

// announce says on stderr which engine, instruction set and workers run
// the network.
func (j *trainJob) announce() {
	switch {
	case j.engine == "generic":
		fmt.Fprintln(j.stderr, "cnngen: engine generic (reference runtime, 1 worker)")
	case j.childProcess():
		fmt.Fprintf(j.stderr, "cnngen: engine generated (%v, %s; %s is not compiled in: generating, building and running it in a child process)\n",
			runtime.ActiveISA(), count(j.workers, "worker"), j.net.Name)
	default:
		fmt.Fprintf(j.stderr, "cnngen: engine generated (%v, %s)\n", runtime.ActiveISA(), count(j.workers, "worker"))
	}
}

// workerSetter is a generated model that splits its batches across workers.
type workerSetter interface{ SetWorkers(count int) }

// newModel builds a fresh model of the job's network on its engine.
func (j *trainJob) newModel() (runtime.Model, error) {
	switch j.engine {
	case "generic":
		return runtime.NewGeneric(j.net.Arch())
	case "generated":
		m, err := generatedModel(j.net)
		if err != nil {
			return nil, err
		}
		if w, ok := m.(workerSetter); ok {
			w.SetWorkers(j.workers)
		}
		return m, nil
	}
	return nil, fmt.Errorf("unknown engine %q", j.engine)
}

// train runs runtime.Train on the job's engine.
func (j *trainJob) train(m runtime.Model, train, test *runtime.Dataset, cfg runtime.TrainConfig, opt runtime.TrainOptions) (*runtime.Result, error) {
	if j.engine == "generated" {
		return trainGenerated(j.net, m, train, test, cfg, opt, j.workers, j.curve, j.stderr)
	}
	return runtime.Train(m, train, test, cfg, opt)
}

// run trains a fresh model on train and scores it on test.
func (j *trainJob) run(train, test *runtime.Dataset, cfg runtime.TrainConfig, opt runtime.TrainOptions) (*runtime.Result, error) {
	m, err := j.newModel()
	if err != nil {
		return nil, err
	}
	return j.train(m, train, test, cfg, opt)
}

// runSeeds runs the recipe once per seed, each with its own split, and
// prints each test accuracy as it comes, then the mean and the minimum.
func (j *trainJob) runSeeds(cfg runtime.TrainConfig, seeds []uint64, stdout, stderr io.Writer) error {
	if isRegression(j.net) {
		return j.runSeedsRegression(cfg, seeds, stdout, stderr)
	}
	fmt.Fprintf(stdout, "%s: %d samples, %s, engine %s\n", j.net.Name, j.data.Len(), count(len(seeds), "seed"), j.engine)
	fmt.Fprintf(stdout, "%s\n", describeRecipe(cfg, j.trainSize(cfg.TestFraction)))
	var sum float64
	worst := runtime.Score{Correct: 1, Total: 1}
	var worstSeed uint64
	for _, seed := range seeds {
		cfg.Seed = seed
		train, test, err := j.split(cfg.TestFraction, seed)
		if err != nil {
			return err
		}
		if test.Len() == 0 {
			return errors.New("-seeds needs a test set: the description's test fraction is 0")
		}
		res, err := j.run(train, test, cfg, runtime.TrainOptions{})
		if err != nil {
			return fmt.Errorf("seed %d: %v", seed, err)
		}
		fmt.Fprintf(stdout, "seed %d  test accuracy %v  final cost/sample %.4f  train acc %.3f\n",
			seed, res.Test, res.Last.Cost, res.Last.TrainAccuracy())
		fmt.Fprintf(stderr, "cnngen: seed %d: %s in %v (%v/step)\n", seed, count(res.Steps, "step"),
			res.Duration.Round(time.Millisecond), perStep(res))
		sum += res.Test.Accuracy()
		if res.Test.Accuracy() < worst.Accuracy() {
			worst, worstSeed = res.Test, seed
		}
	}
	fmt.Fprintf(stdout, "%s: mean test accuracy %.4f, min %.4f (seed %d)\n",
		count(len(seeds), "seed"), sum/float64(len(seeds)), worst.Accuracy(), worstSeed)
	return nil
}

// loadData returns the data set to train net (described in file) on and its
// name: the CSV file at path if given, else the built-in digits if they fit
// the network.
func loadData(net *ir.Network, file, path string, scale float32) (*runtime.Dataset, string, error) {
	if isRegression(net) {
		return loadRegressionData(net, file, path, scale)
	}
	if path == "" {
		d, err := datasets.Digits()
		if err != nil {
			return nil, "", err
		}
		if d.Shape != net.Input || d.Classes != net.Classes {
			return nil, "", fmt.Errorf("%s: network %s takes %v inputs in %d classes, the built-in digits are %v in %d classes: give -data CSV",
				file, net.Name, net.Input, net.Classes, d.Shape, d.Classes)
		}
		return d, datasets.DigitsFile, nil
	}
	limits, err := dataLimits()
	if err != nil {
		return nil, "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	d, err := limits.ReadCSV(f, path, net.Input, net.Classes, scale)
	return d, path, dataLimitHint(err)
}

// describeRecipe summarises a training recipe in one line, e.g.
// "sgd lr 0.0001, loss summed over full batches of 1617, 2000 steps".
func describeRecipe(cfg runtime.TrainConfig, trainSize int) string {
	var b strings.Builder
	o := cfg.Optimizer
	kind := o.Kind
	if kind == "" {
		kind = runtime.SGD
	}
	fmt.Fprintf(&b, "%s lr %g", kind, o.LearningRate)
	if o.Momentum != 0 {
		fmt.Fprintf(&b, " momentum %g", o.Momentum)
		if o.Nesterov {
			b.WriteString(" (nesterov)")
		}
	}
	if o.WeightDecay != 0 {
		fmt.Fprintf(&b, " weight decay %g", o.WeightDecay)
	}
	if o.Schedule.Kind != "" && o.Schedule.Kind != runtime.Constant {
		fmt.Fprintf(&b, " %s schedule", o.Schedule.Kind)
	}
	verb := "summed"
	if cfg.Reduction == runtime.Mean {
		verb = "averaged"
	}
	if cfg.Loss == runtime.SquaredError {
		b.WriteString(", mse")
	}
	if cfg.BatchSize == 0 || cfg.BatchSize >= trainSize {
		fmt.Fprintf(&b, ", loss %s over full batches of %d", verb, trainSize)
	} else {
		fmt.Fprintf(&b, ", loss %s over shuffled batches of %d", verb, cfg.BatchSize)
	}
	if cfg.Steps > 0 {
		b.WriteString(", " + count(cfg.Steps, "step"))
	} else {
		b.WriteString(", " + count(cfg.Epochs, "epoch"))
	}
	return b.String()
}

// perStep is the mean time of one step, rounded for display.
func perStep(res *runtime.Result) time.Duration {
	if res.Steps == 0 {
		return 0
	}
	return (res.Duration / time.Duration(res.Steps)).Round(10 * time.Microsecond)
}

// count formats n and a noun, plural unless n is 1: "1 seed", "5 seeds".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func isEngine(name string) bool {
	for _, e := range engines {
		if e == name {
			return true
		}
	}
	return false
}

// parseInterspersed parses args with fs, letting flags and positional
// arguments come in any order, and returns the positional arguments. After
// "--" everything is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		// The flag package stops at the first non-flag or just after "--".
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// parseSeeds parses a seed list such as "1-5" or "1,3,7-9".
func parseSeeds(s string) ([]uint64, error) {
	var seeds []uint64
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a seed or a range of seeds such as 1-5", part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a range of seeds such as 1-5", part)
			}
			if b-a >= 1000 {
				return nil, fmt.Errorf("range %q has more than 1000 seeds", part)
			}
		}
		for v := a; ; v++ {
			seeds = append(seeds, v)
			if v == b {
				break
			}
		}
	}
	return seeds, nil
}
