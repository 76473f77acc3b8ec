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
	if len(n.Layers) == 0 || n.Layers[len(n.Layers)-1].Kind != runtime.Softmax {
		t.Fatalf("%s: accepted a network that does not end with softmax", file)
	}
	names := map[string]bool{}
	prev := n.Input
	params := 0
	for i, l := range n.Layers {
		if cerr := spec.CheckIdent(l.Name); cerr != nil {
			t.Errorf("%s: accepted layer name: %v", file, cerr)
		}
		if names[strings.ToLower(l.Name)] {
			t.Errorf("%s: accepted duplicate layer name %q", file, l.Name)
		}
		names[strings.ToLower(l.Name)] = true
		if l.Kind == runtime.Softmax && i != len(n.Layers)-1 {
			t.Errorf("%s: softmax at %d of %d", file, i, len(n.Layers))
		}
		if l.In != prev || l.Out.Height < 1 || l.Out.Width < 1 || l.Out.Channels < 1 {
			t.Errorf("%s: layer %s: %v -> %v after %v", file, l.Name, l.In, l.Out, prev)
		}
		prev = l.Out
		if l.HasParams() {
			w, b := n.Params[l.Weight], n.Params[l.Bias]
			if w.Layer != l.Name || b.Layer != l.Name || w.Size()+b.Size() != l.ParamCount {
				t.Errorf("%s: layer %s: params %+v %+v, count %d", file, l.Name, w, b, l.ParamCount)
			}
			if l.Kind == runtime.Dense && w.InShape.Size() != w.Shape[0] {
				t.Errorf("%s: layer %s: weight InShape %v for %d inputs", file, l.Name, w.InShape, w.Shape[0])
			}
		}
		params += l.ParamCount
	}
	sizes := 0
	for _, p := range n.Params {
		sizes += p.Size()
	}
	if sizes != params || params > spec.MaxParams || n.Classes < 2 {
		t.Errorf("%s: params %d (tensors %d), classes %d", file, params, sizes, n.Classes)
	}
}
