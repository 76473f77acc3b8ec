package main

import (
	"fmt"
	"os"

	"github.com/cnngen/cnngen/datasets"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
)

// mnistData is the -data value that selects the embedded MNIST instead of a
// CSV file (a file of that name is reached as ./mnist).
const mnistData = "mnist"

// mnistPad returns the zero padding that fits MNIST's 28×28×1 images to
// net's input: none for 28×28×1, 2 pixels on each side for the 32×32×1 of
// the original LeNet-5. Other inputs, or other than 10 classes, are an
// error that says what fits.
func mnistPad(net *ir.Network, file string) (int, error) {
	pad := 0
	switch net.Input {
	case runtime.Shape{Height: datasets.MNISTSide, Width: datasets.MNISTSide, Channels: 1}:
	case runtime.Shape{Height: datasets.MNISTSide + 4, Width: datasets.MNISTSide + 4, Channels: 1}:
		pad = 2
	default:
		return 0, fmt.Errorf("%s: network %s takes %v inputs; -data mnist fits 28x28x1, or 32x32x1 (padded with 2 zero pixels on each side)",
			file, net.Name, net.Input)
	}
	if net.Classes != 10 {
		return 0, fmt.Errorf("%s: network %s has %d classes; -data mnist has 10", file, net.Name, net.Classes)
	}
	return pad, nil
}

// loadMNIST returns MNIST's standard training set (60,000 images) and test
// set (10,000), fitted to net's input (see mnistPad), and a phrase naming
// them for logs.
func loadMNIST(net *ir.Network, file string) (train, test *runtime.Dataset, name string, err error) {
	pad, err := mnistPad(net, file)
	if err != nil {
		return nil, nil, "", err
	}
	if train, test, err = datasets.MNIST(pad); err != nil {
		return nil, nil, "", err
	}
	name = "MNIST"
	if pad > 0 {
		name = fmt.Sprintf("MNIST padded to %v", train.Shape)
	}
	return train, test, name, nil
}

// loadTrainData is loadData for cnngen train, which also accepts -data
// mnist: then the test set is MNIST's own (fixedTest), not a split of data.
// A -scale other than 1 does not apply to MNIST, whose pixels are divided by
// 255.
func loadTrainData(net *ir.Network, file, path string, scale float32) (data, fixedTest *runtime.Dataset, name string, err error) {
	if path != mnistData {
		data, name, err = loadData(net, file, path, scale)
		return data, nil, name, err
	}
	if scale != 1 {
		return nil, nil, "", usageError{"-scale applies only to a CSV -data file: MNIST's pixels are divided by 255"}
	}
	data, fixedTest, name, err = loadMNIST(net, file)
	if err != nil {
		return nil, nil, "", err
	}
	return data, fixedTest, name + " (its standard training and test sets, not a random split)", nil
}

// split returns the training and test sets of a run with the given test
// fraction and seed: the job's data and its fixed test set when it has one
// (MNIST), else a seeded random split of the data.
func (j *trainJob) split(testFraction float64, seed uint64) (train, test *runtime.Dataset, err error) {
	if j.fixedTest != nil {
		return j.data, j.fixedTest, nil
	}
	return j.data.Split(testFraction, seed)
}

// trainSize is the number of training samples of a run with the given test
// fraction (see split).
func (j *trainJob) trainSize(testFraction float64) int {
	if j.fixedTest != nil {
		return j.data.Len()
	}
	return j.data.Len() - runtime.TestSize(j.data.Len(), testFraction)
}

// mnistTest is the held-out set of eval for -data mnist: MNIST's 10,000
// test images, fitted to the network's input, and a phrase naming them.
func (t *trained) mnistTest() (*runtime.Dataset, string, error) {
	_, test, name, err := loadMNIST(t.net, t.file)
	if err != nil {
		return nil, "", err
	}
	return test, fmt.Sprintf("the %d test images of %s", test.Len(), name), nil
}

// readInputs returns the samples that -data names for predict and show and
// the name of their source: the CSV file at path (see runtime.ReadInputs,
// values multiplied by scale), or for -data mnist MNIST's 10,000 test
// images with their labels, fitted to the network's input.
func (t *trained) readInputs(path string, scale float32) (*runtime.Inputs, string, error) {
	if path == mnistData {
		if scale != 1 {
			return nil, "", usageError{"-scale applies only to a CSV -data file: MNIST's pixels are divided by 255"}
		}
		test, name, err := t.mnistTest()
		if err != nil {
			return nil, "", err
		}
		return &runtime.Inputs{Shape: test.Shape, X: test.X, Labels: test.Y}, name, nil
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
	in, err := limits.ReadInputs(f, path, t.net.Input, t.net.Classes, scale)
	return in, path, dataLimitHint(err)
}
