package emit_test

import (
	"testing"
	"time"

	"github.com/cnngen/cnngen/gen/emit"
)

// referenceNets returns the example networks of MLPerf Tiny's image models,
// the largest that the tests generate: MobileNetV1 0.25 at 96×96×3 and
// ResNet-8 at 32×32×3.
func referenceNets(t testing.TB) []namedNet {
	t.Helper()
	var nets []namedNet
	for _, nt := range exampleNets(t) {
		if nt.pkg == "exmobilenetvww" || nt.pkg == "exresnet8" {
			nets = append(nets, nt)
		}
	}
	if len(nets) != 2 {
		t.Fatalf("found %d of the 2 reference models among the examples", len(nets))
	}
	return nets
}

// TestReferenceModelsGenerate checks that the large reference models
// generate quickly and into packages of reasonable size: unrolling must
// not grow with their 96×96 and 32×32 maps.
func TestReferenceModelsGenerate(t *testing.T) {
	t.Parallel() // CPU-bound in this process, beside the tests that wait on child processes
	for _, nt := range referenceNets(t) {
		start := time.Now()
		files, err := emit.Generate(nt.net, emit.Options{Package: nt.pkg})
		if err != nil {
			t.Fatalf("%s: %v", nt.pkg, err)
		}
		took := time.Since(start)
		total, asm := 0, 0
		for _, f := range files {
			total += len(f.Contents)
			if f.Name == "simd_amd64.s" {
				asm = len(f.Contents)
			}
		}
		t.Logf("%s: %d files, %d bytes (%d of assembly) in %v", nt.pkg, len(files), total, asm, took)
		if took > 20*time.Second || total > 8<<20 {
			t.Errorf("%s: %d bytes in %v: too large or too slow", nt.pkg, total, took)
		}
	}
}

// TestGraphsVet compiles and vets the generated packages of random graphs
// (with and without batch norm) and of the reference models for amd64 and
// arm64, with and without the purego tag.
func TestGraphsVet(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles generated code")
	}
	t.Parallel() // a child process each, mostly single-threaded
	nets := append(randomGraphNets(t, 3, 2, false), randomGraphNets(t, 4, 2, true)...)
	nets = append(nets, referenceNets(t)...)
	dir := t.TempDir()
	writeModule(t, dir, nets)
	for _, env := range [][]string{{"GOARCH=amd64"}, {"GOARCH=arm64"}} {
		for _, tags := range []string{"", "purego"} {
			args := []string{"vet"}
			if tags != "" {
				args = append(args, "-tags", tags)
			}
			out, err := goCmdEnv(t, dir, env, append(args, "./...")...)
			if err != nil {
				t.Errorf("%v go %v: %v\n%s", env, args, err, out)
			}
		}
	}
}
