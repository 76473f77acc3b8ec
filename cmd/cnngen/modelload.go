package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/internal/quote"
	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
	"github.com/cnngen/cnngen/viz"
)

// metaSeed is the checkpoint metadata key under which `cnngen train -save`
// records the run's seed, so that eval and show find the run's own test
// split without being told its -seed.
const metaSeed = "seed"

// metaCurve is the checkpoint metadata key under which `cnngen train -save`
// records the learning curve so far (the logged steps as JSON), so that a
// resumed run's -plot draws the whole run.
const metaCurve = "curve"

// metaCurveThinned is the checkpoint metadata key, present only when the
// learning curve under metaCurve was thinned to fit curveBudget, that says
// how many of the logged points it keeps: "kept K of N logged points".
const metaCurveThinned = "curve_thinned"

// curveBudget is the most bytes of JSON that a checkpoint gives the
// learning curve, far under the safetensors header limit
// (safetensors.MaxHeaderSize, 100 MB): a long run's curve must never keep
// its weights from being saved. About 80,000 points fit.
var curveBudget = 8 << 20

// curveToMeta records points in meta under metaCurve (nothing when there
// are none). A curve whose JSON would pass curveBudget is thinned: it keeps
// the first and the last point and evenly spaced ones between, and
// metaCurveThinned says so. It returns the number of points kept.
func curveToMeta(meta map[string]string, points []viz.Point) (int, error) {
	if len(points) == 0 {
		return 0, nil
	}
	data, err := json.Marshal(points)
	if err != nil {
		return 0, fmt.Errorf("encoding the learning curve: %v", err)
	}
	kept := points
	for len(data) > curveBudget && len(kept) > 2 {
		// Aim a little under the budget: points differ in length.
		k := int(float64(len(kept)) * float64(curveBudget) / float64(len(data)) * 0.95)
		k = max(2, min(k, len(kept)-1))
		kept = thinCurve(points, k)
		if data, err = json.Marshal(kept); err != nil {
			return 0, fmt.Errorf("encoding the learning curve: %v", err)
		}
	}
	meta[metaCurve] = string(data)
	if len(kept) < len(points) {
		meta[metaCurveThinned] = fmt.Sprintf("kept %d of %d logged points", len(kept), len(points))
	}
	return len(kept), nil
}

// thinCurve returns k ≥ 2 points of points (k < len(points)): the first,
// the last and evenly spaced ones between.
func thinCurve(points []viz.Point, k int) []viz.Point {
	n := len(points)
	out := make([]viz.Point, k)
	for i := range out {
		out[i] = points[int(int64(i)*int64(n-1)/int64(k-1))]
	}
	return out
}

// curveFromMeta returns the learning curve recorded in a checkpoint's
// metadata, or nil when there is none.
func curveFromMeta(meta map[string]string) ([]viz.Point, error) {
	s, ok := meta[metaCurve]
	if !ok {
		return nil, nil
	}
	var points []viz.Point
	if err := json.Unmarshal([]byte(s), &points); err != nil {
		return nil, fmt.Errorf("metadata %s is not a learning curve: %v", metaCurve, err)
	}
	return points, nil
}

// checkpointMeta returns the metadata that a training run records in its
// checkpoints besides what package checkpoint writes itself.
func checkpointMeta(cfg runtime.TrainConfig) map[string]string {
	return map[string]string{metaSeed: strconv.FormatUint(cfg.Seed, 10)}
}

// loadDescription reads the network description named by the positional
// arguments (none: the built-in digits example) and returns its file name
// for messages and the checked network. A file is read by ir.LoadFile,
// through gen/spec's ReadFile, which refuses one larger than 1 MiB after
// reading at most one byte more.
func loadDescription(files []string) (string, *ir.Network, error) {
	if len(files) > 1 {
		return "", nil, usageError{fmt.Sprintf("want at most one description FILE, got %d: %s", len(files), strings.Join(files, " "))}
	}
	if len(files) == 0 {
		net, err := ir.Load(defaultDescription, examples.Digits)
		return defaultDescription, net, err
	}
	// ir.LoadFile reads at most one byte past spec.MaxFileBytes, so that
	// an endless file (/dev/zero, a FIFO) fails at once.
	net, err := ir.LoadFile(files[0])
	if err != nil {
		return "", nil, err
	}
	return files[0], net, nil
}

// trained is a network built on the generic engine with the weights of a
// checkpoint.
type trained struct {
	net   *ir.Network
	file  string // the description's name
	model *runtime.Generic
	path  string            // the checkpoint's path
	meta  map[string]string // the checkpoint's metadata
}

// loadTrained builds the network that the positional arguments describe
// (see [loadDescription]) on the generic engine and loads the weights of
// the checkpoint at path into it, with its tensor names mapped by rename
// (see [loadCheckpoint]). A checkpoint saved from a network of another name
// but the same tensors loads with a warning on stderr.
func loadTrained(files []string, path string, rename renames, stderr io.Writer) (*trained, error) {
	if path == "" {
		return nil, usageError{"-load CHECKPOINT is required"}
	}
	file, net, err := loadDescription(files)
	if err != nil {
		return nil, err
	}
	m, err := runtime.NewGeneric(net.Arch())
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	meta, err := loadCheckpoint(path, m, nil, rename, net, fmt.Sprintf("loading checkpoint into network %s of %s", net.Name, file), stderr)
	if err != nil {
		return nil, err
	}
	return &trained{net: net, file: file, model: m, path: path, meta: meta}, nil
}

// describe says in a few words where the weights come from, e.g.
// "digits.safetensors (network digits, adam after 500 steps)".
func (t *trained) describe() string {
	// The metadata comes from the file: escaped and bounded.
	var parts []string
	if name := t.meta[checkpoint.MetaNetwork]; name != "" {
		parts = append(parts, "network "+quote.Name(name))
	}
	if opt := t.meta[checkpoint.MetaOptimizer]; opt != "" {
		steps := t.meta[checkpoint.MetaOptimizerSteps]
		noun := "steps"
		if steps == "1" {
			noun = "step"
		}
		parts = append(parts, fmt.Sprintf("%s after %s %s", quote.Value(opt), quote.Value(steps), noun))
	}
	if len(parts) == 0 {
		return t.path
	}
	return t.path + " (" + strings.Join(parts, ", ") + ")"
}

// splitSeed is the seed of the train/test split to evaluate on: the -seed
// flag if given, else the seed recorded in the checkpoint, else the
// description's.
func (t *trained) splitSeed(flagSeed uint64, flagSet bool) (uint64, error) {
	if flagSet {
		return flagSeed, nil
	}
	if s, ok := t.meta[metaSeed]; ok {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: metadata %s = %s is not a seed (give -seed)", t.path, metaSeed, quote.Quoted(s))
		}
		return seed, nil
	}
	return t.net.Train.Seed, nil
}

// heldOut returns the data to score a trained network on and a phrase
// naming it: MNIST's test images for -data mnist, the whole CSV file at
// path if given, else the test split of the built-in digits that `cnngen
// train` holds out with the same seed.
func (t *trained) heldOut(path string, scale float32, seed uint64) (*runtime.Dataset, string, error) {
	if path == mnistData {
		return t.mnistTest()
	}
	d, name, err := loadData(t.net, t.file, path, scale)
	if err != nil {
		return nil, "", err
	}
	if path != "" {
		return d, fmt.Sprintf("%s of %s", count(d.Len(), "sample"), name), nil
	}
	frac := t.net.Train.TestFraction
	if frac == 0 {
		return nil, "", fmt.Errorf("%s: the test fraction is 0, so there is no test split to evaluate on: give -data CSV", t.file)
	}
	_, test, err := d.Split(frac, seed)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %v", t.file, err)
	}
	return test, fmt.Sprintf("the %d test samples of %s (test fraction %g, seed %d)", test.Len(), name, frac, seed), nil
}
