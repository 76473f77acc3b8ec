package emit_test

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/gen/emit"
	"github.com/cnngen/cnngen/gen/ir"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func generate(t *testing.T, n *ir.Network, opts emit.Options) []emit.File {
	t.Helper()
	files, err := emit.Generate(n, opts)
	if err != nil {
		t.Fatalf("%s: %v", n.Name, err)
	}
	return files
}

// TestGolden compares the package generated from each testdata/golden/*.yaml
// with the files of the txtar archive beside it (run with -update to
// rewrite them after an intended change).
func TestGolden(t *testing.T) {
	descs, err := filepath.Glob("testdata/golden/*.yaml")
	must(t, err)
	if len(descs) == 0 {
		t.Fatal("no golden descriptions")
	}
	for _, desc := range descs {
		name := strings.TrimSuffix(filepath.Base(desc), ".yaml")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(desc)
			must(t, err)
			n, err := ir.Load(filepath.Base(desc), src)
			must(t, err)
			files := generate(t, n, emit.Options{Package: name, Source: filepath.Base(desc)})
			got := &txtar.Archive{Comment: []byte("Generated from " + filepath.Base(desc) + " by TestGolden; go test -run Golden -update rewrites it.\n")}
			for _, f := range files {
				got.Files = append(got.Files, txtar.File{Name: f.Name, Data: f.Contents})
			}
			golden := strings.TrimSuffix(desc, ".yaml") + ".txtar"
			if *update {
				must(t, os.WriteFile(golden, txtar.Format(got), 0o644))
				return
			}
			want, err := txtar.ParseFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run Golden -update)", err)
			}
			if len(want.Files) != len(got.Files) {
				t.Fatalf("%d files, golden has %d", len(got.Files), len(want.Files))
			}
			for i, f := range got.Files {
				w := want.Files[i]
				if f.Name != w.Name || !bytes.Equal(f.Data, w.Data) {
					t.Errorf("%s differs from the golden %s (go test -run Golden -update rewrites it):\n%s", f.Name, w.Name, firstDiff(f.Data, w.Data))
				}
			}
		})
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return "line " + itoa(i+1) + ":\n  got:  " + a + "\n  want: " + b
		}
	}
	return "(same lines)"
}

func itoa(i int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
		if i == 0 {
			return string(b)
		}
	}
}

// TestDeterministicAndFormatted generates every example and random network
// twice: the bytes must be equal, gofmt must leave the Go files unchanged,
// and every file must start with the generated-code header.
func TestDeterministicAndFormatted(t *testing.T) {
	t.Parallel() // CPU-bound in this process, beside the tests that wait on child processes
	nets := append(append(exampleNets(t), randomNets(t, 1, randomCount)...), randomGraphNets(t, 1, graphCount, false)...)
	for _, nt := range append(nets, randomGraphNets(t, 2, graphCount, true)...) {
		opts := emit.Options{Package: nt.pkg, Source: "../" + nt.net.File, GoGenerate: true}
		// The first of the two (cached for the examples) may come from
		// another test; the second is generated here.
		a, b := generateNet(t, nt, opts), generate(t, nt.net, opts)
		if len(a) != len(b) {
			t.Fatalf("%s: %d files, then %d", nt.pkg, len(a), len(b))
		}
		for i := range a {
			if a[i].Name != b[i].Name || !bytes.Equal(a[i].Contents, b[i].Contents) {
				t.Errorf("%s: %s differs between two runs", nt.pkg, a[i].Name)
			}
			if !strings.HasSuffix(a[i].Name, ".go") {
				// Assembly: gofmt does not apply; gen/asm's tests vet it.
			} else if formatted, err := format.Source(a[i].Contents); err != nil {
				t.Errorf("%s: %s: %v", nt.pkg, a[i].Name, err)
			} else if !bytes.Equal(formatted, a[i].Contents) {
				t.Errorf("%s: %s is not gofmt-clean:\n%s", nt.pkg, a[i].Name, firstDiff(a[i].Contents, formatted))
			}
			if !bytes.HasPrefix(a[i].Contents, []byte("// "+emit.Header+"\n")) {
				t.Errorf("%s: %s does not start with the generated-code header", nt.pkg, a[i].Name)
			}
		}
	}
}

// TestGeneratedDigitsUpToDate regenerates generated/digits in memory from
// examples/digits.yaml and compares it with the checked-in files, as
// go generate ./... would.
func TestGeneratedDigitsUpToDate(t *testing.T) {
	root := repoRoot(t)
	dir := filepath.Join(root, "generated", "digits")
	src, err := os.ReadFile(filepath.Join(root, "examples", "digits.yaml"))
	must(t, err)
	n, err := ir.Load(filepath.Join(root, "examples", "digits.yaml"), src)
	must(t, err)
	// The same options as the go:generate line in generated/digits/doc.go.
	files := generate(t, n, emit.Options{Package: "digits", Source: "../../examples/digits.yaml", GoGenerate: true})
	want := map[string]bool{}
	for _, f := range files {
		want[f.Name] = true
	}
	// A generated file that the generator no longer writes is stale too.
	have, err := filepath.Glob(filepath.Join(dir, "*"))
	must(t, err)
	for _, path := range have {
		data, err := os.ReadFile(path)
		must(t, err)
		if !want[filepath.Base(path)] && bytes.HasPrefix(data, []byte("// "+emit.Header)) {
			t.Errorf("generated/digits/%s is a generated file that cnngen no longer writes: remove it", filepath.Base(path))
		}
	}
	for _, f := range files {
		have, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			t.Errorf("%v (run go generate ./generated/...)", err)
			continue
		}
		if !bytes.Equal(have, f.Contents) {
			t.Errorf("generated/digits/%s is stale (run go generate ./generated/...):\n%s", f.Name, firstDiff(have, f.Contents))
		}
	}
}

// TestOptions checks the emitter's own errors.
func TestOptions(t *testing.T) {
	n := exampleNets(t)[0].net
	for _, opts := range []emit.Options{{Package: ""}, {Package: "a-b"}, {Package: "_"}, {Package: "p", Source: "x\n//go:generate rm -rf /"}, {Package: "p", GoGenerate: true}} {
		if _, err := emit.Generate(n, opts); err == nil {
			t.Errorf("Generate(%+v) succeeded, want an error", opts)
		}
	}
	files := generate(t, n, emit.Options{Package: "p", Source: "my dir/net.yaml", GoGenerate: true})
	if !bytes.Contains(files[0].Contents, []byte(`generate -gogenerate -o . -pkg p "my dir/net.yaml"`)) {
		t.Errorf("a source path with a space is not quoted in the go:generate line:\n%s", files[0].Contents)
	}
	// Without GoGenerate, doc.go has no go:generate line (the user's module
	// runs the generator from its own) but still names the description.
	files = generate(t, n, emit.Options{Package: "p", Source: "net.yaml"})
	if bytes.Contains(files[0].Contents, []byte("go:generate")) || !bytes.Contains(files[0].Contents, []byte("from net.yaml.")) {
		t.Errorf("doc.go without GoGenerate:\n%s", files[0].Contents)
	}
}

// TestSourceSizeLimit checks that a package over MaxSourceBytes is refused
// with an error that gives its size, and that the default lets digits through.
func TestSourceSizeLimit(t *testing.T) {
	n := exampleNets(t)[0].net
	files := generate(t, n, emit.Options{Package: "p"})
	total := 0
	for _, f := range files {
		total += len(f.Contents)
	}
	_, err := emit.Generate(n, emit.Options{Package: "p", MaxSourceBytes: total - 1})
	want := fmt.Sprintf("the generated package would be %d bytes, over the limit of %d", total, total-1)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Generate with MaxSourceBytes %d: error %v, want one containing %q", total-1, err, want)
	}
	if _, err := emit.Generate(n, emit.Options{Package: "p", MaxSourceBytes: total}); err != nil {
		t.Errorf("Generate with MaxSourceBytes equal to the size: %v", err)
	}
}
