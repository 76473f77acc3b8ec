package emit_test

import (
	"bytes"
	"fmt"
	"go/format"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cnngen/cnngen/gen/emit"
	"github.com/cnngen/cnngen/gen/ir"
)

// trickyNames are valid identifiers that a description may use as network or
// layer names and that generated code must survive: the names of its own
// declarations, of its imports and of Go's special functions, and names that
// differ from others only in case.
var trickyNames = []string{
	"init", "main", "Main", "New", "Model", "Arch", "Tile", "Classes", "InputSize",
	"runtime", "math", "unsafe", "cpuid", "sync", "m", "x", "p", "w", "b", "i", "n",
	"Out", "Grad", "Weight", "Bias", "layer_1", "X9", "a_", "zz_Top",
}

// renameLayers gives some layers of the description text (one layer per
// "  - {kind: ...}" line) names drawn from trickyNames or made up, unique
// ignoring case, and sometimes renames the network.
func renameLayers(r *rand.Rand, text string) string {
	lines := strings.Split(text, "\n")
	used := map[string]bool{}
	for i, line := range lines {
		switch {
		case strings.HasPrefix(line, "name: ") && r.IntN(3) == 0:
			lines[i] = "name: " + trickyNames[r.IntN(len(trickyNames))]
		case strings.HasPrefix(line, "  - {kind: ") && r.IntN(2) == 0:
			name := trickyNames[r.IntN(len(trickyNames))]
			if r.IntN(3) == 0 {
				name = fmt.Sprintf("L%d_%c", r.IntN(1000), 'a'+r.IntN(26))
			}
			if used[strings.ToLower(name)] {
				continue
			}
			used[strings.ToLower(name)] = true
			lines[i] = strings.Replace(line, "{kind: ", "{name: "+name+", kind: ", 1)
		}
	}
	return strings.Join(lines, "\n")
}

// acceptedNet is a description the checker accepts, and where it came from.
type acceptedNet struct {
	origin string
	net    *ir.Network
}

// acceptedDescriptions returns count random descriptions (seeded, with
// tricky names) that ir.Load accepts, then every accepted entry of gen/ir's
// fuzz corpus and hostile files.
func acceptedDescriptions(t *testing.T, seed uint64, count int) []acceptedNet {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	var out []acceptedNet
	for i := 0; len(out) < count && i < 10*count; i++ {
		text := renameLayers(r, randomNet(r, fmt.Sprintf("prop%d", i)))
		n, err := ir.Load(fmt.Sprintf("prop%d.yaml", i), []byte(text))
		if err != nil {
			// Renaming can hit a name the checker refuses (a predeclared
			// identifier): such descriptions are not under test here.
			continue
		}
		out = append(out, acceptedNet{origin: fmt.Sprintf("random %d (seed %d):\n%s", i, seed, text), net: n})
	}
	if len(out) < count {
		t.Fatalf("only %d of %d random descriptions were accepted", len(out), count)
	}
	corpus, _ := filepath.Glob("../ir/testdata/fuzz/FuzzLoad/*")
	hostile, _ := filepath.Glob("../ir/testdata/hostile/*.yaml")
	for _, path := range append(corpus, hostile...) {
		data, err := os.ReadFile(path)
		must(t, err)
		if strings.Contains(path, "testdata/fuzz/") {
			if data, err = unmarshalCorpusBytes(data); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		if n, err := ir.Load(filepath.Base(path), data); err == nil {
			out = append(out, acceptedNet{origin: path, net: n})
		}
	}
	return out
}

// corpusBytes matches a one-value []byte entry of a go test fuzz v1 file.
var corpusBytes = regexp.MustCompile(`(?s)\Ago test fuzz v1\n\[\]byte\((.*)\)\n?\z`)

// unmarshalCorpusBytes decodes a go test fuzz v1 file holding one []byte.
func unmarshalCorpusBytes(data []byte) ([]byte, error) {
	m := corpusBytes.FindSubmatch(data)
	if m == nil {
		return nil, fmt.Errorf("not a one-[]byte fuzz corpus entry")
	}
	s, err := unquoteGo(string(m[1]))
	return []byte(s), err
}

// TestAcceptedDescriptionsGenerate is the property that every description
// the checker accepts generates code: for random descriptions (with tricky
// but valid names) and the accepted entries of gen/ir's fuzz corpus, emission
// succeeds, every Go file is gofmt-clean and starts with the header, and a
// sample of the packages compiles and passes go vet in one module. The
// sample is bounded (-short compiles fewer).
func TestAcceptedDescriptionsGenerate(t *testing.T) {
	t.Parallel() // CPU-bound in this process, beside the tests that wait on child processes
	count, compile := 60, 8
	if testing.Short() {
		count, compile = 20, 3
	}
	start := time.Now()
	nets := acceptedDescriptions(t, 11, count)
	var sample []namedNet
	pkgs := map[string]bool{}
	for i, a := range nets {
		pkg := strings.ToLower(a.net.Name)
		if pkgs[pkg] {
			pkg = fmt.Sprintf("%s%d", pkg, i)
		}
		pkgs[pkg] = true
		files, err := emit.Generate(a.net, emit.Options{Package: pkg, Source: "../" + a.net.File})
		if err != nil {
			t.Errorf("accepted description does not generate: %v\n%s", err, a.origin)
			continue
		}
		for _, f := range files {
			if !bytes.HasPrefix(f.Contents, []byte("// "+emit.Header+"\n")) {
				t.Errorf("%s: %s lacks the header\n%s", pkg, f.Name, a.origin)
			}
			if !strings.HasSuffix(f.Name, ".go") {
				continue
			}
			if formatted, err := format.Source(f.Contents); err != nil {
				t.Errorf("%s: %s does not parse: %v\n%s", pkg, f.Name, err, a.origin)
			} else if !bytes.Equal(formatted, f.Contents) {
				t.Errorf("%s: %s is not gofmt-clean:\n%s\n%s", pkg, f.Name, firstDiff(f.Contents, formatted), a.origin)
			}
		}
		if i%(len(nets)/compile+1) == 0 || pkg == "main" || pkg == "init" {
			sample = append(sample, namedNet{pkg: pkg, net: a.net})
		}
	}
	if t.Failed() {
		return
	}
	// Every package in one module: one go vet run type-checks and vets
	// them all (asmdecl included) at the cost of one build.
	dir := t.TempDir()
	writeModule(t, dir, sample)
	if out, err := goCmd(t, dir, "vet", "./..."); err != nil {
		var names []string
		for _, s := range sample {
			names = append(names, s.pkg)
		}
		t.Fatalf("go vet of %s: %v\n%s", strings.Join(names, ", "), err, out)
	}
	t.Logf("%d descriptions generated, %d packages compiled and vetted in %v", len(nets), len(sample), time.Since(start).Round(time.Millisecond))
}

func unquoteGo(s string) (string, error) { return strconv.Unquote(s) }
