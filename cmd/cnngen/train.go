package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cnngen/cnngen/datasets"
	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
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

// engines lists the -engine values.
var engines = []string{"generic"}

const trainUsage = `[flags] [FILE]

Trains the network that the description FILE (default: the built-in
examples/digits.yaml) describes, with the recipe of its train section, and
prints the tutorial's log: every -log-every steps (and at the first and last)
the step, the cost per sample and the training accuracy of that step's batch
before its update, then the accuracy on the held-out test set.

The data is the built-in digits set (pixels divided by 16) unless -data
names a CSV file: one sample per line, the H·W·C input values in HWC order
then the class label, optionally gzip-compressed (see runtime.ReadCSV).

-seeds runs the recipe once per seed (each with its own split, weights and
shuffles) and prints each test accuracy, then their mean and minimum.

Flags may come before or after FILE.

flags:`

// runTrain is the train command.
func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("train", trainUsage, stderr)
	steps := fs.Int("steps", 0, "number of optimizer steps (default: the description's)")
	seed := fs.Uint64("seed", 0, "seed for the split, the initial weights and the shuffles (default: the description's)")
	logEvery := fs.Int("log-every", 100, "log every `N` steps (0: only the first and the last)")
	dataPath := fs.String("data", "", "train on the CSV `file` instead of the built-in digits")
	scale := fs.Float64("scale", 1, "multiply every value of the -data file by `factor` (e.g. 0.0625 for 0..16 pixels)")
	engine := fs.String("engine", "generic", "the engine that runs the network: "+strings.Join(engines, ", "))
	seedList := fs.String("seeds", "", "run once per seed in `list` (e.g. 1-5 or 1,3,7) and report each test accuracy")
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
		return usageError{fmt.Sprintf("unknown engine %q: want %s", *engine, strings.Join(engines, ", "))}
	}
	if set["scale"] && *dataPath == "" {
		return usageError{"-scale applies only to a -data file"}
	}
	var seeds []uint64
	if set["seeds"] {
		if set["seed"] {
			return usageError{"give -seed or -seeds, not both"}
		}
		if seeds, err = parseSeeds(*seedList); err != nil {
			return usageError{fmt.Sprintf("-seeds %q: %v", *seedList, err)}
		}
	}

	file, source := defaultDescription, examples.Digits
	if len(files) == 1 {
		file = files[0]
		if source, err = os.ReadFile(file); err != nil {
			return err
		}
	}
	net, err := ir.Load(file, source)
	if err != nil {
		return err
	}
	data, dataName, err := loadData(net, file, *dataPath, float32(*scale))
	if err != nil {
		return err
	}
	cfg := net.Train
	if set["steps"] {
		cfg.Steps, cfg.Epochs = *steps, 0
	}
	if set["seed"] {
		cfg.Seed = *seed
	}
	job := trainJob{net: net, data: data, engine: *engine}

	if seeds != nil {
		return job.runSeeds(cfg, seeds, stdout, stderr)
	}
	train, test, err := data.Split(cfg.TestFraction, cfg.Seed)
	if err != nil {
		return fmt.Errorf("%s: %v", file, err)
	}
	fmt.Fprintf(stdout, "%s: %d training and %d test samples from %s, seed %d, engine %s\n",
		net.Name, train.Len(), test.Len(), dataName, cfg.Seed, *engine)
	fmt.Fprintf(stdout, "%s\n", describeRecipe(cfg, train.Len()))
	res, err := job.run(train, test, cfg, runtime.TrainOptions{
		LogEvery: *logEvery,
		Log:      func(s runtime.StepLog) { fmt.Fprintln(stdout, s) },
	})
	if err != nil {
		return err
	}
	if res.Test.Total > 0 {
		fmt.Fprintf(stdout, "test accuracy %v\n", res.Test)
	} else {
		fmt.Fprintln(stdout, "no test set (test fraction 0)")
	}
	fmt.Fprintf(stderr, "cnngen: %d steps in %v (%v/step)\n", res.Steps,
		res.Duration.Round(time.Millisecond), perStep(res))
	return nil
}

// trainJob is a network, its data and the engine to run it on.
type trainJob struct {
	net    *ir.Network
	data   *runtime.Dataset
	engine string
}

// newModel builds a fresh model of the job's network on its engine.
func (j *trainJob) newModel() (runtime.Model, error) {
	switch j.engine {
	case "generic":
		return runtime.NewGeneric(j.net.Arch())
	}
	return nil, fmt.Errorf("unknown engine %q", j.engine)
}

// run trains a fresh model on train and scores it on test.
func (j *trainJob) run(train, test *runtime.Dataset, cfg runtime.TrainConfig, opt runtime.TrainOptions) (*runtime.Result, error) {
	m, err := j.newModel()
	if err != nil {
		return nil, err
	}
	return runtime.Train(m, train, test, cfg, opt)
}

// runSeeds runs the recipe once per seed, each with its own split, and
// prints each test accuracy as it comes, then the mean and the minimum.
func (j *trainJob) runSeeds(cfg runtime.TrainConfig, seeds []uint64, stdout, stderr io.Writer) error {
	fmt.Fprintf(stdout, "%s: %d samples, %s, engine %s\n", j.net.Name, j.data.Len(), count(len(seeds), "seed"), j.engine)
	fmt.Fprintf(stdout, "%s\n", describeRecipe(cfg, j.data.Len()-runtime.TestSize(j.data.Len(), cfg.TestFraction)))
	var sum float64
	worst := runtime.Score{Correct: 1, Total: 1}
	var worstSeed uint64
	for _, seed := range seeds {
		cfg.Seed = seed
		train, test, err := j.data.Split(cfg.TestFraction, seed)
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
		fmt.Fprintf(stderr, "cnngen: seed %d: %d steps in %v (%v/step)\n", seed, res.Steps,
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
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	d, err := runtime.ReadCSV(f, path, net.Input, net.Classes, scale)
	return d, path, err
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
