package emit_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// randomCount is the number of random networks in the differential test.
const randomCount = 24

// TestDifferential generates every example network, the golden test's
// networks and randomCount random ones, compiles them into one program in a temporary module (with a replace
// to this repository) and runs it: for each network the generated code and
// the generic engine must agree on the initial parameters, the logits, the
// loss, the number correct and every gradient for batches of 1, Tile−1, Tile
// and 2·Tile+5 samples, on one sample through Logits and Predict, and on the
// parameters after 10 SGD steps, within |got − want| ≤ 1e-5·|want| +
// 1e-6·max(1, max|want|) (the floor relative to the tensor's largest value);
// canaries past the end of every buffer passed in must survive, and
// Forward, Backward, Step, Logits and Predict must not allocate. See
// testdata/difftest/check.go.txt. (The generated kernels add in the generic
// engine's order, so in practice the results are bit-identical: the program
// prints the worst relative difference per network, run with -v.)
func TestDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles generated code")
	}
	nets := append(append(exampleNets(t), goldenNets(t)...), randomNets(t, 1, randomCount)...)
	dir := t.TempDir()
	writeModule(t, dir, nets)
	check, err := os.ReadFile("testdata/difftest/check.go.txt")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "check.go"), check, 0o644))
	mainGo, err := driverMain(nets)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "main.go"), mainGo, 0o644))
	out, err := goCmd(t, dir, "run", ".")
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
	if got := strings.Count(out, "\nok ") + strings.Count(out[:min(3, len(out))], "ok "); got != len(nets) {
		t.Errorf("%d networks passed, want %d", got, len(nets))
	}
}
