package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cnngen/cnngen/gen/emit"
	"github.com/cnngen/cnngen/gen/ir"
)

func init() {
	register(&command{
		name:    "generate",
		summary: "write the specialized Go package of a network",
		run:     runGenerate,
	})
}

const generateUsage = `[-o DIR] [-pkg NAME] FILE.yaml

Writes the Go package of the network that FILE.yaml describes into DIR
(default: the current directory): doc.go (with a go:generate line that
regenerates it), model.go and kernels.go. Files whose contents would not
change are left untouched; other files in DIR are never removed. The package
name defaults to the network's name, lower-cased.

Flags may come before or after FILE.

flags:`

// runGenerate is the generate command.
func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("generate", generateUsage, stderr)
	dir := fs.String("o", ".", "write the package into `DIR`")
	pkg := fs.String("pkg", "", "Go package `name` (default: the network's name, lower-cased)")
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
	source, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	net, err := ir.Load(file, source)
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
	out, err := emit.Generate(net, emit.Options{Package: name, Source: src})
	if err != nil {
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
