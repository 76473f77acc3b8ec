package emit_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestDifferentialStress is TestDifferential on many more random networks,
// for occasional runs: CNNGEN_STRESS=N draws N networks (seed
// CNNGEN_STRESS_SEED, default 2).
func TestDifferentialStress(t *testing.T) {
	count, _ := strconv.Atoi(os.Getenv("CNNGEN_STRESS"))
	if count == 0 {
		t.Skip("set CNNGEN_STRESS=N to run")
	}
	seed := uint64(2)
	if s := os.Getenv("CNNGEN_STRESS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		must(t, err)
		seed = v
	}
	nets := randomNets(t, seed, count)
	dir := t.TempDir()
	writeModule(t, dir, nets)
	check, err := os.ReadFile("testdata/difftest/check.go.txt")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "check.go"), check, 0o644))
	mainGo, err := driverMain(nets)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "main.go"), mainGo, 0o644))
	out, err := goCmd(t, dir, "run", ".")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("differential test program:\n%s", out)
}
