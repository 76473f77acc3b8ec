//go:build unix

package main

// TestOutputPaths needs symbolic links, hard links and named pipes, which
// these systems have alike.

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOutputPaths gives train and show outputs that are their inputs, each
// other, or unwritable: each is refused before any work starts (no
// training: the error comes at once, and every input is left as it was),
// exit 2 for a clash of names, 1 for a target that cannot be written.
func TestOutputPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	data := write("data.csv", strings.Repeat("0,", 64)+"3\n")
	ckpt := write("run.safetensors", "not really a checkpoint: never read")
	desc := write("net.yaml", hostileNet("net"))
	hard := filepath.Join(dir, "hard.csv")
	if err := os.Link(data, hard); err != nil {
		t.Fatal(err)
	}
	soft := filepath.Join(dir, "soft.yaml")
	if err := os.Symlink("net.yaml", soft); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	alias := filepath.Join(dir, "alias") // alias -> sub
	if err := os.Symlink("sub", alias); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	dotted := filepath.Join(dir, ".", "sub", "..", "net.yaml")
	newA := filepath.Join(dir, "new.out")
	newB := filepath.Join(dir, "sub", "..", "new.out")

	for _, tc := range []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"train", "-data", data, "-save", data}, 2, "-save " + data + " would overwrite the -data file " + data},
		{[]string{"train", "-data", data, "-save", hard}, 2, "-save " + hard + " would overwrite the -data file " + data},
		{[]string{"train", "-save", newA, "-plot", newB}, 2, "-save " + newA + " and -plot " + newB + " name the same file"},
		{[]string{"train", "-save", filepath.Join(sub, "x"), "-plot", filepath.Join(alias, "x")}, 2, "name the same file"},
		{[]string{"train", "-resume", ckpt, "-plot", ckpt}, 2, "-plot " + ckpt + " would overwrite the -resume checkpoint " + ckpt},
		{[]string{"train", "-init", ckpt, "-save", ckpt}, 2, "would overwrite the -init checkpoint"},
		{[]string{"train", "-plot", desc, desc}, 2, "-plot " + desc + " would overwrite the description FILE " + desc},
		{[]string{"train", "-plot", soft, desc}, 2, "-plot " + soft + " would overwrite the description FILE " + desc},
		{[]string{"train", "-plot", dotted, desc}, 2, "would overwrite the description FILE"},
		{[]string{"show", "-load", ckpt, "-o", ckpt}, 2, "-o " + ckpt + " would overwrite the -load checkpoint " + ckpt},
		{[]string{"show", "-load", ckpt, "-o", newA, "-maps", newB}, 2, "-maps must name another file than -o"},
		{[]string{"show", "-load", ckpt, "-o", newA, "-data", data, "-maps", hard}, 2, "-maps " + hard + " would overwrite the -data file " + data},
		{[]string{"show", "-load", ckpt, "-o", soft, desc}, 2, "would overwrite the description FILE " + desc},
		{[]string{"train", "-save", sub}, 1, "cnngen: -save " + sub + ": is a directory, not a file\n"},
		{[]string{"train", "-save", fifo}, 1, "cnngen: -save " + fifo + ": is a named pipe, not a regular file: refusing to replace it\n"},
		{[]string{"train", "-plot", fifo}, 1, "cnngen: -plot " + fifo + ": is a named pipe, not a regular file"},
		{[]string{"show", "-load", ckpt, "-o", sub}, 1, "cnngen: -o " + sub + ": is a directory, not a file\n"},
		// Not writable even by root.
		{[]string{"train", "-save", "/proc/cnngen.safetensors"}, 1, "cnngen: -save /proc/cnngen.safetensors: cannot write in directory /proc: "},
	} {
		code, stdout, stderr := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q\nwant exit %d, stderr with %q", strings.Join(tc.args, " "), code, stdout, stderr, tc.code, tc.want)
		}
	}
	if got, _ := os.ReadFile(data); string(got) != strings.Repeat("0,", 64)+"3\n" {
		t.Errorf("%s changed: %q", data, got)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("%s is no longer a named pipe: %v %v", fifo, fi, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".cnngen-probe-") {
			t.Errorf("the writability probe %s was left behind", e.Name())
		}
	}
}

// TestReadOnlyDirectory refuses a -save into a directory that cannot take
// a new file before training (root writes anywhere: skipped as root; the
// /proc case of TestOutputPaths covers it there).
func TestReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write into a read-only directory")
	}
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x.safetensors")
	code, _, stderr := runCLI("train", "-save", out)
	if want := "cnngen: -save " + out + ": cannot write in directory " + dir + ": permission denied\n"; code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q, want 1, %q", code, stderr, want)
	}
}

// TestResumeSaveSameFile lets -save replace the -resume checkpoint (the run
// goes on in its file), but not -plot.
func TestResumeSaveSameFile(t *testing.T) {
	ckpt := filepath.Join(t.TempDir(), "run.safetensors")
	if err := os.WriteFile(ckpt, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	in := []pathArg{{flag: "-resume", what: "checkpoint", path: ckpt}}
	if err := checkOutputs(in, []pathArg{{flag: "-save", path: ckpt, replaces: "-resume"}}); err != nil {
		t.Errorf("-resume X -save X: %v", err)
	}
	if err := checkOutputs(in, []pathArg{{flag: "-plot", path: ckpt}}); err == nil {
		t.Error("-resume X -plot X: no error")
	}
}

// TestGenerateOverDescription links a file that generate writes to its
// description: refused, before anything is written, as a clash of paths
// (it used to be refused too, later, as a Go file that does not parse).
func TestGenerateOverDescription(t *testing.T) {
	dir := t.TempDir()
	desc := filepath.Join(dir, "net.yaml")
	src := hostileNet("net")
	if err := os.WriteFile(desc, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(desc, filepath.Join(out, "model.go")); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI("generate", "-o", out, desc)
	want := "-o " + filepath.Join(out, "model.go") + " would overwrite the description FILE " + desc
	if code != 2 || stdout != "" || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, stderr, want)
	}
	if got, _ := os.ReadFile(desc); string(got) != src {
		t.Errorf("the description changed: %q", got)
	}
}
