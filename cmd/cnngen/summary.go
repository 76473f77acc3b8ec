package main

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
)

func init() {
	register(&command{
		name:    "summary",
		summary: "print a network's layers: shapes, parameters, MACs and memory",
		run:     runSummary,
	})
}

func runSummary(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("summary", "FILE\n\nPrints the description's layers with their inputs (for graphs), settings, output\nshapes, parameter counts, multiply-accumulates and activation bytes per sample,\nthen the totals (trained parameters and batch norm running statistics apart).", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"want one description file"}
	}
	n, err := ir.LoadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	return writeSummary(stdout, n)
}

// writeSummary prints the layer table of n, its totals and its recipe. The
// INPUTS column appears when the network is not a chain (some layer does not
// take the one before it), and SETTINGS when some layer has settings beyond
// its window (groups, no bias, batchnorm, dropout, leaky_relu).
func writeSummary(w io.Writer, n *ir.Network) error {
	var b strings.Builder
	outputs := fmt.Sprintf("%d classes", n.Classes)
	if n.Train.Loss == runtime.SquaredError {
		outputs = fmt.Sprintf("%d outputs (regression)", n.Classes)
	}
	fmt.Fprintf(&b, "network %s: input %s, %s\n\n", n.Name, n.Input, outputs)
	graph, settings := false, false
	for i, l := range n.Layers {
		graph = graph || len(l.Inputs) != 1 || l.Inputs[0] != i-1
		settings = settings || layerSettings(l) != ""
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	cols := []string{"LAYER", "KIND"}
	if graph {
		cols = append(cols, "INPUTS")
	}
	cols = append(cols, "WINDOW")
	if settings {
		cols = append(cols, "SETTINGS")
	}
	fmt.Fprintln(tw, strings.Join(append(cols, "PAD T B L R", "OUTPUT", "PARAMS", "MACS", "ACTIVATION BYTES"), "\t"))
	for _, l := range n.Layers {
		geom, pad := l.Geometry(), "-"
		switch {
		case !l.Pos.IsValid():
			geom = "(implicit)"
		case geom == "":
			geom = "-"
		}
		if l.PadTop+l.PadBottom+l.PadLeft+l.PadRight > 0 {
			pad = fmt.Sprintf("%d %d %d %d", l.PadTop, l.PadBottom, l.PadLeft, l.PadRight)
		}
		// Flat outputs (1x1xN) are vectors: show their length alone.
		out := l.Out.String()
		if flatSource(n, l) {
			out = fmt.Sprint(l.Out.Size())
		}
		row := []string{l.Name, string(l.Kind)}
		if graph {
			row = append(row, inputNames(n, l))
		}
		row = append(row, geom)
		if settings {
			row = append(row, cmp.Or(layerSettings(l), "-"))
		}
		row = append(row, pad, out, fmt.Sprint(l.ParamCount), fmt.Sprint(l.MACs), fmt.Sprint(l.ActivationBytes))
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	t := n.Totals()
	// Leave every column between LAYER and PARAMS empty.
	blank := strings.Repeat("\t", len(cols)+2)
	fmt.Fprintf(tw, "total%s%d\t%d\t%d\n", blank, t.Params, t.MACs, t.ActivationBytes)
	if err := tw.Flush(); err != nil {
		return err
	}
	if t.BatchNorms > 0 {
		layers := "layers, each with"
		if t.BatchNorms == 1 {
			layers = "layer, with"
		}
		fmt.Fprintf(&b, "\nparameters: %d trained, %d running statistics (the means and variances of %d batchnorm %s a batch counter)\n",
			t.Params, t.RunningStats, t.BatchNorms, layers)
	}
	fmt.Fprintf(&b, "\ntrain: %s\n", recipe(n.Train, n.Classes))
	_, err := io.WriteString(w, b.String())
	return err
}

// flatSource reports whether l's output is a vector: whether a flatten or
// dense layer is upstream of it through layers that keep their input's
// shape.
func flatSource(n *ir.Network, l ir.Layer) bool {
	for {
		switch l.Kind {
		case runtime.Flatten, runtime.Dense:
			return true
		case runtime.Conv2D, runtime.MaxPool, runtime.AvgPool, runtime.GlobalAvgPool:
			return false
		}
		if l.Inputs[0] < 0 {
			return false
		}
		l = n.Layers[l.Inputs[0]]
	}
}

// inputNames lists the layers that feed l, "input" for the network's input.
func inputNames(n *ir.Network, l ir.Layer) string {
	names := make([]string, len(l.Inputs))
	for i, k := range l.Inputs {
		names[i] = runtime.InputName
		if k >= 0 {
			names[i] = n.Layers[k].Name
		}
	}
	return strings.Join(names, ",")
}

// layerSettings describes what a layer sets besides its window, or "".
func layerSettings(l ir.Layer) string {
	var parts []string
	if g := l.GroupCount(); l.Kind == runtime.Conv2D && g > 1 {
		parts = append(parts, fmt.Sprintf("groups %d", g))
	}
	if l.NoBias {
		parts = append(parts, "no bias")
	}
	switch l.Kind {
	case runtime.BatchNorm:
		parts = append(parts, fmt.Sprintf("momentum %g epsilon %g", l.Momentum, l.Epsilon))
	case runtime.Dropout:
		parts = append(parts, fmt.Sprintf("rate %g", l.Rate))
	case runtime.LeakyReLU:
		parts = append(parts, fmt.Sprintf("alpha %g", l.Alpha))
	}
	return strings.Join(parts, ", ")
}

// recipe describes a training recipe in one line.
func recipe(t runtime.TrainConfig, outputs int) string {
	o := t.Optimizer
	parts := []string{fmt.Sprintf("softmax cross-entropy (%s)", t.Reduction)}
	if t.Loss == runtime.SquaredError {
		target := fmt.Sprintf("the last %d columns", outputs)
		if t.Target == runtime.TargetInput {
			target = "the input"
		}
		parts[0] = fmt.Sprintf("mse (%s) against %s", t.Reduction, target)
	}
	opt := fmt.Sprintf("%s lr %g", o.Kind, o.LearningRate)
	switch o.Kind {
	case runtime.Momentum:
		opt += fmt.Sprintf(" momentum %g", o.Momentum)
		if o.Nesterov {
			opt += " nesterov"
		}
	case runtime.Adam:
		opt += fmt.Sprintf(" beta1 %g beta2 %g epsilon %g", o.Beta1, o.Beta2, o.Epsilon)
	}
	if o.WeightDecay != 0 {
		opt += fmt.Sprintf(" weight decay %g", o.WeightDecay)
	}
	switch o.Schedule.Kind {
	case runtime.StepDecay:
		opt += fmt.Sprintf(", ×%g every %s", o.Schedule.Gamma, count(o.Schedule.StepSize, "step"))
	case runtime.Cosine:
		opt += ", cosine schedule"
	}
	parts = append(parts, opt)
	if t.BatchSize == 0 {
		parts = append(parts, "full batch")
	} else {
		parts = append(parts, fmt.Sprintf("batch %d", t.BatchSize))
	}
	if t.Epochs > 0 {
		parts = append(parts, count(t.Epochs, "epoch"))
	} else {
		parts = append(parts, count(t.Steps, "step"))
	}
	parts = append(parts, fmt.Sprintf("seed %d", t.Seed), fmt.Sprintf("test fraction %g", t.TestFraction))
	return strings.Join(parts, ", ")
}
