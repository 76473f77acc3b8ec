package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/cnngen/cnngen/gen/emit"
	"github.com/cnngen/cnngen/gen/onnx"
	"github.com/cnngen/cnngen/runtime/checkpoint"
)

func init() {
	register(&command{
		name:    "import",
		summary: "turn an ONNX model into a description and a checkpoint",
		run:     runImport,
	})
}

const importUsage = `[-o NAME] MODEL.onnx

Reads the ONNX model MODEL.onnx (a fixed-shape CNN in NCHW layout, at most
256 MiB) and writes NAME.yaml, its network description, and
NAME.safetensors, its weights as a checkpoint in PyTorch's layouts that
train -init, eval and predict -load read. NAME defaults to MODEL's path
without .onnx; the network is named after NAME's base name. The
description's train section is a placeholder: ONNX models carry no recipe.

The operators cnngen imports: Conv, BatchNormalization, Relu, Clip(0, 6),
LeakyRelu, Sigmoid, Tanh, MaxPool, AveragePool, GlobalAveragePool, Gemm,
MatMul+Add, Flatten, Reshape to [N, -1], Add, Concat (channels), Dropout,
Identity, Softmax and a zero Pad before a Conv; padding must be
TensorFlow's same or valid. Anything
else is refused with the node's name, operator and opset.

Flags may come before or after MODEL.

flags:`

// runImport is the import command.
func runImport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", importUsage, stderr)
	out := fs.String("o", "", "write `NAME`.yaml and NAME.safetensors (default: MODEL without .onnx)")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usageError{fmt.Sprintf("want one MODEL.onnx, got %d", len(files))}
	}
	file := files[0]
	name := *out
	if name == "" {
		name = strings.TrimSuffix(file, filepath.Ext(file))
	}
	name = strings.TrimSuffix(name, ".yaml")
	yamlPath, ckptPath := name+".yaml", name+".safetensors"
	data, err := onnx.ReadFile(file)
	if err != nil {
		return err
	}
	m, err := onnx.Import(data, onnx.NetworkName(name))
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	in := []pathArg{{flag: "MODEL", what: "ONNX model", path: file}}
	if err := checkOutputs(in, []pathArg{{flag: "-o", path: yamlPath}, {flag: "-o", path: ckptPath}}); err != nil {
		return err
	}
	if _, err := writeChanged(filepath.Dir(yamlPath), []emit.File{{Name: filepath.Base(yamlPath), Contents: m.YAML}}); err != nil {
		return err
	}
	reportWrote(stderr, yamlPath, fmt.Sprintf("%d layers", len(m.Network.Layers)))
	if err := checkpoint.Save(ckptPath, m.Engine, nil, nil); err != nil {
		return err
	}
	reportWrote(stderr, ckptPath, fmt.Sprintf("%d tensors", len(m.Engine.Params())+len(m.Engine.Buffers())))
	return nil
}
