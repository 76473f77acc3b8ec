package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/cnngen/cnngen/gen/emit"
	"github.com/cnngen/cnngen/gen/onnx"
)

func init() {
	register(&command{
		name:    "export",
		summary: "write a trained network as an ONNX model",
		run:     runExport,
	})
}

const exportUsage = `-onnx OUT.onnx -load CHECKPOINT [flags] [FILE]

Builds the network that the description FILE (default: the built-in
examples/digits.yaml) describes, loads the weights of CHECKPOINT and writes
them as the ONNX model OUT.onnx (opset 13), which ONNX Runtime runs with
the same outputs: graph input "input" of [1, C, H, W] (NCHW; [1, K] for a
1×1×K input when no conv or pool layer needs a map), graph output "output" (a classifier's softmax probabilities,
or a regression network's outputs, NCHW for a map). Weights are in
PyTorch's layouts; same padding becomes explicit pads. cnngen import reads
the file back.

Every layer kind is exported; refused is a flattened H×W×C map (H·W > 1,
C > 1) that reaches the output, a softmax, a batchnorm or a concat without a
dense layer between (cnngen orders it HWC, ONNX CHW).

Flags may come before or after FILE.

flags:`

// runExport is the export command.
func runExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", exportUsage, stderr)
	out := fs.String("onnx", "", "write the ONNX model to `file` (required)")
	load := fs.String("load", "", "the checkpoint `file` (required)")
	rename := renames{}
	fs.Var(rename, "rename", renameUsage)
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *out == "" {
		return usageError{"-onnx OUT.onnx is required"}
	}
	if *load == "" {
		return usageError{"-load CHECKPOINT is required"}
	}
	inputs := []pathArg{{flag: "-load", what: "checkpoint", path: *load}}
	if len(files) == 1 {
		inputs = append(inputs, pathArg{flag: "description", what: "FILE", path: files[0]})
	}
	if err := checkOutputs(inputs, []pathArg{{flag: "-onnx", path: *out}}); err != nil {
		return err
	}
	t, err := loadTrained(files, *load, rename, stderr)
	if err != nil {
		return err
	}
	data, err := onnx.Export(t.net, t.model)
	if err != nil {
		return fmt.Errorf("%s: %w", t.file, err)
	}
	if _, err := writeChanged(filepath.Dir(*out), []emit.File{{Name: filepath.Base(*out), Contents: data}}); err != nil {
		return err
	}
	reportWrote(stderr, *out, fmt.Sprintf("ONNX opset %d, network %s, %d layers", onnx.ExportOpset, t.net.Name, len(t.net.Layers)))
	return nil
}
