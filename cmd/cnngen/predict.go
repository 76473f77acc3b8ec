package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"

	"github.com/cnngen/cnngen/runtime"
)

func init() {
	register(&command{
		name:    "predict",
		summary: "print a trained network's class (and probabilities) for each row of a CSV file",
		run:     runPredict,
	})
}

const predictUsage = `-load CHECKPOINT -data CSV [flags] [FILE]

Builds the network that the description FILE (default: the built-in
examples/digits.yaml) describes, loads the weights of CHECKPOINT and prints,
for each sample of the CSV file, its number (from 1, in file order) and the
predicted class, with -probs the softmax probability of every class, and with
-logits the raw outputs (the logits z0, z1, …, before the softmax), each in
the shortest form that reads back as the same float32.

Each line of the CSV holds the H·W·C input values in HWC order, optionally
followed by a label column (then shown beside the prediction, and the
accuracy is reported on stderr); the file may be gzip-compressed and start
with a header line. -scale multiplies every value as it is read (0.0625 for
0..16 pixels such as the digits file's).

For a regression network (loss mse) each line of the output holds the
sample's number and all its outputs (to 6 significant digits, or in full
with -logits); lines of the CSV may end with the
targets (then the loss against them is reported on stderr), and an
autoencoder's loss against its inputs is always reported.

A sample whose outputs are not finite (NaN or ±Inf: inputs so large that
a sum overflows, or weights that are not finite) is printed with class "-"
and its probabilities and outputs as they are; once every sample is
printed, predict names each such sample by its line in the CSV file and
exits with status 1.

Flags may come before or after FILE.

flags:`

// predictChunk is the number of samples run through the model at a time.
const predictChunk = 256

// fullW is the width of a column of fullFloat values: the longest float32
// in the shortest form that reads back exactly, "-1.1754944e-38".
const fullW = 14

// fullFloat formats v in the shortest form that parses back to the same
// float32 (strconv's 'g' with precision -1).
func fullFloat(v float32) string {
	return strconv.FormatFloat(float64(v), 'g', -1, 32)
}

// runPredict is the predict command.
func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("predict", predictUsage, stderr)
	load := fs.String("load", "", "the checkpoint `file` (required)")
	rename := renames{}
	fs.Var(rename, "rename", renameUsage)
	dataPath := fs.String("data", "", "the CSV `file` of samples to classify, or mnist for MNIST's test images (required)")
	scale := fs.Float64("scale", 1, "multiply every value of the -data file by `factor`")
	probs := fs.Bool("probs", false, "also print the probability of every class")
	logits := fs.Bool("logits", false, "also print the raw outputs (logits) of every class, in full float32 precision")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *load == "" {
		return usageError{"-load CHECKPOINT is required"}
	}
	if *dataPath == "" {
		return usageError{"-data CSV is required"}
	}
	t, err := loadTrained(files, *load, rename, stderr)
	if err != nil {
		return err
	}
	if isRegression(t.net) {
		if *probs {
			return usageError{"-probs applies only to a classifier (network " + t.net.Name + " is a regression network)"}
		}
		return predictRegression(t, *dataPath, float32(*scale), *logits, stdout, stderr)
	}
	in, source, err := t.readInputs(*dataPath, float32(*scale))
	if err != nil {
		return err
	}

	// Fixed-width columns, so that the output streams (a tabwriter would
	// hold every line until the end to size the columns).
	bw := bufio.NewWriter(stdout)
	classes := t.net.Classes
	sampleW := max(len("sample"), len(fmt.Sprint(in.Len())))
	classW := max(len("label"), len(fmt.Sprint(classes-1)))
	probW := max(6, len(fmt.Sprintf("p%d", classes-1)))
	fmt.Fprintf(bw, "%*s  %*s", sampleW, "sample", classW, "class")
	if in.Labeled() {
		fmt.Fprintf(bw, "  %*s", classW, "label")
	}
	if *probs {
		for k := range classes {
			fmt.Fprintf(bw, "  %*s", probW, fmt.Sprintf("p%d", k))
		}
	}
	if *logits {
		for k := range classes {
			fmt.Fprintf(bw, "  %*s", fullW, fmt.Sprintf("z%d", k))
		}
	}
	fmt.Fprintln(bw)
	size := in.Shape.Size()
	raw := make([]float32, min(predictChunk, in.Len())*classes)
	p := make([]float32, classes)
	correct := 0
	nf := &nonFinite{source: source, lines: in.Lines}
	for lo := 0; lo < in.Len(); lo += predictChunk {
		hi := min(lo+predictChunk, in.Len())
		out := raw[:(hi-lo)*classes]
		t.model.Forward(in.X[lo*size:hi*size], out)
		for i := lo; i < hi; i++ {
			row := out[(i-lo)*classes : (i-lo+1)*classes]
			// No class for outputs that are not finite (Argmax would
			// say 0 for all NaN); the error after the table names them.
			class := -1
			if nf.check(i, row) {
				class = runtime.Argmax(row)
				fmt.Fprintf(bw, "%*d  %*d", sampleW, i+1, classW, class)
			} else {
				fmt.Fprintf(bw, "%*d  %*s", sampleW, i+1, classW, "-")
			}
			if in.Labeled() {
				fmt.Fprintf(bw, "  %*d", classW, in.Labels[i])
				if int(in.Labels[i]) == class {
					correct++
				}
			}
			if *probs {
				runtime.Probabilities(p, row)
				for _, v := range p {
					fmt.Fprintf(bw, "  %*.4f", probW, v)
				}
			}
			if *logits {
				for _, v := range row {
					fmt.Fprintf(bw, "  %*s", fullW, fullFloat(v))
				}
			}
			fmt.Fprintln(bw)
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if in.Labeled() {
		fmt.Fprintf(stderr, "cnngen: accuracy %v against the labels of %s\n",
			runtime.Score{Correct: correct, Total: in.Len()}, source)
	}
	return nf.err()
}
