package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/examples"
)

// TestGenerateCommand writes a package, then runs again and checks that
// nothing is rewritten; flags may follow the file. The go:generate line is
// written only with -gogenerate.
func TestGenerateCommand(t *testing.T) {
	dir := t.TempDir()
	desc := filepath.Join(dir, "nets", "twoconv.yaml")
	src, err := examples.FS.ReadFile("twoconv.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(desc), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(desc, src, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "gen", "twoconv")
	code, stdout, stderr := runCLI("generate", "-gogenerate", "-o", out, desc)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing (the reports go to stderr)", stdout)
	}
	for _, name := range []string{"doc.go", "model.go", "kernels.go"} {
		if !strings.Contains(stderr, "cnngen: wrote "+filepath.Join(out, name)+"\n") {
			t.Errorf("stderr does not report writing %s:\n%s", name, stderr)
		}
	}
	doc, err := os.ReadFile(filepath.Join(out, "doc.go"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "//go:generate go run github.com/cnngen/cnngen/cmd/cnngen generate -gogenerate -o . -pkg twoconv ../../nets/twoconv.yaml\n"; !strings.Contains(string(doc), want) {
		t.Errorf("doc.go lacks %q:\n%s", want, doc)
	}
	before, _ := os.Stat(filepath.Join(out, "model.go"))
	code, stdout, stderr = runCLI("generate", desc, "-o", out, "-pkg", "twoconv", "-gogenerate")
	if code != 0 || stdout != "" || stderr != "" {
		t.Fatalf("second run: exit %d, stdout %q, stderr %q (want nothing written)", code, stdout, stderr)
	}
	after, _ := os.Stat(filepath.Join(out, "model.go"))
	if !before.ModTime().Equal(after.ModTime()) {
		t.Error("an unchanged file was rewritten")
	}
	// Without -gogenerate only doc.go changes: it loses the line.
	code, stdout, stderr = runCLI("generate", "-o", out, desc)
	if code != 0 || stdout != "" || stderr != "cnngen: wrote "+filepath.Join(out, "doc.go")+"\n" {
		t.Fatalf("run without -gogenerate: exit %d, stdout %q, stderr %q (want doc.go alone)", code, stdout, stderr)
	}
	if doc, err := os.ReadFile(filepath.Join(out, "doc.go")); err != nil || strings.Contains(string(doc), "go:generate") {
		t.Errorf("doc.go without -gogenerate (%v):\n%s", err, doc)
	}
}

// TestGenerateForeignPackage checks that generate refuses, before writing
// anything, a directory that holds Go files of another package, and accepts
// the package's own files, its external tests and ignored files.
func TestGenerateForeignPackage(t *testing.T) {
	desc := filepath.Join("..", "..", "examples", "twoconv.yaml")
	for _, tc := range []struct {
		file, src string
		want      []string // error fragments; none: accepted
	}{
		{"main.go", "package main\n\nfunc main() {}\n", []string{"holds Go files of package main (main.go), not package net", "-o DIR", "nothing was written"}},
		{"util.go", "// Package other.\npackage other\n", []string{"holds Go files of package other (util.go), not package net", "-o DIR", "-pkg other"}},
		{"net_test.go", "package net_test\n", nil},
		{"extra.go", "package net\n", nil},
		{"gen.go", "//go:build ignore\n\npackage main\n", nil},
		{"_scratch.go", "package scratch\n", nil},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.src), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCLI("generate", "-o", dir, "-pkg", "net", desc)
		entries, _ := os.ReadDir(dir)
		if tc.want == nil {
			if code != 0 || len(entries) < 4 {
				t.Errorf("%s: exit %d, %d files, stderr %q; want the package written", tc.file, code, len(entries), stderr)
			}
			continue
		}
		if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, dir) {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and one line naming %s", tc.file, code, stderr, dir)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr %q lacks %q", tc.file, stderr, w)
			}
		}
		if len(entries) != 1 {
			t.Errorf("%s: %d files in the directory after the refusal; want it untouched", tc.file, len(entries))
		}
	}
}

// TestGenerateHelpListsFiles checks that generate -h names every file that
// generate can write.
func TestGenerateHelpListsFiles(t *testing.T) {
	code, _, stderr := runCLI("generate", "-h")
	if code != 0 {
		t.Fatalf("generate -h: exit %d", code)
	}
	for _, name := range []string{"doc.go", "model.go", "kernels.go", "frozen.go", "simd_amd64.s", "simd_amd64.go", "simd_purego.go", "simd_ref.go", "-gogenerate"} {
		if !strings.Contains(stderr, name) {
			t.Errorf("generate -h does not mention %s:\n%s", name, stderr)
		}
	}
}

// TestGenerateCommandErrors checks usage errors and bad descriptions.
func TestGenerateCommandErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\ninput: {height: 8, width: 8, channels: 1}\nlayers:\n  - {kind: relux}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"generate"}, 2, "want one description FILE, got 0"},
		{[]string{"generate", "a.yaml", "b.yaml"}, 2, "want one description FILE, got 2"},
		{[]string{"generate", "-pkg", "a-b", bad}, 2, `-pkg "a-b" is not a Go package name`},
		{[]string{"generate", "-o", t.TempDir(), filepath.Join(t.TempDir(), "missing.yaml")}, 1, "missing.yaml"},
		{[]string{"generate", "-o", t.TempDir(), bad}, 1, "bad.yaml:"},
	} {
		code, _, stderr := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("cnngen %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), code, stderr, tc.code, tc.stderr)
		}
	}
}
