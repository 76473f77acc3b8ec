package emit_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cnngen/cnngen/runtime"
)

// randomCount is the number of random networks in the differential test.
const randomCount = 24

// TestDifferential generates every example network, the golden test's
// networks, the convolution-as-GEMM test's networks and randomCount random
// ones, compiles them into one program in a temporary module (with a
// replace to this repository) and runs it. For each network, on every ISA
// path runtime.AvailableISAs lists (forced with runtime.ForceISA in the
// program) and with 1, 2 and 3 workers, the generated code and the generic
// engine must agree on the initial parameters, the logits, the loss, the
// number correct and every gradient for batches of 1, 15, 16, 37, Tile−1,
// Tile, 2·Tile+5, 3·Tile+1 and 4·Tile+3 samples, on one sample through
// Logits and Predict (of the Model and of a Frozen), and on the parameters
// after each of 10 SGD steps (on the paths that are not bit-exact, each
// step starts from the generic engine's parameters, written through Params
// as an optimizer does, so that a diverging network does not amplify
// rounding into failures), within |got − want| ≤ 1e-5·|want| +
// a·max(1, max|want|) (the floor relative to the tensor's largest value),
// a = 1e-6 on the pure-Go path with one worker and 1e-5 on the FMA paths
// and with several workers, whose sums associate differently (a sum with
// heavy cancellation, such as a conv bias gradient, differs by more than
// 1e-5 of its small value); 1e-4 for networks with batch norm, whose
// gradients that miss it are judged against the float64 engine (a batch
// with a nearly constant channel, or a ReLU input within rounding of its
// kink, makes every float32 engine's gradient differ from the exact one).
// The networks above a million MACs per sample (the MLPerf Tiny image
// models) run on two batches and two steps, with one worker count per ISA,
// and a = 3e-2 off the exact path (ReLU kinks again; see check.go.txt).
// Canaries past the end of every buffer passed in must survive; Forward,
// Backward, Step, Logits and Predict must not allocate; a second model
// with the same seed and worker count must reach the same bits after
// three SGD steps. CNNGEN_TEST_REQUIRE=avx2|avx512 fails the test when that path
// did not run. See testdata/difftest/check.go.txt; run with -v for the
// worst relative difference and the time of every check.
func TestDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles generated code")
	}
	t.Parallel() // a child process each, mostly single-threaded
	// The examples keep the default SplitLogitsMACs (the MLPerf Tiny image
	// models split, the others do not); the other networks split whatever
	// their size, for the im2col, grouped and elementwise parts on odd
	// shapes.
	nets := append(append(append(exampleNets(t), goldenNets(t)...), splitting(loadConvGemmNets(t))...), splitting(randomNets(t, 1, randomCount))...)
	runDifferential(t, nets)
}

// graphCount is the number of random graphs in the differential test, with
// and without batch norm each.
const graphCount = 6

// TestDifferentialGraphs is TestDifferential on random graphs (see
// randomGraphArch): branches joined by add and concat, outputs consumed
// twice, grouped and depthwise convolutions with odd channel counts,
// layers without bias, relu6, leaky_relu, global average pooling,
// dropout with fixed seeds and steps, regression heads, and batch norm,
// whose training statistics span the whole batch across the workers.
func TestDifferentialGraphs(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles generated code")
	}
	t.Parallel() // a child process each, mostly single-threaded
	runDifferential(t, splitting(append(randomGraphNets(t, 1, graphCount, false), randomGraphNets(t, 2, graphCount, true)...)))
}

// runDifferential generates nets, compiles them with the differential test
// program and runs it.
//
// CNNGEN_DIFF_NETS=a,b (package names, such as exresidual or random3)
// limits the run to those networks, for debugging.
func runDifferential(t *testing.T, nets []namedNet) {
	t.Helper()
	if only := os.Getenv("CNNGEN_DIFF_NETS"); only != "" {
		names := strings.Split(only, ",")
		nets = slices.DeleteFunc(nets, func(nt namedNet) bool { return !slices.Contains(names, nt.pkg) })
		if len(nets) == 0 {
			t.Skipf("CNNGEN_DIFF_NETS=%s names none of this test's networks", only)
		}
	}
	dir := t.TempDir()
	writeModule(t, dir, nets)
	check, err := os.ReadFile("testdata/difftest/check.go.txt")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "check.go"), check, 0o644))
	mainGo, err := driverMain(nets)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "main.go"), mainGo, 0o644))
	out, err := runShared(t, dir, len(nets))
	t.Logf("differential test program:\n%s", out)
	if keep := os.Getenv("CNNGEN_KEEP"); keep != "" {
		// CNNGEN_KEEP=DIR keeps the generated module for debugging.
		if err := os.CopyFS(keep, os.DirFS(dir)); err != nil {
			t.Log(err)
		}
		t.Logf("module kept in %s", keep)
	}
	if err != nil {
		t.Fatalf("differential test failed: %v", err)
	}
	isas := runtime.AvailableISAs()
	if got, want := strings.Count(out, "\nok ")+strings.Count(out[:min(3, len(out))], "ok "), len(nets)*len(isas)*3; got != want {
		t.Errorf("%d checks passed, want %d (%d networks × %d ISAs × 3 worker counts)", got, want, len(nets), len(isas))
	}
	requireISA(t, out)
}

// runShared builds the differential test program in dir and runs it in
// one process per CPU, side by side (a check is mostly single-threaded):
// the processes share the networks out through a directory of claims
// (CNNGEN_DIFF_CLAIMS), each checking a network on every ISA and worker
// count. It returns their outputs, joined, and the first error.
//
// The build is -trimpath, so that its actions do not depend on dir: with a
// warm build cache, the generated packages that have not changed since the
// last run are not compiled again (every change to the generator that
// changes them is).
func runShared(t *testing.T, dir string, nets int) (string, error) {
	t.Helper()
	bin := filepath.Join(dir, "difftest.exe")
	if out, err := goCmd(t, dir, "build", "-trimpath", "-o", bin, "."); err != nil {
		return out, err
	}
	claims := filepath.Join(dir, "claims")
	if err := os.Mkdir(claims, 0o755); err != nil {
		return "", err
	}
	procs := max(1, min(goruntime.NumCPU(), nets))
	outs := make([]bytes.Buffer, procs)
	errs := make([]error, procs)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Go(func() {
			cmd := exec.Command(bin)
			cmd.Env = append(os.Environ(), "CNNGEN_DIFF_CLAIMS="+claims)
			cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
			errs[i] = cmd.Run()
		})
	}
	wg.Wait()
	var all strings.Builder
	for i := range procs {
		all.Write(outs[i].Bytes())
	}
	return all.String(), errors.Join(errs...)
}

// requireISA fails the test when CNNGEN_TEST_REQUIRE names an ISA
// (avx2, avx512) whose checks did not all run and pass in the program's
// output (the "ran isa=..." lines): on a machine that should have the fast
// path, a silent fallback to pure Go is a failure.
func requireISA(t *testing.T, out string) {
	t.Helper()
	if err := missingISA(os.Getenv("CNNGEN_TEST_REQUIRE"), out); err != nil {
		t.Error(err)
	}
}

// missingISA reports whether the ISA named by req ("" for none) is missing
// from the differential program's output out.
func missingISA(req, out string) error {
	if req == "" {
		return nil
	}
	isa, err := runtime.ParseISA(req)
	if err != nil {
		return fmt.Errorf("CNNGEN_TEST_REQUIRE: %v", err)
	}
	if !strings.Contains("\n"+out, "\nran isa="+isa.String()+"\n") {
		return fmt.Errorf("CNNGEN_TEST_REQUIRE=%s: the %v path was not taken (available here: %v)", req, isa, runtime.AvailableISAs())
	}
	return nil
}

// TestRequireISA checks the CNNGEN_TEST_REQUIRE logic on made-up outputs.
func TestRequireISA(t *testing.T) {
	out := "ok a isa=purego workers=1\nran isa=purego\nFAIL a isa=avx512 workers=2: x\n"
	for _, c := range []struct {
		req  string
		fail bool
	}{{"", false}, {"purego", false}, {"avx2", true}, {"avx512", true}, {"sse", true}} {
		if err := missingISA(c.req, out); (err != nil) != c.fail {
			t.Errorf("missingISA(%q) = %v, want failure %v", c.req, err, c.fail)
		}
	}
	if err := missingISA("avx512", out+"ran isa=avx512\n"); err != nil {
		t.Errorf("avx512 ran, yet: %v", err)
	}
}
