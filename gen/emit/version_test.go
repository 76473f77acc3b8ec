package emit_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/gen/emit"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
)

// The constant that generated code references exists in this runtime (this
// file would not compile otherwise).
var _ = runtime.SupportPackageIsVersion1

// TestGeneratedRuntimeVersion checks that every example package references
// runtime.SupportPackageIsVersion1, and (without -short) that a package
// generated for a version the runtime does not support fails to build with
// an error that names the missing constant, while the real one builds.
func TestGeneratedRuntimeVersion(t *testing.T) {
	t.Parallel() // CPU-bound in this process, beside the tests that wait on child processes
	const check = "const _ = runtime.SupportPackageIsVersion1\n"
	for _, nt := range exampleNets(t) {
		files := generateNet(t, nt, emit.Options{Package: nt.pkg})
		if files[1].Name != "model.go" || !bytes.Contains(files[1].Contents, []byte(check)) {
			t.Errorf("%s: %s lacks %q", nt.pkg, files[1].Name, check)
		}
	}
	if testing.Short() {
		t.Skip("builds a generated package twice")
	}
	src, err := os.ReadFile(filepath.Join("testdata", "golden", "small.yaml"))
	must(t, err)
	n, err := ir.Load("small.yaml", src)
	must(t, err)
	files := generate(t, n, emit.Options{Package: "small"})
	for _, version := range []string{"SupportPackageIsVersion1", "SupportPackageIsVersion999"} {
		dir := t.TempDir()
		writeModule(t, dir, nil)
		pdir := filepath.Join(dir, "small")
		must(t, os.MkdirAll(pdir, 0o755))
		for _, f := range files {
			data := bytes.ReplaceAll(f.Contents, []byte("SupportPackageIsVersion1"), []byte(version))
			must(t, os.WriteFile(filepath.Join(pdir, f.Name), data, 0o644))
		}
		out, err := goCmd(t, dir, "build", "./small")
		if version == "SupportPackageIsVersion1" {
			if err != nil {
				t.Fatalf("the generated package does not build: %v\n%s", err, out)
			}
			continue
		}
		if err == nil || !strings.Contains(out, "undefined: runtime."+version) {
			t.Errorf("a package generated for %s: go build: %v\n%s\nwant an error naming runtime.%s", version, err, out, version)
		}
	}
}
