package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/cnngen/cnngen/datasets"
	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/viz"
)

func init() {
	register(&command{
		name:    "show",
		summary: "draw a trained network's conv filters and an image's feature maps (PNG)",
		run:     runShow,
	})
}

const showUsage = `-load CHECKPOINT -o PICTURE.png [flags] [FILE]

Builds the network that the description FILE (default: the built-in
examples/digits.yaml) describes, loads the weights of CHECKPOINT and draws,
as in the tutorial's figures:

  - the learned filters of every conv layer, one grey tile per filter (and
    per input channel), each scaled to its own range: black is its smallest
    weight, white its largest;
  - one input image (-image N: sample N, from 0, of the built-in digits in
    file order, or of the -data CSV file) and its feature maps after each
    conv layer (after the activation that follows it, if any) and after each
    pooling layer, one tile per channel, each scaled to its own range (a
    map that is constant, such as one that ReLU zeroed, is black).

Everything goes into one PNG unless -maps names a second file for the image
and its feature maps. Pixels are magnified so that every tile is about 48
pixels wide.

Flags may come before or after FILE.

flags:`

// runShow is the show command.
func runShow(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("show", showUsage, stderr)
	load := fs.String("load", "", "the checkpoint `file` (required)")
	rename := renames{}
	fs.Var(rename, "rename", renameUsage)
	out := fs.String("o", "", "write the picture to `file`.png (required)")
	maps := fs.String("maps", "", "write the input image and its feature maps to this separate `file`.png")
	index := fs.Int("image", 0, "the sample `N` (from 0) whose feature maps to draw")
	dataPath := fs.String("data", "", "take the image from the CSV `file`, or from MNIST's test images (-data mnist), instead of the built-in digits")
	scale := fs.Float64("scale", 1, "multiply every value of the -data file by `factor`")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *load == "" {
		return usageError{"-load CHECKPOINT is required"}
	}
	if *out == "" {
		return usageError{"-o PICTURE.png is required"}
	}
	if *maps != "" && sameFile(*maps, *out) {
		return usageError{"-maps must name another file than -o"}
	}
	if *index < 0 {
		return usageError{fmt.Sprintf("-image %d: want 0 or more", *index)}
	}
	if set["scale"] && *dataPath == "" {
		return usageError{"-scale applies only to a -data file"}
	}
	inputs := []pathArg{{flag: "-load", what: "checkpoint", path: *load}}
	if *dataPath != mnistData {
		inputs = append(inputs, pathArg{flag: "-data", what: "file", path: *dataPath})
	}
	if len(files) == 1 {
		inputs = append(inputs, pathArg{flag: "description", what: "FILE", path: files[0]})
	}
	if err := checkOutputs(inputs, []pathArg{{flag: "-o", path: *out}, {flag: "-maps", path: *maps}}); err != nil {
		return err
	}
	t, err := loadTrained(files, *load, rename, stderr)
	if err != nil {
		return err
	}

	filters, err := filterSections(t)
	if err != nil {
		return err
	}
	if len(filters) == 0 {
		fmt.Fprintf(stderr, "cnngen: network %s has no conv layer: drawing no filters\n", t.net.Name)
	}
	image, source, label, err := showImage(t, *dataPath, float32(*scale), *index)
	if err != nil {
		return err
	}
	mapSections, err := featureMaps(t, image, fmt.Sprintf("input: sample %d of %s%s", *index, source, label))
	if err != nil {
		return err
	}

	write := func(path, what string, sections []viz.Section) error {
		img, err := viz.Sheet(sections)
		if err != nil {
			return err
		}
		if err := viz.WritePNG(path, img); err != nil {
			return err
		}
		b := img.Bounds()
		reportWrote(stderr, path, fmt.Sprintf("%s, %dx%d", what, b.Dx(), b.Dy()))
		return nil
	}
	if *maps == "" {
		what := "conv filters and feature maps"
		if len(filters) == 0 {
			what = "feature maps"
		}
		return write(*out, what, append(filters, mapSections...))
	}
	if len(filters) > 0 {
		if err := write(*out, "conv filters", filters); err != nil {
			return err
		}
	}
	return write(*maps, "feature maps", mapSections)
}

// filterSections returns a section per conv layer showing its filters.
func filterSections(t *trained) ([]viz.Section, error) {
	var sections []viz.Section
	params := t.model.Params()
	for _, l := range t.net.Layers {
		if l.Kind != runtime.Conv2D {
			continue
		}
		title := fmt.Sprintf("%s filters: %d of %dx%d", l.Name, l.Filters, l.KernelH, l.KernelW)
		if l.In.Channels > 1 {
			title = fmt.Sprintf("%s filters: %d rows of %d channels, %dx%d", l.Name, l.Filters, l.In.Channels, l.KernelH, l.KernelW)
		}
		s, err := viz.FilterSection(title, params[l.Weight])
		if err != nil {
			return nil, err
		}
		sections = append(sections, s)
	}
	return sections, nil
}

// showImage returns sample index of the image source (the CSV file at path,
// else the built-in digits), the source's name, and ", label N" when the
// sample has a label.
func showImage(t *trained, path string, scale float32, index int) (sample []float32, source, label string, err error) {
	var in *runtime.Inputs
	if path == "" {
		d, err := datasets.Digits()
		if err != nil {
			return nil, "", "", err
		}
		if d.Shape != t.net.Input {
			return nil, "", "", fmt.Errorf("%s: network %s takes %v inputs, the built-in digits are %v: give -data CSV",
				t.file, t.net.Name, t.net.Input, d.Shape)
		}
		in, source = &runtime.Inputs{Shape: d.Shape, X: d.X, Labels: d.Y}, datasets.DigitsFile
	} else if in, source, err = t.readInputs(path, scale); err != nil {
		return nil, "", "", err
	}
	if index >= in.Len() {
		return nil, "", "", usageError{fmt.Sprintf("-image %d: %s has %s (0..%d)", index, source, count(in.Len(), "sample"), in.Len()-1)}
	}
	size := in.Shape.Size()
	if in.Labeled() {
		label = fmt.Sprintf(", label %d", in.Labels[index])
	}
	return in.X[index*size : (index+1)*size], source, label, nil
}

// featureMaps returns the sections of the input image (titled title) and of
// its feature maps: after each conv layer (after the activation that
// follows it, if one does) and after each pooling layer.
func featureMaps(t *trained, image []float32, title string) ([]viz.Section, error) {
	outs, err := t.model.LayerOutputs(image)
	if err != nil {
		return nil, err
	}
	input, err := viz.MapSection(title, image, t.net.Input)
	if err != nil {
		return nil, err
	}
	sections := []viz.Section{input}
	for i, o := range outs {
		var title string
		switch o.Kind {
		case runtime.Conv2D:
			if i+1 < len(outs) && isActivation(outs[i+1].Kind) {
				continue // drawn after its activation
			}
			title = fmt.Sprintf("%s: %v", o.Name, o.Shape)
		case runtime.ReLU, runtime.Sigmoid, runtime.Tanh:
			if i == 0 || outs[i-1].Kind != runtime.Conv2D {
				continue
			}
			title = fmt.Sprintf("%s + %s: %v", outs[i-1].Name, o.Name, o.Shape)
		case runtime.MaxPool, runtime.AvgPool:
			title = fmt.Sprintf("%s (%s): %v", o.Name, o.Kind, o.Shape)
		default:
			continue
		}
		s, err := viz.MapSection(title, o.Values, o.Shape)
		if err != nil {
			return nil, err
		}
		sections = append(sections, s)
	}
	return sections, nil
}

func isActivation(k runtime.LayerKind) bool {
	return k == runtime.ReLU || k == runtime.Sigmoid || k == runtime.Tanh
}
