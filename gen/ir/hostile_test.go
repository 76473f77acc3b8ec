package ir_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/gen/spec"
	"github.com/cnngen/cnngen/runtime"
)

var update = flag.Bool("update", false, "rewrite testdata/hostile.golden from the current output")

// TestHostile loads every description under testdata/hostile (malformed
// YAML, wrong types, aliases, huge numbers, hostile names, ...) and compares
// the answers with testdata/hostile.golden. Run with -update to rewrite the
// golden file after an intended change, and review the diff.
func TestHostile(t *testing.T) {
	files, err := filepath.Glob("testdata/hostile/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no hostile inputs: %v", err)
	}
	var out strings.Builder
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(file)
		out.WriteString("== " + name + "\n")
		n, err := ir.Load(name, data)
		checkLoad(t, name, n, err)
		if err == nil {
			out.WriteString("ok\n")
		} else {
			out.WriteString(err.Error() + "\n")
		}
	}
	const golden = "testdata/hostile.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != string(want) {
		t.Errorf("answers differ from %s (rerun with -update and review the diff):\n%s", golden, got)
	}
}

// FuzzLoad feeds arbitrary bytes to the parser and checker: they must never
// panic, must answer with either a consistent network or a spec.ErrorList of
// one-line errors in the right file.
func FuzzLoad(f *testing.F) {
	entries, _ := examples.FS.ReadDir(".")
	for _, e := range entries {
		data, _ := examples.FS.ReadFile(e.Name())
		f.Add(data)
	}
	files, _ := filepath.Glob("testdata/hostile/*.yaml")
	for _, file := range files {
		data, _ := os.ReadFile(file)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ir.Load("fuzz.yaml", data)
		checkLoad(t, "fuzz.yaml", n, err)
	})
}

// checkLoad checks the invariants of a Load result.
func checkLoad(t *testing.T, file string, n *ir.Network, err error) {
	t.Helper()
	if err != nil {
		var list spec.ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("%s: error %T is not a non-empty spec.ErrorList: %v", file, err, err)
		}
		for _, e := range list {
			if e.Pos.File != file {
				t.Errorf("%s: error in file %q: %v", file, e.Pos.File, e)
			}
			// User text is quoted: it can never start a line of its own.
			if strings.ContainsAny(e.Error(), "\n\r") {
				t.Errorf("%s: error spans lines: %q", file, e.Error())
			}
		}
		return
	}
	if cerr := spec.CheckIdent(n.Name); cerr != nil {
		t.Errorf("%s: accepted network name: %v", file, cerr)
	}
	checkNetwork(t, file, n)
}

// checkNetwork checks the promises of a built network: a topological order
// of valid, unique names, shapes that fit, every layer but the output used,
// an output that matches the loss, and parameters that add up.
func checkNetwork(t *testing.T, file string, n *ir.Network) {
	t.Helper()
	if len(n.Layers) == 0 {
		t.Fatalf("%s: accepted a network without layers", file)
	}
	last := n.Layers[len(n.Layers)-1]
	if classifier := last.Kind == runtime.Softmax; classifier != (n.Train.Loss == runtime.CrossEntropy) {
		t.Errorf("%s: output %s with loss %q", file, last.Kind, n.Train.Loss)
	} else if classifier && n.Classes < 2 || !classifier && n.Classes != last.Out.Size() {
		t.Errorf("%s: %d classes from %s %v", file, n.Classes, last.Kind, last.Out)
	}
	names := map[string]bool{}
	used := make([]bool, len(n.Layers))
	params := 0
	for i, l := range n.Layers {
		if cerr := spec.CheckIdent(l.Name); cerr != nil || strings.EqualFold(l.Name, runtime.InputName) {
			t.Errorf("%s: accepted layer name %q: %v", file, l.Name, cerr)
		}
		if names[strings.ToLower(l.Name)] {
			t.Errorf("%s: accepted duplicate layer name %q", file, l.Name)
		}
		names[strings.ToLower(l.Name)] = true
		if l.Kind == runtime.Softmax && i != len(n.Layers)-1 {
			t.Errorf("%s: softmax at %d of %d", file, i, len(n.Layers))
		}
		if len(l.Inputs) == 0 || (len(l.Inputs) > 1) != (l.Kind == runtime.Add || l.Kind == runtime.Concat) {
			t.Fatalf("%s: layer %s (%s) has inputs %v", file, l.Name, l.Kind, l.Inputs)
		}
		var ins []runtime.Shape
		var inNames []string
		for _, k := range l.Inputs {
			if k < -1 || k >= i {
				t.Fatalf("%s: layer %s at %d takes layer %d", file, l.Name, i, k)
			}
			if k < 0 {
				ins, inNames = append(ins, n.Input), append(inNames, runtime.InputName)
				continue
			}
			used[k] = true
			ins, inNames = append(ins, n.Layers[k].Out), append(inNames, n.Layers[k].Name)
		}
		if spec := l.LayerSpec.Inputs; len(spec) == 0 && !(len(l.Inputs) == 1 && l.Inputs[0] == i-1) ||
			len(spec) > 0 && strings.Join(spec, " ") != strings.Join(inNames, " ") {
			t.Errorf("%s: layer %s: arch inputs %q for %q", file, l.Name, spec, inNames)
		}
		if l.In != ins[0] || l.Out.Height < 1 || l.Out.Width < 1 || l.Out.Channels < 1 {
			t.Errorf("%s: layer %s: %v -> %v after %v", file, l.Name, l.In, l.Out, ins[0])
		}
		channels := 0
		for _, s := range ins {
			channels += s.Channels
			if l.Kind == runtime.Add && s != l.Out || l.Kind == runtime.Concat && (s.Height != l.Out.Height || s.Width != l.Out.Width) {
				t.Errorf("%s: layer %s: input %v for output %v", file, l.Name, s, l.Out)
			}
		}
		if l.Kind == runtime.Concat && channels != l.Out.Channels {
			t.Errorf("%s: layer %s: %d input channels for output %v", file, l.Name, channels, l.Out)
		}
		if l.HasParams() {
			size := n.Params[l.Weight].Size()
			if l.Bias >= 0 {
				size += n.Params[l.Bias].Size()
				if n.Params[l.Bias].Layer != l.Name {
					t.Errorf("%s: layer %s: bias %+v", file, l.Name, n.Params[l.Bias])
				}
			}
			w := n.Params[l.Weight]
			if w.Layer != l.Name || size != l.ParamCount {
				t.Errorf("%s: layer %s: weight %+v, count %d", file, l.Name, w, l.ParamCount)
			}
			if l.Kind == runtime.Dense && w.InShape.Size() != w.Shape[0] {
				t.Errorf("%s: layer %s: weight InShape %v for %d inputs", file, l.Name, w.InShape, w.Shape[0])
			}
		} else if l.ParamCount != 0 || l.Bias >= 0 {
			t.Errorf("%s: layer %s: %d params without a weight", file, l.Name, l.ParamCount)
		}
		params += l.ParamCount
	}
	for i, u := range used[:len(used)-1] {
		if !u {
			t.Errorf("%s: layer %s feeds no layer", file, n.Layers[i].Name)
		}
	}
	sizes := 0
	for _, p := range n.Params {
		sizes += p.Size()
	}
	if sizes != params || params > spec.MaxParams {
		t.Errorf("%s: params %d (tensors %d)", file, params, sizes)
	}
}
