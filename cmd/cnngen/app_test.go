package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestExampleApp walks the README's path from a module of one's own to a
// served model: it copies examples/app (a module of its own, outside this
// one) to a temporary directory, points its replace directive at this
// checkout, runs go generate (go tool cnngen generate, from the module's tool
// directive), builds the program and runs it, which trains the generated
// network on the embedded digits, freezes it and prints a prediction. The
// child go commands use this repository's go.sum with GOFLAGS=-mod=mod and
// GOWORK=off, so the test needs only the module cache.
func TestExampleApp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go generate and go build in a copy of examples/app")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "examples", "app")
	dir := t.TempDir()
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel == "net" {
				return filepath.SkipDir // generated: go generate must write it
			}
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	const local = "replace github.com/cnngen/cnngen => ../..\n"
	if !bytes.Contains(gomod, []byte(local)) {
		t.Fatalf("examples/app/go.mod lacks %q:\n%s", local, gomod)
	}
	gomod = bytes.Replace(gomod, []byte(local), []byte("replace github.com/cnngen/cnngen => "+root+"\n"), 1)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), gomod, 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}

	run := func(name string, args ...string) string {
		t.Helper()
		start := time.Now()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		t.Logf("%s: %v", strings.Join(append([]string{filepath.Base(name)}, args...), " "), time.Since(start).Round(time.Millisecond))
		return string(out)
	}
	out := run("go", "generate", "./...")
	for _, f := range []string{"doc.go", "model.go", "kernels.go", "frozen.go"} {
		if !strings.Contains(out, "wrote "+filepath.Join("net", f)) {
			t.Errorf("go generate does not report writing net/%s:\n%s", f, out)
		}
	}
	doc, err := os.ReadFile(filepath.Join(dir, "net", "doc.go"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(doc, []byte("go:generate")) {
		t.Errorf("net/doc.go has a go:generate line of its own (the generator would run twice):\n%s", doc)
	}
	bin := filepath.Join(dir, "app")
	run("go", "build", "-o", bin, ".")
	out = run(bin)

	m := regexp.MustCompile(`(?m)^trained [0-9]+ steps: test accuracy ([0-9.]+) \([0-9]+/180\)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the program does not print its test accuracy:\n%s", out)
	}
	if acc, err := strconv.ParseFloat(m[1], 64); err != nil || acc < 0.8 {
		t.Errorf("test accuracy %s, want at least 0.8:\n%s", m[1], out)
	}
	if !regexp.MustCompile(`(?m)^test sample 0: predicted [0-9] \(probability [01]\.[0-9]{3}\), label [0-9]$`).MatchString(out) {
		t.Errorf("the program does not print a prediction:\n%s", out)
	}
}
