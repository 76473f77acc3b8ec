package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneStep: counts of one are singular wherever the CLI prints them
// ("1 step", never "1 steps").
func TestOneStep(t *testing.T) {
	code, stdout, stderr := runCLI("train", "-steps", "1", "-workers", "1")
	if code != 0 {
		t.Fatalf("train -steps 1: exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "cnngen: 1 step in ") || !strings.Contains(stdout, ", 1 step\n") {
		t.Errorf("train -steps 1: want \"1 step\" in the recipe and the timing, got stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	dir := t.TempDir()
	desc := filepath.Join(dir, "one.yaml")
	src := strings.Replace(hostileNet("one"), "learning_rate: 0.1}", "learning_rate: 0.1, schedule: {type: step, step_size: 1, gamma: 0.5}}", 1)
	if err := os.WriteFile(desc, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI("summary", desc)
	if code != 0 {
		t.Fatalf("summary: exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "every 1 step,") || !strings.Contains(stdout, ", 1 step,") {
		t.Errorf("summary: want \"every 1 step\" and \"1 step\", got:\n%s", stdout)
	}
	for _, out := range []string{stdout, stderr} {
		if strings.Contains(out, " 1 steps") {
			t.Errorf("\"1 steps\" in:\n%s", out)
		}
	}
}
