package main

import (
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
	fs := newFlagSet("summary", "FILE\n\nPrints the description's layers with their output shapes, parameter counts,\nmultiply-accumulates and activation bytes per sample, then the totals.", stderr)
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

// writeSummary prints the layer table of n, its totals and its recipe.
func writeSummary(w io.Writer, n *ir.Network) error {
	var b strings.Builder
	fmt.Fprintf(&b, "network %s: input %s, %d classes\n\n", n.Name, n.Input, n.Classes)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tKIND\tWINDOW\tPAD T B L R\tOUTPUT\tPARAMS\tMACS\tACTIVATION BYTES")
	flat := false
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
		// After flatten, outputs are vectors: show their length alone.
		flat = flat || l.Kind == runtime.Flatten
		out := l.Out.String()
		if flat {
			out = fmt.Sprint(l.Out.Size())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", l.Name, l.Kind, geom, pad, out, l.ParamCount, l.MACs, l.ActivationBytes)
	}
	t := n.Totals()
	fmt.Fprintf(tw, "total\t\t\t\t\t%d\t%d\t%d\n", t.Params, t.MACs, t.ActivationBytes)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\ntrain: %s\n", recipe(n.Train))
	_, err := io.WriteString(w, b.String())
	return err
}

// recipe describes a training recipe in one line.
func recipe(t runtime.TrainConfig) string {
	o := t.Optimizer
	parts := []string{fmt.Sprintf("softmax cross-entropy (%s)", t.Reduction)}
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
		opt += fmt.Sprintf(", ×%g every %d steps", o.Schedule.Gamma, o.Schedule.StepSize)
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
		parts = append(parts, fmt.Sprintf("%d epochs", t.Epochs))
	} else {
		parts = append(parts, fmt.Sprintf("%d steps", t.Steps))
	}
	parts = append(parts, fmt.Sprintf("seed %d", t.Seed), fmt.Sprintf("test fraction %g", t.TestFraction))
	return strings.Join(parts, ", ")
}
