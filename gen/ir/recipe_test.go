package ir_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
)

// TestLoadRecipe reads examples/digits_adam.yaml's train section as the
// runtime's TrainConfig, defaults filled in, and checks that the network's
// TrainConfig is the same value and a copy.
func TestLoadRecipe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "digits_adam.yaml")
	src, err := examples.FS.ReadFile("digits_adam.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := ir.LoadRecipe(path)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Optimizer
	if cfg.Loss != runtime.CrossEntropy || cfg.Reduction != runtime.Mean || cfg.BatchSize != 32 || cfg.Epochs != 10 || cfg.Steps != 0 ||
		cfg.Seed != 1 || cfg.TestFraction != 0.1 || o.Kind != runtime.Adam || o.LearningRate != 0.001 || o.Beta1 != 0.9 || o.Beta2 != 0.999 || o.Epsilon == 0 {
		t.Errorf("recipe %+v", cfg)
	}
	n, err := ir.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := n.TrainConfig()
	if got != cfg {
		t.Errorf("Network.TrainConfig %+v, LoadRecipe %+v", got, cfg)
	}
	got.Steps = 7
	if n.TrainConfig().Steps != 0 {
		t.Error("changing the returned recipe changed the network's")
	}

	// Errors name the file; a recipe of an invalid network is no recipe.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(src), "units: 10", "units: 0", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{bad, filepath.Join(t.TempDir(), "missing.yaml")} {
		if _, err := ir.LoadRecipe(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("LoadRecipe(%s): %v, want an error naming the file", p, err)
		}
	}
}
