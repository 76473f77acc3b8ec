package emit_test

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/gen/emit"
)

// The dependency rule: generated packages import only the standard library,
// the runtime and cpuid; the runtime never reaches gen/ or jennifer.
const (
	modulePath = "github.com/cnngen/cnngen"
	runtimePkg = modulePath + "/runtime"
	cpuidPkg   = "github.com/klauspost/cpuid/v2"
)

// isStd reports whether an import path belongs to the standard library
// (its first element has no dot).
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// allowedInGenerated reports whether generated code may depend on path,
// directly or through the runtime.
func allowedInGenerated(path string) bool {
	return isStd(path) || path == runtimePkg || path == cpuidPkg || strings.HasPrefix(path, cpuidPkg+"/")
}

type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Standard   bool
}

// goList runs go list -json on patterns at the repository root; Deps lists
// every package each one depends on, directly or not.
func goList(t *testing.T, patterns ...string) []listedPackage {
	t.Helper()
	out, err := goCmd(t, repoRoot(t), append([]string{"list", "-json"}, patterns...)...)
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	var pkgs []listedPackage
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestDependencyRule checks, with go list, that every package under
// generated/ depends (transitively) only on the standard library, the
// runtime and cpuid, and that no package under runtime/ depends on gen/ or
// jennifer.
func TestDependencyRule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	gen := goList(t, "./generated/...")
	if len(gen) == 0 {
		t.Fatal("no packages under generated/")
	}
	// cpuid's own dependencies (golang.org/x/sys) come along with it.
	viaCPUID := map[string]bool{}
	for _, p := range goList(t, cpuidPkg) {
		for _, d := range p.Deps {
			viaCPUID[d] = true
		}
	}
	for _, p := range gen {
		for _, d := range p.Imports {
			if !allowedInGenerated(d) {
				t.Errorf("%s imports %s: generated code may import only the standard library, %s and %s", p.ImportPath, d, runtimePkg, cpuidPkg)
			}
		}
		for _, d := range p.Deps {
			if !allowedInGenerated(d) && !viaCPUID[d] {
				t.Errorf("%s depends on %s (not the standard library, %s, %s or a dependency of cpuid)", p.ImportPath, d, runtimePkg, cpuidPkg)
			}
		}
	}
	for _, p := range goList(t, "./runtime/...") {
		for _, d := range p.Deps {
			if strings.HasPrefix(d, modulePath+"/gen") || strings.HasPrefix(d, "github.com/dave/jennifer") {
				t.Errorf("%s depends on %s: the runtime must not import gen/ or jennifer", p.ImportPath, d)
			}
		}
	}
}

// TestGeneratedImports checks the imports of the code generated for every
// example and random network (not only the checked-in ones).
func TestGeneratedImports(t *testing.T) {
	t.Parallel() // CPU-bound in this process, beside the tests that wait on child processes
	for _, nt := range append(exampleNets(t), randomNets(t, 1, randomCount)...) {
		for _, f := range generateNet(t, nt, emit.Options{Package: nt.pkg}) {
			if !strings.HasSuffix(f.Name, ".go") {
				continue // assembly imports nothing
			}
			file, err := parser.ParseFile(token.NewFileSet(), f.Name, f.Contents, parser.ImportsOnly)
			if err != nil {
				t.Fatalf("%s: %s: %v", nt.pkg, f.Name, err)
			}
			for _, imp := range file.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if !allowedInGenerated(path) {
					t.Errorf("%s: %s imports %s", nt.pkg, f.Name, path)
				}
			}
		}
	}
}
