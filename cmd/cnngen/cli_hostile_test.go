package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCLIHostile runs every command through run with bad command lines and
// bad input. A bad command line (unknown flag, missing argument or flag
// value) prints the command's usage (or the hint to it) and exits 2; bad
// input prints one line that starts with "cnngen: " and names the culprit,
// no stack trace, and exits 1. Descriptions with several errors print one
// error a line, each at its file:line:col.
func TestCLIHostile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	badYAML := write("bad.yaml", hostileNet("net", "{kind: relux}", "{kind: softmax}"))
	twoErrors := write("two.yaml", hostileNet("import", "{kind: relux}", "{kind: softmax}"))
	syntax := write("syntax.yaml", "name: [unclosed\n")
	good := write("good.yaml", hostileNet("net"))
	garbage := write("garbage.safetensors", "\x00\x00\x00\x00\xff\xff\xff\x7fnot a checkpoint")
	empty := write("empty.safetensors", "")
	badCSV := write("bad.csv", strings.Repeat("0,", 64)+"0\n"+strings.Repeat("1,", 63)+"x,1\n")
	missing := filepath.Join(dir, "missing.yaml")
	missingCSV := filepath.Join(dir, "missing.csv")
	png := filepath.Join(dir, "out.png")

	type want struct {
		code   int
		stderr string // regexp that stderr must match in full
	}
	usage := func(cmd string) want {
		return want{2, `(?s).*usage: cnngen ` + cmd + ` .*`}
	}
	hint := func(cmd, msg string) want {
		return want{2, `(?s)(.*\n)?cnngen ` + cmd + `: ` + regexp.QuoteMeta(msg) + "\nrun 'cnngen " + cmd + " -h' for usage\n"}
	}
	oneLine := func(msg string) want {
		return want{1, `cnngen: [^\n]*` + msg + `[^\n]*\n`}
	}
	for _, tc := range []struct {
		args []string
		want want
	}{
		{nil, want{2, `(?s)usage: cnngen <command>.*`}},
		{[]string{"frobnicate"}, want{2, `(?s)cnngen: unknown command "frobnicate"\nusage: cnngen <command>.*`}},
		{[]string{"-bogus"}, want{2, `(?s)cnngen: unknown command "-bogus"\nusage: cnngen <command>.*`}},

		{[]string{"generate", "-bogus", good}, usage("generate")},
		{[]string{"generate", good, "-o"}, usage("generate")},
		{[]string{"generate"}, hint("generate", "want one description FILE, got 0")},
		{[]string{"generate", "-o", dir, missing}, oneLine(regexp.QuoteMeta(missing) + `: no such file or directory`)},
		{[]string{"generate", "-o", dir, dir}, oneLine(`is a directory`)},
		{[]string{"generate", "-o", filepath.Join(dir, "out"), badYAML}, oneLine(regexp.QuoteMeta(badYAML) + `:4:12: layer 1: unknown layer kind "relux"`)},
		{[]string{"generate", "-o", filepath.Join(dir, "out"), syntax}, oneLine(regexp.QuoteMeta(syntax) + `:\d+(:\d+)?: YAML syntax`)},
		{[]string{"generate", "-o", good, good}, oneLine(`not a directory`)},

		{[]string{"summary", "-bogus"}, usage("summary")},
		{[]string{"summary"}, hint("summary", "want one description file")},
		{[]string{"summary", good, good}, hint("summary", "want one description file")},
		{[]string{"summary", missing}, oneLine(`no such file or directory`)},
		{[]string{"summary", badYAML}, oneLine(`bad.yaml:4:12: layer 1: unknown layer kind "relux"`)},
		{[]string{"summary", twoErrors}, want{1, `cnngen: [^\n]*two.yaml:1:7: name: network name "import" is a Go keyword\n[^\n]*two.yaml:4:12: layer 1: unknown layer kind "relux"[^\n]*\n`}},

		{[]string{"train", "-bogus"}, usage("train")},
		{[]string{"train", "-steps"}, usage("train")},
		{[]string{"train", "-steps", "x"}, usage("train")},
		{[]string{"train", "-steps", "0"}, hint("train", "-steps 0: want at least 1")},
		{[]string{"train", "-engine", "gpu"}, want{2, `(?s)cnngen train: unknown engine "gpu".*\n`}},
		{[]string{"train", good, good}, want{2, `(?s)cnngen train: want at most one description FILE, got 2.*\n`}},
		{[]string{"train", missing}, oneLine(`no such file or directory`)},
		{[]string{"train", badYAML}, oneLine(`bad.yaml:4:12: layer 1: unknown layer kind "relux"`)},
		{[]string{"train", "-data", missingCSV}, oneLine(`missing.csv: no such file or directory`)},
		{[]string{"train", "-data", badCSV, "-steps", "1"}, oneLine(`bad.csv:2: column 64: "x" is not a number`)},
		{[]string{"train", "-resume", garbage, "-steps", "1"}, oneLine(`garbage.safetensors`)},

		{[]string{"eval", "-bogus"}, usage("eval")},
		{[]string{"eval"}, hint("eval", "-load CHECKPOINT is required")},
		{[]string{"eval", "-load", missing}, oneLine(`no such file or directory`)},
		{[]string{"eval", "-load", garbage}, oneLine(`garbage.safetensors`)},
		{[]string{"eval", "-load", empty}, oneLine(`empty.safetensors`)},
		{[]string{"eval", "-load", garbage, badYAML}, oneLine(`bad.yaml:4:12: layer 1: unknown layer kind "relux"`)},

		{[]string{"predict", "-bogus"}, usage("predict")},
		{[]string{"predict", "-data", badCSV}, hint("predict", "-load CHECKPOINT is required")},
		{[]string{"predict", "-load", garbage}, hint("predict", "-data CSV is required")},
		{[]string{"predict", "-load", garbage, "-data", badCSV}, oneLine(`garbage.safetensors`)},

		{[]string{"show", "-bogus"}, usage("show")},
		{[]string{"show", "-o", png}, hint("show", "-load CHECKPOINT is required")},
		{[]string{"show", "-load", garbage}, hint("show", "-o PICTURE.png is required")},
		{[]string{"show", "-load", garbage, "-o", png}, oneLine(`garbage.safetensors`)},
	} {
		code, stdout, stderr := runCLI(tc.args...)
		name := "cnngen " + strings.Join(tc.args, " ")
		if code != tc.want.code || !regexp.MustCompile(`\A(?:`+tc.want.stderr+`)\z`).MatchString(stderr) {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant exit %d and stderr matching %q", name, code, stderr, tc.want.code, tc.want.stderr)
		}
		if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
			t.Errorf("%s: a stack trace on stderr:\n%s", name, stderr)
		}
		if code == 1 && stdout != "" && !strings.HasPrefix(tc.args[0], "train") {
			t.Errorf("%s: failed but wrote to stdout:\n%s", name, stdout)
		}
		t.Logf("%s → exit %d: %s", name, code, strings.TrimSpace(firstLine(stderr)))
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
