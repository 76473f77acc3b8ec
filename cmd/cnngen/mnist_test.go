package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
)

// mnistNet is a small network (one dense layer) for MNIST-shaped inputs of
// the given side and channels, with the given number of classes: cheap to
// train and evaluate on the 10,000 test images.
func mnistNet(t *testing.T, side, channels, classes int) (*ir.Network, string) {
	t.Helper()
	src := fmt.Sprintf(`name: mnistdense
input: {height: %d, width: %d, channels: %d}
layers:
  - {kind: dense, units: %d}
  - {kind: softmax}
train:
  loss: {type: softmax_cross_entropy, reduction: mean}
  optimizer: {type: adam, learning_rate: 0.01}
  batch: 100
  steps: 20
  test_fraction: 0.5
`, side, side, channels, classes)
	net, err := ir.Load("mnistdense.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mnistdense.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return net, path
}

func TestMNISTPad(t *testing.T) {
	for _, tc := range []struct {
		side, channels, classes int
		pad                     int
		err                     string
	}{
		{28, 1, 10, 0, ""},
		{32, 1, 10, 2, ""},
		{8, 1, 10, 0, "x.yaml: network mnistdense takes 8x8x1 inputs; -data mnist fits 28x28x1, or 32x32x1 (padded with 2 zero pixels on each side)"},
		{28, 3, 10, 0, "x.yaml: network mnistdense takes 28x28x3 inputs; -data mnist fits 28x28x1"},
		{30, 1, 10, 0, "takes 30x30x1 inputs"},
		{28, 1, 5, 0, "x.yaml: network mnistdense has 5 classes; -data mnist has 10"},
	} {
		net, _ := mnistNet(t, tc.side, tc.channels, tc.classes)
		pad, err := mnistPad(net, "x.yaml")
		switch {
		case tc.err == "" && (err != nil || pad != tc.pad):
			t.Errorf("%v, %d classes: pad %d, error %v; want pad %d", net.Input, tc.classes, pad, err, tc.pad)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%v, %d classes: error %v, want %q", net.Input, tc.classes, err, tc.err)
		}
	}
}

// TestLoadTrainDataMNIST checks that -data mnist gives MNIST's standard
// split, fitted to the network's input, and that the runs use it as is.
func TestLoadTrainDataMNIST(t *testing.T) {
	// One size only, to load MNIST once: TestTrainEvalMNIST loads it at
	// 28×28, TestMNISTPad checks which sizes pad.
	for _, side := range []int{32} {
		net, _ := mnistNet(t, side, 1, 10)
		data, fixedTest, name, err := loadTrainData(net, "x.yaml", mnistData, 1)
		if err != nil {
			t.Fatal(err)
		}
		if data.Len() != 60000 || fixedTest == nil || fixedTest.Len() != 10000 {
			t.Fatalf("%dx%d: %d training samples and test set %v; want 60000 and 10000", side, side, data.Len(), fixedTest)
		}
		if data.Shape != net.Input || fixedTest.Shape != net.Input || data.Classes != 10 || fixedTest.Classes != 10 {
			t.Errorf("%dx%d: shapes %v and %v, classes %d and %d; want %v and 10",
				side, side, data.Shape, fixedTest.Shape, data.Classes, fixedTest.Classes, net.Input)
		}
		wantName := "MNIST padded to 32x32x1 (its standard training and test sets, not a random split)"
		if name != wantName {
			t.Errorf("%dx%d: name %q, want %q", side, side, name, wantName)
		}
		// The description's test fraction (0.5) and the seed do not split
		// MNIST.
		j := &trainJob{net: net, data: data, fixedTest: fixedTest}
		for _, seed := range []uint64{1, 2} {
			train, test, err := j.split(net.Train.TestFraction, seed)
			if err != nil || train != data || test != fixedTest {
				t.Errorf("%dx%d: split(%g, %d) = %d and %d samples, %v; want MNIST's own sets",
					side, side, net.Train.TestFraction, seed, train.Len(), test.Len(), err)
			}
		}
		if n := j.trainSize(net.Train.TestFraction); n != 60000 {
			t.Errorf("%dx%d: trainSize = %d, want 60000", side, side, n)
		}
	}

	net, _ := mnistNet(t, 28, 1, 10)
	var usage usageError
	if _, _, _, err := loadTrainData(net, "x.yaml", mnistData, 0.5); !errors.As(err, &usage) || !strings.Contains(err.Error(), "-scale applies only to a CSV -data file") {
		t.Errorf("-data mnist -scale 0.5: error %v, want a usage error about -scale", err)
	}

	// Other data still splits at random.
	digitsNet := example(t, "digits.yaml")
	data, fixedTest, _, err := loadTrainData(digitsNet, "digits.yaml", "", 1)
	if err != nil || fixedTest != nil {
		t.Fatalf("digits: test set %v, error %v; want none", fixedTest, err)
	}
	j := &trainJob{net: digitsNet, data: data}
	train, test, err := j.split(0.1, 1)
	if err != nil || train.Len() != 1617 || test.Len() != 180 || j.trainSize(0.1) != 1617 {
		t.Errorf("digits: split %d and %d samples, trainSize %d, error %v; want 1617, 180, 1617",
			train.Len(), test.Len(), j.trainSize(0.1), err)
	}
}

// TestTrainEvalMNIST trains a dense network on MNIST for a few steps from
// the command line, then evaluates its checkpoint on MNIST's test images.
func TestTrainEvalMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("loads MNIST twice and trains")
	}
	_, path := mnistNet(t, 28, 1, 10)
	ckpt := filepath.Join(t.TempDir(), "m.safetensors")
	code, stdout, stderr := runCLI("train", "-data", mnistData, "-engine", "generic", "-log-every", "0", "-save", ckpt, path)
	if code != 0 {
		t.Fatalf("train: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	want := []string{
		`^mnistdense: 60000 training and 10000 test samples from MNIST \(its standard training and test sets, not a random split\), seed 1, engine generic$`,
		`^adam lr 0\.01, loss averaged over shuffled batches of 100, 20 steps$`,
		`^step    0  cost/sample 2\.\d{4}  train acc 0\.\d{3}$`,
		`^step   19  cost/sample \d\.\d{4}  train acc [01]\.\d{3}$`,
		`^test accuracy 0\.\d{4} \(\d+/10000\)$`,
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
	// 20 steps of Adam on a linear model already do far better than chance.
	m := regexp.MustCompile(`\((\d+)/10000\)$`).FindStringSubmatch(lines[4])
	if m == nil {
		t.Fatalf("no score in %q", lines[4])
	}
	correct, _ := strconv.Atoi(m[1])
	if correct < 7000 {
		t.Errorf("test accuracy %d/10000 after 20 steps, want at least 7000", correct)
	}

	code, stdout, stderr = runCLI("eval", "-load", ckpt, "-data", mnistData, path)
	if code != 0 {
		t.Fatalf("eval: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	wantEval := fmt.Sprintf("evaluated on the 10000 test images of MNIST\naccuracy %v\n", runtime.Score{Correct: correct, Total: 10000})
	if !strings.Contains(stdout, wantEval) {
		t.Errorf("eval output:\n%s\nwant it to contain:\n%s", stdout, wantEval)
	}
}

func TestTrainMNISTErrors(t *testing.T) {
	code, _, stderr := runCLI("train", "-data", mnistData, "-steps", "1")
	want := "cnngen: examples/digits.yaml: network digits takes 8x8x1 inputs; -data mnist fits 28x28x1, or 32x32x1 (padded with 2 zero pixels on each side)\n"
	if code != 1 || stderr != want {
		t.Errorf("train -data mnist on the digits network: exit %d, stderr %q; want 1, %q", code, stderr, want)
	}
}

// TestPredictShowMNIST classifies MNIST's test images and draws one of them
// with an untrained network.
func TestPredictShowMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("loads MNIST twice")
	}
	net, path := mnistNet(t, 28, 1, 10)
	ckpt := saveInitial(t, net)
	code, stdout, stderr := cli("predict", "-load", ckpt, "-data", mnistData, path)
	if code != 0 {
		t.Fatalf("predict: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	// The header, then one line per test image; the first test image is a 7.
	if len(lines) != 10001 || lines[0] != "sample  class  label" ||
		!regexp.MustCompile(`^     1      \d      7$`).MatchString(lines[1]) {
		t.Errorf("predict: %d lines starting %q; want 10001 starting with the header and sample 1, label 7", len(lines), lines[:min(3, len(lines))])
	}
	if !regexp.MustCompile(`^cnngen: accuracy 0\.\d{4} \(\d+/10000\) against the labels of the 10000 test images of MNIST\n$`).MatchString(stderr) {
		t.Errorf("predict: stderr %q, want the accuracy against MNIST's test labels", stderr)
	}

	out := filepath.Join(t.TempDir(), "mnist.png")
	code, stdout, stderr = cli("show", "-load", ckpt, "-data", mnistData, "-image", "9999", "-o", out, path)
	if code != 0 || !strings.Contains(stderr, "cnngen: wrote "+out+" (") {
		t.Errorf("show: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
	code, _, stderr = cli("predict", "-load", ckpt, "-data", mnistData, "-scale", "2", path)
	if code != 2 || !strings.Contains(stderr, "-scale applies only to a CSV -data file") {
		t.Errorf("predict -scale 2: exit %d, stderr %q; want 2 and the -scale usage error", code, stderr)
	}
}
