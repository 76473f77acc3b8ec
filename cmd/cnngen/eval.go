package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/cnngen/cnngen/datasets"
	"github.com/cnngen/cnngen/runtime"
)

func init() {
	register(&command{
		name:    "eval",
		summary: "score a trained network: accuracy, precision/recall per class, confusion matrix",
		run:     runEval,
	})
}

const evalUsage = `-load CHECKPOINT [flags] [FILE]

Builds the network that the description FILE (default: the built-in
examples/digits.yaml) describes, loads the weights of CHECKPOINT (a
safetensors file written by cnngen train -save, or a PyTorch state_dict of
the same architecture) and scores it: the accuracy, then per class the
precision, recall, F1 score and support (the number of samples of that
class), then the confusion matrix, a row per true class and a column per
predicted class.

The data is the test split of the built-in digits that cnngen train holds
out (the description's test fraction, with the seed recorded in the
checkpoint, else the description's, unless -seed is given), or the whole of
the CSV file that -data names (H·W·C values in HWC order then the label per
line, optionally gzip-compressed), or with -data mnist the 10,000 test
images of the embedded MNIST.

A regression network (loss mse) is scored on the whole -data file (values
then targets per line, or only the values for an autoencoder): the loss
summed over the samples and outputs, per sample, and as PyTorch's mean
MSELoss; for an autoencoder (target: input) also the distribution of the
per-sample reconstruction error (mean, min, median, 90th and 99th
percentiles, max).

The network's outputs must be finite: when some sample's are not (NaN or
±Inf: inputs so large that a sum overflows, or weights that are not
finite), eval prints no report and exits with status 1, naming each such
sample by its line in the data file.

Flags may come before or after FILE.

flags:`

// runEval is the eval command.
func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", evalUsage, stderr)
	load := fs.String("load", "", "the checkpoint `file` to evaluate (required)")
	rename := renames{}
	fs.Var(rename, "rename", renameUsage)
	dataPath := fs.String("data", "", "evaluate on the whole CSV `file`, or on MNIST's test images (-data mnist), instead of the digits test split")
	scale := fs.Float64("scale", 1, "multiply every value of the -data file by `factor` (e.g. 0.0625 for 0..16 pixels)")
	seed := fs.Uint64("seed", 0, "the seed of the digits train/test split (default: the checkpoint's, else the description's)")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["scale"] && *dataPath == "" {
		return usageError{"-scale applies only to a -data file"}
	}
	if set["seed"] && *dataPath != "" {
		return usageError{"-seed chooses the digits test split: it does not apply to a -data file"}
	}
	t, err := loadTrained(files, *load, rename, stderr)
	if err != nil {
		return err
	}
	splitSeed, err := t.splitSeed(*seed, set["seed"])
	if err != nil {
		return err
	}
	data, what, err := t.heldOut(*dataPath, float32(*scale), splitSeed)
	if err != nil {
		return err
	}
	source := *dataPath
	switch *dataPath {
	case "":
		source = datasets.DigitsFile
	case mnistData:
		source = what
	}
	if err := checkFiniteOutputs(t.model, data.X, &nonFinite{source: source, lines: data.Lines}); err != nil {
		return fmt.Errorf("%s: %v", what, err)
	}
	report, err := evalReport(t, data, what)
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, report)
	return err
}

// evalReport scores the trained network on data, which what names, and
// returns the report: a classifier's accuracy, per-class table and
// confusion matrix, or a regression network's loss.
func evalReport(t *trained, data *runtime.Dataset, what string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: weights %s\n", t.net.Name, t.describe())
	fmt.Fprintf(&b, "evaluated on %s\n", what)
	if isRegression(t.net) {
		s, err := runtime.EvaluateRegression(t.model, data)
		if err != nil {
			return "", err
		}
		if err := writeRegressionReport(&b, t.net, s); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	c, err := runtime.ConfusionOf(t.model, data)
	if err != nil {
		return "", err
	}
	if err := writeReport(&b, c); err != nil {
		return "", err
	}
	return b.String(), nil
}

// writeReport prints the accuracy, the per-class table and the confusion
// matrix of c, in right-aligned columns.
func writeReport(w io.Writer, c *runtime.Confusion) error {
	var b strings.Builder
	fmt.Fprintf(&b, "accuracy %v\n\n", c.Score())

	// Column widths: the headers', and the support column's largest count.
	supportW := max(len("support"), len(fmt.Sprint(c.Total())))
	fmt.Fprintf(&b, "%9s  %9s  %6s  %5s  %*s\n", "class", "precision", "recall", "f1", supportW, "support")
	for k := range c.Classes {
		fmt.Fprintf(&b, "%9d  %9.3f  %6.3f  %5.3f  %*d\n", k, c.Precision(k), c.Recall(k), c.F1(k), supportW, c.Support(k))
	}
	p, r, f := c.MacroAverage()
	fmt.Fprintf(&b, "%9s  %9.3f  %6.3f  %5.3f  %*d\n", "macro avg", p, r, f, supportW, c.Total())

	fmt.Fprintln(&b, "\nconfusion matrix (rows: true class, columns: predicted class)")
	cellW := len(fmt.Sprint(c.Classes - 1))
	for _, n := range c.Counts {
		cellW = max(cellW, len(fmt.Sprint(n)))
	}
	fmt.Fprintf(&b, "%9s", "true\\pred")
	for k := range c.Classes {
		fmt.Fprintf(&b, " %*d", cellW, k)
	}
	b.WriteByte('\n')
	for t := range c.Classes {
		fmt.Fprintf(&b, "%9d", t)
		for p := range c.Classes {
			fmt.Fprintf(&b, " %*d", cellW, c.At(t, p))
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
