package emit_test

import (
	"strings"
	"testing"

	"github.com/cnngen/cnngen/gen/emit"
)

// TestHostileSource checks how the description's path reaches doc.go: a
// dollar sign is written as ${DOLLAR} in the go:generate line (go generate
// expands $NAME; regression: "nets/$HOME/x.yaml" used to regenerate from the
// home directory), and a path that is not UTF-8 or holds a line break is
// refused rather than breaking the comment.
func TestHostileSource(t *testing.T) {
	n := exampleNets(t)[0].net
	files := generate(t, n, emit.Options{Package: "p", Source: "nets/$HOME/x.yaml", GoGenerate: true})
	if want := " -pkg p nets/${DOLLAR}HOME/x.yaml\n"; !strings.Contains(string(files[0].Contents), want) {
		t.Errorf("doc.go lacks %q:\n%s", want, files[0].Contents)
	}
	files = generate(t, n, emit.Options{Package: "p", Source: `a "$b"/*/x.yaml`, GoGenerate: true})
	if want := ` -pkg p "a \"${DOLLAR}b\"/*/x.yaml"` + "\n"; !strings.Contains(string(files[0].Contents), want) {
		t.Errorf("doc.go lacks %q:\n%s", want, files[0].Contents)
	}
	for _, src := range []string{"bad\xff.yaml", "x\r.yaml", "x\n//go:generate rm -rf /"} {
		if _, err := emit.Generate(n, emit.Options{Package: "p", Source: src}); err == nil || strings.ContainsAny(err.Error(), "\n\r") {
			t.Errorf("source %q: error %v; want one line", src, err)
		}
	}
}
