package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/examples"
)

// TestGenerateCommand writes a package, then runs again and checks that
// nothing is rewritten; flags may follow the file.
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
	code, stdout, stderr := runCLI("generate", "-o", out, desc)
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
	if want := "//go:generate go run github.com/cnngen/cnngen/cmd/cnngen generate -o . -pkg twoconv ../../nets/twoconv.yaml\n"; !strings.Contains(string(doc), want) {
		t.Errorf("doc.go lacks %q:\n%s", want, doc)
	}
	before, _ := os.Stat(filepath.Join(out, "model.go"))
	code, stdout, stderr = runCLI("generate", desc, "-o", out, "-pkg", "twoconv")
	if code != 0 || stdout != "" || stderr != "" {
		t.Fatalf("second run: exit %d, stdout %q, stderr %q (want nothing written)", code, stdout, stderr)
	}
	after, _ := os.Stat(filepath.Join(out, "model.go"))
	if !before.ModTime().Equal(after.ModTime()) {
		t.Error("an unchanged file was rewritten")
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
