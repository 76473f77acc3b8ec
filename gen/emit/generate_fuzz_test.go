package emit_test

import (
	"bytes"
	"go/ast"
	"go/build"
	"go/format"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/emit"
	"github.com/cnngen/cnngen/gen/ir"
)

// maxGenerateTime bounds the generation of any accepted description in
// FuzzGenerate (gen/emit refuses or falls back long before).
const maxGenerateTime = 20 * time.Second

// FuzzGenerate is the property that every description the checker accepts
// generates a package that compiles: for arbitrary bytes that ir.Load
// accepts, emit.Generate succeeds within maxGenerateTime (or refuses with
// an error, such as the size limit), every file starts with the header,
// every Go file is gofmt-clean, and the Go files of the linux/amd64 build
// type-check against the runtime (with go/types, in process: a go build
// per input would make a few executions a minute). The seeds are the
// examples but for the two largest (TestReferenceModelsGenerate has them).
func FuzzGenerate(f *testing.F) {
	names, err := fs.Glob(examples.FS, "*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range names {
		if name == "mobilenet_vww.yaml" || name == "resnet8.yaml" {
			continue
		}
		data, err := examples.FS.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(awkwardNet))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ir.Load("fuzz.yaml", data)
		if err != nil {
			return
		}
		start := time.Now()
		files, err := emit.Generate(n, emit.Options{Package: "fuzzed"})
		if took := time.Since(start); took > maxGenerateTime {
			t.Fatalf("generation took %v (error %v)", took, err)
		}
		if err != nil {
			return // a clear refusal is an answer
		}
		dir := t.TempDir()
		for _, file := range files {
			if !bytes.HasPrefix(file.Contents, []byte("// "+emit.Header+"\n")) {
				t.Errorf("%s lacks the header", file.Name)
			}
			if filepath.Ext(file.Name) == ".go" {
				if formatted, err := format.Source(file.Contents); err != nil {
					t.Fatalf("%s does not parse: %v", file.Name, err)
				} else if !bytes.Equal(formatted, file.Contents) {
					t.Errorf("%s is not gofmt-clean:\n%s", file.Name, firstDiff(file.Contents, formatted))
				}
			}
			must(t, os.WriteFile(filepath.Join(dir, file.Name), file.Contents, 0o644))
		}
		if err := typeCheck(dir); err != nil {
			t.Fatalf("the generated package does not compile: %v", err)
		}
	})
}

// typeCheck type-checks the Go files in dir that the linux/amd64 build
// (gc, without the purego tag) compiles, resolving imports from source
// through one shared importer (the runtime is checked once per process).
func typeCheck(dir string) error {
	ctx := build.Default
	ctx.GOOS, ctx.GOARCH = "linux", "amd64"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	sourceImporter.Lock()
	defer sourceImporter.Unlock()
	if sourceImporter.imp == nil {
		sourceImporter.fset = token.NewFileSet()
		sourceImporter.imp = importer.ForCompiler(sourceImporter.fset, "source", nil)
	}
	fset := sourceImporter.fset
	var files []*ast.File
	for _, e := range entries {
		if ok, err := ctx.MatchFile(dir, e.Name()); err != nil || !ok || filepath.Ext(e.Name()) != ".go" {
			continue
		}
		file, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			return err
		}
		files = append(files, file)
	}
	conf := types.Config{Importer: sourceImporter.imp}
	_, err = conf.Check("fuzzed", fset, files, nil)
	return err
}

// sourceImporter imports packages from source once per process (the
// runtime and cpuid take seconds to check, a generated package
// milliseconds), with the file set of every file it and typeCheck parse.
var sourceImporter struct {
	sync.Mutex
	fset *token.FileSet
	imp  types.Importer
}
