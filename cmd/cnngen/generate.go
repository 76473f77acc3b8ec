package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cnngen/cnngen/gen/emit"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/gen/onnx"
)

func init() {
	register(&command{
		name:    "generate",
		summary: "write the specialized Go package of a network",
		run:     runGenerate,
	})
}

const generateUsage = `[-o DIR] [-pkg NAME] [-gogenerate] FILE.yaml|MODEL.onnx

Writes the Go package of the network that FILE.yaml describes into DIR
(default: the current directory). A MODEL.onnx (a file ending in .onnx) is
imported in memory first, as cnngen import does, and the network named
after its base name; its weights are not part of the package (cnngen import
writes them as a checkpoint). The files it writes:

  doc.go          the package comment, with the table of layers (and, with
                  -gogenerate, a go:generate line that regenerates the package)
  model.go        the constants, Model and its API (runtime.Model, Predict,
                  Logits, Init, Step, Freeze, Arch)
  kernels.go      the layers' pure-Go kernels
  frozen.go       Frozen, the read-only inference copy that Model.Freeze makes
  simd_amd64.s    the AVX2 and AVX-512 kernels, with simd_amd64.go (their
  simd_amd64.go   declarations and dispatch), simd_purego.go (the other
  simd_purego.go  GOARCHes) and simd_ref.go (pure-Go references); written
  simd_ref.go     only when some layer has vector kernels

Files whose contents would not change are left untouched; other files in DIR
are never removed. The package name defaults to the network's name,
lower-cased. DIR must not hold Go files of another package: generate refuses
before writing anything.

The package imports github.com/cnngen/cnngen/runtime, so the module that
builds it requires github.com/cnngen/cnngen.

Flags may come before or after FILE.

flags:`

// runGenerate is the generate command.
func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("generate", generateUsage, stderr)
	dir := fs.String("o", ".", "write the package into `DIR`")
	pkg := fs.String("pkg", "", "Go package `name` (default: the network's name, lower-cased)")
	goGenerate := fs.Bool("gogenerate", false, "add to doc.go a go:generate line (go run github.com/cnngen/cnngen/cmd/cnngen ...) that regenerates the package")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usageError{fmt.Sprintf("want one description FILE, got %d", len(files))}
	}
	file := files[0]
	if *pkg != "" && (!token.IsIdentifier(*pkg) || *pkg == "_") {
		return usageError{fmt.Sprintf("-pkg %q is not a Go package name", *pkg)}
	}
	net, err := loadNetwork(file)
	if err != nil {
		return err
	}
	name := *pkg
	if name == "" {
		name = strings.ToLower(net.Name)
	}
	src, err := generateSource(*dir, file)
	if err != nil {
		return err
	}
	out, err := emit.Generate(net, emit.Options{Package: name, Source: src, GoGenerate: *goGenerate})
	if err != nil {
		return err
	}
	if fi, err := os.Stat(*dir); err == nil && fi.IsDir() {
		// Into an existing directory: no generated file may replace the
		// description (say through a link), nor anything but a file.
		var outputs []pathArg
		for _, f := range out {
			outputs = append(outputs, pathArg{flag: "-o", path: filepath.Join(*dir, f.Name)})
		}
		if err := checkOutputs([]pathArg{{flag: "description", what: "FILE", path: file}}, outputs); err != nil {
			return err
		}
	}
	if err := checkPackageDir(*dir, name); err != nil {
		return err
	}
	written, err := writeChanged(*dir, out)
	if err != nil {
		return err
	}
	for _, f := range written {
		reportWrote(stderr, filepath.Join(*dir, f), "")
	}
	return nil
}

// checkPackageDir returns an error when dir holds Go files of a package other
// than pkg (or its external test package pkg_test): the generated files would
// make the directory fail to build. Files excluded with "//go:build ignore"
// are not part of any package. A missing dir is fine.
func checkPackageDir(dir, pkg string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			continue // the go command ignores files starting with . or _
		}
		path := filepath.Join(dir, name)
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return fmt.Errorf("%s: %v (generate checks which package %s holds before writing into it)", path, err, dir)
		}
		if ignored(f) {
			continue
		}
		found := f.Name.Name
		if found == pkg || found == pkg+"_test" {
			continue
		}
		hint := "write the generated package into a directory of its own with -o DIR"
		if found != "main" && !strings.HasSuffix(found, "_test") {
			hint += fmt.Sprintf(", or name it after the package there with -pkg %s", found)
		}
		return fmt.Errorf("%s holds Go files of package %s (%s), not package %s: %s; nothing was written", dir, found, name, pkg, hint)
	}
	return nil
}

// ignored reports whether f carries the build constraint "//go:build ignore"
// before its package clause.
func ignored(f *ast.File) bool {
	for _, g := range f.Comments {
		if g.Pos() >= f.Package {
			break
		}
		for _, c := range g.List {
			if !constraint.IsGoBuild(c.Text) {
				continue
			}
			expr, err := constraint.Parse(c.Text)
			if err != nil {
				return false
			}
			if tag, ok := expr.(*constraint.TagExpr); ok && tag.Tag == "ignore" {
				return true
			}
		}
	}
	return false
}

// generateSource is the description's path as the go:generate line in dir
// names it: relative to dir, with forward slashes, so that the line works
// wherever the tree is checked out.
func generateSource(dir, file string) (string, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	absFile, err := filepath.Abs(file)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(absDir, absFile)
	if err != nil {
		return filepath.ToSlash(absFile), nil
	}
	return filepath.ToSlash(rel), nil
}

// writeChanged writes each file into dir unless it already holds exactly
// those contents, creating dir if needed, and returns the names it wrote.
// Each file is written to a temporary name and renamed, so that a reader
// never sees half a file.
func writeChanged(dir string, files []emit.File) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		old, err := os.ReadFile(path)
		if err == nil && bytes.Equal(old, f.Contents) {
			continue
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return written, err
		}
		tmp, err := os.CreateTemp(dir, "."+f.Name+".*")
		if err != nil {
			return written, err
		}
		_, werr := tmp.Write(f.Contents)
		cerr := tmp.Close()
		if werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Chmod(tmp.Name(), 0o644)
		}
		if werr == nil {
			werr = os.Rename(tmp.Name(), path)
		}
		if werr != nil {
			os.Remove(tmp.Name())
			return written, werr
		}
		written = append(written, f.Name)
	}
	return written, nil
}

// loadNetwork loads the description FILE.yaml, or imports the ONNX model
// when file ends in .onnx.
func loadNetwork(file string) (*ir.Network, error) {
	if !strings.EqualFold(filepath.Ext(file), ".onnx") {
		return ir.LoadFile(file) // a bounded read: see spec.ReadFile
	}
	data, err := onnx.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m, err := onnx.Import(data, onnx.NetworkName(file))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return m.Network, nil
}
