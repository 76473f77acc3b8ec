package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/onnx"
	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
)

// TestExportCommand exports a checkpoint of examples/lenet5.yaml, imports
// the ONNX model back and compares its outputs with the checkpoint's.
func TestExportCommand(t *testing.T) {
	dir := t.TempDir()
	src, err := examples.FS.ReadFile("lenet5.yaml")
	if err != nil {
		t.Fatal(err)
	}
	desc := filepath.Join(dir, "lenet5.yaml")
	if err := os.WriteFile(desc, src, 0o644); err != nil {
		t.Fatal(err)
	}
	net := example(t, "lenet5.yaml")
	ckpt := saveInitial(t, net)
	out := filepath.Join(dir, "lenet5.onnx")
	code, stdout, stderr := runCLI("export", "-onnx", out, "-load", ckpt, desc)
	if code != 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if !regexp.MustCompile(`^cnngen: wrote .*lenet5\.onnx \(ONNX opset 13, network lenet5, \d+ layers\)\n$`).MatchString(stderr) {
		t.Errorf("stderr %q", stderr)
	}
	data, err := onnx.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Import(data, "back")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := runtime.NewGeneric(net.Arch())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkpoint.Load(ckpt, eng, nil); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 2*eng.InputShape().Size())
	for i := range x {
		x[i] = float32(i%17) / 17
	}
	want := make([]float32, 2*eng.Classes())
	got := make([]float32, 2*m.Engine.Classes())
	eng.Forward(x, want)
	m.Engine.Forward(x, got)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("output %d: %v after the round trip, want %v", i, got[i], want[i])
		}
	}
}

// TestExportCommandErrors checks the command line's refusals.
func TestExportCommandErrors(t *testing.T) {
	dir := t.TempDir()
	ckpt := initialCheckpoint(t, "digits.yaml")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-load", ckpt}, 2, "-onnx OUT.onnx is required"},
		{[]string{"-onnx", filepath.Join(dir, "x.onnx")}, 2, "-load CHECKPOINT is required"},
		{[]string{"-onnx", ckpt, "-load", ckpt}, 2, "would overwrite the -load checkpoint"},
		{[]string{"-onnx", filepath.Join(dir, "no", "x.onnx"), "-load", ckpt}, 1, ""},
		{[]string{"-onnx", filepath.Join(dir, "x.onnx"), "-load", ckpt, "a.yaml", "b.yaml"}, 2, "want at most one description FILE"},
	} {
		code, _, stderr := runCLI(append([]string{"export"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d with %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.onnx")); err == nil {
		t.Errorf("a refused command wrote x.onnx")
	}
}
