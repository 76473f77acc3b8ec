package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/datasets"
	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
)

// cli runs cnngen with args and returns its exit code and outputs.
func cli(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// example returns the network of an embedded example description.
func example(t *testing.T, name string) *ir.Network {
	t.Helper()
	src, err := examples.FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	net, err := ir.Load(name, src)
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// writeExample copies an embedded example description into dir.
func writeExample(t *testing.T, dir, name string) string {
	t.Helper()
	src, err := examples.FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// digitsSplit returns the built-in digits' train and test sets for seed, as
// cnngen train splits them.
func digitsSplit(t *testing.T, net *ir.Network, seed uint64) (train, test *runtime.Dataset) {
	t.Helper()
	d, err := datasets.Digits()
	if err != nil {
		t.Fatal(err)
	}
	train, test, err = d.Split(net.Train.TestFraction, seed)
	if err != nil {
		t.Fatal(err)
	}
	return train, test
}

// trainedDigits trains the digits network briefly (Adam, mini-batches of
// 64, steps steps, on the training split of seed) and saves it, with its
// optimizer state and the seed, into a checkpoint in a temporary directory.
// It returns the checkpoint's path and the trained model.
func trainedDigits(t *testing.T, seed uint64, steps int) (string, *runtime.Generic) {
	t.Helper()
	net := example(t, "digits.yaml")
	m, err := runtime.NewGeneric(net.Arch())
	if err != nil {
		t.Fatal(err)
	}
	cfg := net.Train
	cfg.Seed, cfg.Steps, cfg.Epochs, cfg.BatchSize = seed, steps, 0, 64
	cfg.Reduction = runtime.Mean
	cfg.Optimizer = runtime.OptimizerConfig{Kind: runtime.Adam, LearningRate: 0.01, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8}
	train, _ := digitsSplit(t, net, seed)
	res, err := runtime.Train(m, train, nil, cfg, runtime.TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("digits-%d.safetensors", seed))
	if err := checkpoint.Save(path, m, res.Optimizer, checkpointMeta(cfg)); err != nil {
		t.Fatal(err)
	}
	return path, m
}

// initialCheckpoint saves a network of an embedded example with its
// initial weights (from its seed), without training, and returns the path.
func initialCheckpoint(t *testing.T, name string) string {
	t.Helper()
	return saveInitial(t, example(t, name))
}

// saveInitial saves net with its initial weights and returns the path.
func saveInitial(t *testing.T, net *ir.Network) string {
	t.Helper()
	m, err := runtime.NewGeneric(net.Arch())
	if err != nil {
		t.Fatal(err)
	}
	runtime.InitParams(m.Params(), net.Train.Seed)
	path := filepath.Join(t.TempDir(), net.Name+".safetensors")
	if err := checkpoint.Save(path, m, nil, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

// digitsCSV writes the first n built-in digits as a CSV file of 0..16
// pixels, with the label column or without, and returns its path.
func digitsCSV(t *testing.T, n int, labels bool) string {
	t.Helper()
	d, err := datasets.Digits()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range n {
		for j, v := range d.Sample(i) {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%g", v*16)
		}
		if labels {
			fmt.Fprintf(&b, ",%d", d.Y[i])
		}
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "samples.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoadTrainedErrors checks the messages of the shared loader through
// every command that uses it: one line, exit 1 for bad input, exit 2 for a
// missing -load.
func TestLoadTrainedErrors(t *testing.T) {
	twoconv := initialCheckpoint(t, "twoconv.yaml")
	missing := filepath.Join(t.TempDir(), "missing.safetensors")
	garbage := filepath.Join(t.TempDir(), "garbage.safetensors")
	if err := os.WriteFile(garbage, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	csv := digitsCSV(t, 2, false)
	png := filepath.Join(t.TempDir(), "x.png")
	for _, cmd := range [][]string{{"eval"}, {"predict", "-data", csv}, {"show", "-o", png}} {
		name := cmd[0]
		t.Run(name, func(t *testing.T) {
			code, _, stderr := cli(cmd...)
			if code != 2 || stderr != fmt.Sprintf("cnngen %s: -load CHECKPOINT is required\nrun 'cnngen %s -h' for usage\n", name, name) {
				t.Errorf("no -load: exit %d, stderr %q", code, stderr)
			}
			for _, tc := range []struct{ ckpt, want string }{
				{twoconv, "cnngen: checkpoint " + twoconv + ` is for network "twoconv" (tensor conv1.weight: the checkpoint's shape is [16 1 2 2], the model's is [32 1 3 3] (PyTorch layout)), not "digits": pass its description, e.g. examples/twoconv.yaml` + "\n"},
				{missing, "cnngen: loading checkpoint into network digits of examples/digits.yaml: open " + missing + ": no such file or directory\n"},
				{garbage, "cnngen: loading checkpoint into network digits of examples/digits.yaml: " + garbage + ": "},
			} {
				code, stdout, stderr := cli(append(cmd, "-load", tc.ckpt)...)
				if code != 1 || !strings.HasPrefix(stderr, tc.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
					t.Errorf("-load %s: exit %d, stdout %q, stderr %q; want exit 1 and one line starting %q",
						filepath.Base(tc.ckpt), code, stdout, stderr, tc.want)
				}
			}
			code, _, stderr = cli(append(cmd, "-load", twoconv, "a.yaml", "b.yaml")...)
			if code != 2 || !strings.Contains(stderr, "want at most one description FILE, got 2: a.yaml b.yaml") {
				t.Errorf("two files: exit %d, stderr %q", code, stderr)
			}
			code, _, stderr = cli(append(cmd, "-load", twoconv, "-bogus")...)
			if code != 2 || !strings.Contains(stderr, "flag provided but not defined: -bogus") {
				t.Errorf("unknown flag: exit %d, stderr %q", code, stderr)
			}
		})
	}
}

// TestLoadTrainedOtherName loads a checkpoint into a network of another name
// with the same tensors: it works, with a warning.
func TestLoadTrainedOtherName(t *testing.T) {
	ckpt := initialCheckpoint(t, "digits.yaml")
	renamed := strings.Replace(string(examples.Digits), "name: digits", "name: renamed", 1)
	file := filepath.Join(t.TempDir(), "renamed.yaml")
	if err := os.WriteFile(file, []byte(renamed), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	tr, err := loadTrained([]string{file}, ckpt, nil, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if tr.net.Name != "renamed" || stderr.String() != "cnngen: warning: "+ckpt+" was saved from network digits, loaded into renamed (same tensors)\n" {
		t.Errorf("network %s, stderr %q", tr.net.Name, stderr.String())
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
