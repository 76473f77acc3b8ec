package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
)

// isRegression reports whether net is trained against real-valued targets
// (the mse loss) rather than class labels.
func isRegression(net *ir.Network) bool { return net.Train.Loss == runtime.SquaredError }

// isAutoencoder reports whether net is a regression network whose targets
// are its inputs.
func isAutoencoder(net *ir.Network) bool {
	return isRegression(net) && net.Train.Target == runtime.TargetInput
}

// describeTargets says where a regression network's targets come from.
func describeTargets(net *ir.Network) string {
	if isAutoencoder(net) {
		return "each sample is its own target"
	}
	if net.Classes == 1 {
		return "the last column is the target"
	}
	return fmt.Sprintf("the last %d columns are the targets", net.Classes)
}

// loadRegressionData reads the data set of a regression network from the
// CSV file at path: each line's values, then its targets unless the network
// is an autoencoder. There is no built-in regression data.
func loadRegressionData(net *ir.Network, file, path string, scale float32) (*runtime.Dataset, string, error) {
	if path == "" {
		return nil, "", fmt.Errorf("%s: network %s is a regression network (loss %s): give -data CSV, %d values per line (%v in HWC order), then %d targets",
			file, net.Name, runtime.SquaredError, net.Input.Size(), net.Input, net.Classes)
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
	d, err := limits.ReadRegressionCSV(f, path, net.Input, net.Classes, net.Train.Target, scale)
	return d, path, dataLimitHint(err)
}

// writeRegressionTest prints a regression run's score on its test set.
func writeRegressionTest(w io.Writer, s runtime.RegressionScore) {
	fmt.Fprintf(w, "test %v\n", s)
}

// runSeedsRegression is runSeeds for a regression network: it prints each
// seed's test loss, then their mean and the worst.
func (j *trainJob) runSeedsRegression(cfg runtime.TrainConfig, seeds []uint64, stdout, stderr io.Writer) error {
	fmt.Fprintf(stdout, "%s: %d samples, %s, engine %s\n", j.net.Name, j.data.Len(), count(len(seeds), "seed"), j.engine)
	fmt.Fprintf(stdout, "%s\n", describeRecipe(cfg, j.data.Len()-runtime.TestSize(j.data.Len(), cfg.TestFraction)))
	var sum, worst float64
	var worstSeed uint64
	for i, seed := range seeds {
		cfg.Seed = seed
		train, test, err := j.data.Split(cfg.TestFraction, seed)
		if err != nil {
			return err
		}
		if test.Len() == 0 {
			return fmt.Errorf("-seeds needs a test set: the description's test fraction is 0")
		}
		res, err := j.run(train, test, cfg, runtime.TrainOptions{})
		if err != nil {
			return fmt.Errorf("seed %d: %v", seed, err)
		}
		mse := res.TestError.MeanSquaredError()
		fmt.Fprintf(stdout, "seed %d  test %v  final cost/sample %.4f\n", seed, res.TestError, res.Last.Cost)
		fmt.Fprintf(stderr, "cnngen: seed %d: %s in %v (%v/step)\n", seed, count(res.Steps, "step"),
			res.Duration.Round(time.Millisecond), perStep(res))
		sum += mse
		if i == 0 || mse > worst {
			worst, worstSeed = mse, seed
		}
	}
	fmt.Fprintf(stdout, "%s: mean test mse %.4g, max %.4g (seed %d)\n",
		count(len(seeds), "seed"), sum/float64(len(seeds)), worst, worstSeed)
	return nil
}

// errorQuantiles are the quantiles of the per-sample error that eval
// reports for an autoencoder, with their labels.
var errorQuantiles = []struct {
	label string
	q     float64
}{{"min", 0}, {"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"max", 1}}

// writeRegressionReport prints a regression network's loss on the data
// scored by s and, for an autoencoder, the distribution of its per-sample
// reconstruction error.
func writeRegressionReport(w io.Writer, net *ir.Network, s runtime.RegressionScore) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "loss %.6g (sum of squared errors over %s × %s)\n", s.Loss, count(s.Samples, "sample"), count(s.Outputs, "output"))
	fmt.Fprintf(bw, "loss per sample %.6g\n", s.LossPerSample())
	fmt.Fprintf(bw, "mse %.6g (mean over samples and outputs, as PyTorch's MSELoss)\n", s.MeanSquaredError())
	if isAutoencoder(net) {
		fmt.Fprintf(bw, "\nreconstruction error per sample (mean squared error over its %d values)\n", s.Outputs)
		fmt.Fprintf(bw, "%10s", "mean")
		for _, q := range errorQuantiles {
			fmt.Fprintf(bw, "  %10s", q.label)
		}
		fmt.Fprintf(bw, "\n%10.4g", s.MeanSquaredError())
		for _, q := range errorQuantiles {
			fmt.Fprintf(bw, "  %10.4g", s.SampleErrorQuantile(q.q))
		}
		fmt.Fprintln(bw)
	}
	return bw.Flush()
}

// predictRegression prints a regression network's outputs for each sample
// of the CSV file at path: its number (from 1) and every output value. When
// the file has targets (or the network is an autoencoder, whose targets are
// its inputs) it reports the loss against them on stderr. Values have 6
// significant digits, or with full all the digits of a float32.
func predictRegression(t *trained, path string, scale float32, full bool, stdout, stderr io.Writer) error {
	limits, err := dataLimits()
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	net := t.net
	var d *runtime.Dataset
	if isAutoencoder(net) {
		d, err = limits.ReadRegressionCSV(f, path, net.Input, net.Classes, runtime.TargetInput, scale)
	} else {
		var in *runtime.Inputs
		in, err = limits.ReadRegressionInputs(f, path, net.Input, net.Classes, scale)
		if in != nil {
			d = &runtime.Dataset{Shape: in.Shape, X: in.X, Outputs: in.Outputs, Targets: in.Targets}
		}
	}
	if err != nil {
		return dataLimitHint(err)
	}
	n := len(d.X) / d.Shape.Size()
	outputs := net.Classes
	bw := bufio.NewWriter(stdout)
	sampleW := max(len("sample"), len(fmt.Sprint(n)))
	fmt.Fprintf(bw, "%*s", sampleW, "sample")
	width := 12
	if full {
		width = fullW
	}
	for k := range outputs {
		fmt.Fprintf(bw, "  %*s", width, fmt.Sprintf("y%d", k))
	}
	fmt.Fprintln(bw)
	size := d.Shape.Size()
	out := make([]float32, min(predictChunk, n)*outputs)
	s := runtime.RegressionScore{Samples: n, Outputs: outputs}
	nf := &nonFinite{source: path, lines: d.Lines}
	for lo := 0; lo < n; lo += predictChunk {
		hi := min(lo+predictChunk, n)
		chunk := out[:(hi-lo)*outputs]
		t.model.Forward(d.X[lo*size:hi*size], chunk)
		for i := lo; i < hi; i++ {
			y := chunk[(i-lo)*outputs : (i-lo+1)*outputs]
			nf.check(i, y)
			fmt.Fprintf(bw, "%*d", sampleW, i+1)
			for _, v := range y {
				if full {
					fmt.Fprintf(bw, "  %*s", width, fullFloat(v))
				} else {
					fmt.Fprintf(bw, "  %12.6g", v)
				}
			}
			fmt.Fprintln(bw)
			if d.Regression() {
				for k, target := range d.Target(i) {
					diff := float64(y[k]) - float64(target)
					s.Loss += diff * diff
				}
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if d.Regression() {
		against := "the targets"
		if d.InputTargets {
			against = "the inputs"
		}
		fmt.Fprintf(stderr, "cnngen: %v against %s of %s\n", s, against, path)
	}
	return nf.err()
}
