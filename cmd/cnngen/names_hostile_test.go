package main

import (
	"bytes"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hostileNet returns a description whose network name is the YAML value
// name (line 1, column 7) and whose layers are the YAML flow mappings in
// layers, one a line from line 4.
func hostileNet(name string, layers ...string) string {
	if len(layers) == 0 {
		layers = []string{"{kind: dense, units: 3}", "{kind: softmax}"}
	}
	var b strings.Builder
	b.WriteString("name: " + name + "\n")
	b.WriteString("input: {height: 4, width: 4, channels: 1}\n")
	b.WriteString("layers:\n")
	for _, l := range layers {
		b.WriteString("  - " + l + "\n")
	}
	b.WriteString("train: {optimizer: {type: sgd, learning_rate: 0.1}, steps: 1}\n")
	return b.String()
}

// TestGenerateHostileNames runs cnngen generate on descriptions whose names
// would inject code, collide with Go's own names or be absurd: each must be
// refused with exactly one error line at the name's file:line:col, exit 1,
// and nothing written.
func TestGenerateHostileNames(t *testing.T) {
	long := strings.Repeat("n", 10_000)
	for _, tc := range []struct {
		name, desc, want string
	}{
		{"code injection in the network name", hostileNet(`"x\n}func init(){panic(1)}"`),
			`h.yaml:1:7: name: network name "x\n}func init(){panic(1)}" is not a valid identifier: want ASCII letters, digits and underscores, starting with a letter`},
		{"comment injection in a layer name", hostileNet("net", `{kind: dense, units: 3, name: "a*/ func init() { panic(1) } /*"}`, "{kind: softmax}"),
			`h.yaml:4:35: layer 1: layer name "a*/ func init() { panic(1) } /*" is not a valid identifier: want ASCII letters, digits and underscores, starting with a letter`},
		{"keyword as network name", hostileNet("import"),
			`h.yaml:1:7: name: network name "import" is a Go keyword`},
		{"keyword func as network name", hostileNet("func"),
			`h.yaml:1:7: name: network name "func" is a Go keyword`},
		{"predeclared layer name", hostileNet("net", "{kind: dense, units: 3, name: len}", "{kind: softmax}"),
			`h.yaml:4:35: layer 1: layer name "len" is a predeclared Go identifier`},
		{"predeclared network name", hostileNet("nil"),
			`h.yaml:1:7: name: network name "nil" is a predeclared Go identifier`},
		{"network name main", hostileNet("Main"),
			`h.yaml:1:7: name: network name "Main" would make package main, which no program can import`},
		{"network name init", hostileNet("init"),
			`h.yaml:1:7: name: network name "init" would make package init, which no program can import`},
		// Mixed with ASCII letters, the non-ASCII ones are escaped: a
		// look-alike (Cyrillic с for c) would show.
		{"non-ASCII network name", hostileNet("résumé"),
			`h.yaml:1:7: name: network name "r\u00e9sum\u00e9" is not a valid identifier: want ASCII letters, digits and underscores, starting with a letter`},
		{"non-ASCII layer name", hostileNet("net", "{kind: dense, units: 3, name: 层}", "{kind: softmax}"),
			`h.yaml:4:35: layer 1: layer name "层" is not a valid identifier: want ASCII letters, digits and underscores, starting with a letter`},
		{"right-to-left override", hostileNet(`"net\u202e"`),
			`h.yaml:1:7: name: network name "net\u202e" is not a valid identifier: want ASCII letters, digits and underscores, starting with a letter`},
		{"10 kB network name", hostileNet(long),
			`h.yaml:1:7: name: network name "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"... is 10000 bytes long: want at most 64`},
		{"10 kB layer name", hostileNet("net", "{kind: dense, units: 3, name: "+long+"}", "{kind: softmax}"),
			`h.yaml:4:35: layer 1: layer name "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"... is 10000 bytes long: want at most 64`},
		{"layer names that differ only in case", hostileNet("net", "{kind: dense, units: 3, name: Dense1}", "{kind: relu, name: dense1}", "{kind: softmax}"),
			`h.yaml:5:24: layer 2: layer name "dense1" clashes with "Dense1" at line 4: names must differ in more than letter case`},
		{"leading underscore", hostileNet("_net"),
			`h.yaml:1:7: name: network name "_net" is not a valid identifier: want ASCII letters, digits and underscores, starting with a letter`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			desc := filepath.Join(dir, "h.yaml")
			if err := os.WriteFile(desc, []byte(tc.desc), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out")
			// Run from dir so that the file is named h.yaml in messages.
			t.Chdir(dir)
			code, stdout, stderr := runCLI("generate", "-o", out, "h.yaml")
			if want := "cnngen: " + tc.want + "\n"; code != 1 || stdout != "" || stderr != want {
				t.Errorf("exit %d, stdout %q, stderr\n%q\nwant exit 1 and stderr\n%q", code, stdout, stderr, want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("the output directory exists after an error: %v", err)
			}
		})
	}
}

// TestGenerateHostileSourcePaths generates packages from descriptions at
// paths that hold comment ends, quotes, backslashes, dollars, spaces and
// non-ASCII letters: the path reaches generated code (the package comment
// and the go:generate line), so it must arrive escaped. Each package must be
// gofmt-clean, and go generate on it must rewrite exactly the same files:
// the go:generate line names the description exactly. A path with a line
// break is refused.
func TestGenerateHostileSourcePaths(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cnngen and runs go generate")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	gomod := "module hostilepaths\n\ngo 1.26\n\nrequire github.com/cnngen/cnngen v0.0.0\n\nreplace github.com/cnngen/cnngen => " + root + "\n"
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mod, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	dirs := []string{
		"star*",       // with the separator: "star*/net.yaml"
		`q"uote`,      // a double quote
		"tick'`s",     // single quote and backquote
		`back\slash`,  // a backslash
		"dollar$HOME", // go generate expands $NAME
		"two  spaces", // spaces
		"tab\there",   // a tab
		"ünïcode",     // non-ASCII
		"-dash",       // looks like a flag
		"/*open",      // a comment opener ("/" is a separator: the dir is "*open")
	}
	type gen struct {
		pkg   string
		files map[string][]byte
	}
	var gens []gen
	for i, d := range dirs {
		descDir := filepath.Join(mod, "nets", d)
		if err := os.MkdirAll(descDir, 0o755); err != nil {
			t.Fatal(err)
		}
		desc := filepath.Join(descDir, "net.yaml")
		if err := os.WriteFile(desc, []byte(hostileNet("net")), 0o644); err != nil {
			t.Fatal(err)
		}
		pkg := "p" + string(rune('a'+i))
		out := filepath.Join(mod, "gen", pkg)
		code, stdout, stderr := runCLI("generate", "-gogenerate", "-o", out, "-pkg", pkg, desc)
		if code != 0 {
			t.Fatalf("%q: exit %d\n%s%s", d, code, stdout, stderr)
		}
		g := gen{pkg: pkg, files: map[string][]byte{}}
		names, _ := filepath.Glob(filepath.Join(out, "*"))
		for _, name := range names {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			g.files[filepath.Base(name)] = data
			if strings.HasSuffix(name, ".go") {
				if f, err := format.Source(data); err != nil || !bytes.Equal(f, data) {
					t.Errorf("%q: %s is not gofmt-clean (%v)", d, filepath.Base(name), err)
				}
			}
		}
		doc := g.files["doc.go"]
		f, err := parser.ParseFile(token.NewFileSet(), "doc.go", doc, parser.ParseComments)
		if err != nil {
			t.Fatalf("%q: doc.go: %v\n%s", d, err, doc)
		}
		if len(f.Decls) != 0 {
			t.Errorf("%q: doc.go declares something: the path escaped its comment\n%s", d, doc)
		}
		gens = append(gens, g)
	}

	// A line break or invalid UTF-8 in the path: refused with one line,
	// nothing written. (Invalid UTF-8 used to fail inside gofmt with a
	// multi-line message.)
	for _, bad := range []struct{ dir, want string }{
		{"new\nline", "contains a line break"},
		{"bad\xff", "is not valid UTF-8"},
	} {
		descDir := filepath.Join(mod, "nets", bad.dir)
		if err := os.MkdirAll(descDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(descDir, "net.yaml"), []byte(hostileNet("net")), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(mod, "refused")
		code, _, stderr := runCLI("generate", "-o", out, "-pkg", "refused", filepath.Join(descDir, "net.yaml"))
		if code != 1 || !strings.HasPrefix(stderr, "cnngen: ") || !strings.Contains(stderr, bad.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("path %q: exit %d, stderr %q; want exit 1 and one line saying it %s", bad.dir, code, stderr, bad.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("path %q: output directory written (%v)", bad.dir, err)
		}
		if err := os.RemoveAll(descDir); err != nil {
			t.Fatal(err)
		}
	}

	// go generate must find every description again and rewrite the same
	// bytes. Clear the outputs first so that it really writes them.
	for _, g := range gens {
		for name := range g.files {
			if err := os.Remove(filepath.Join(mod, "gen", g.pkg, name)); err != nil {
				t.Fatal(err)
			}
		}
		// go generate needs a Go file with the directive: keep doc.go.
		if err := os.WriteFile(filepath.Join(mod, "gen", g.pkg, "doc.go"), g.files["doc.go"], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "generate", "./gen/...")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go generate: %v\n%s", err, out)
	}
	for i, g := range gens {
		for name, want := range g.files {
			got, err := os.ReadFile(filepath.Join(mod, "gen", g.pkg, name))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%q: go generate did not rewrite %s identically (%v)", dirs[i], name, err)
			}
		}
	}
}
