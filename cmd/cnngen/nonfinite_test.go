package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// nonFiniteCSV writes a labelled digits-shaped CSV with a header line and
// four samples: the second and fourth have every value 3e38 (finite, but
// the network's sums overflow), so they are on lines 3 and 5. It returns
// the file and the samples' values.
func nonFiniteCSV(t *testing.T) (string, []float32) {
	t.Helper()
	var b strings.Builder
	for k := range 64 {
		if k > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "p%d", k)
	}
	b.WriteString(",label\n")
	var x []float32
	for s := range 4 {
		for k := range 64 {
			v := float32((k*7+s)%17) / 16
			if s%2 == 1 {
				v = 3e38
			}
			x = append(x, v)
			fmt.Fprintf(&b, "%v,", v)
		}
		fmt.Fprintf(&b, "%d\n", s)
	}
	path := filepath.Join(t.TempDir(), "huge.csv")
	writeFile(t, path, b.String())
	return path, x
}

// TestPredictNonFinite: predict prints every sample, with class "-" for
// those whose outputs are NaN or infinite (not class 0), then names them by
// their line in the data file and exits with status 1.
func TestPredictNonFinite(t *testing.T) {
	ckpt, m := trainedDigits(t, 1, 10)
	csv, x := nonFiniteCSV(t)
	logits := make([]float32, 4*10)
	m.Forward(x, logits)
	for s := range 4 {
		if got, want := finite(logits[s*10:(s+1)*10]), s%2 == 0; got != want {
			t.Fatalf("sample %d: logits %v: finite %v, want %v (the test needs other inputs)", s+1, logits[s*10:(s+1)*10], got, want)
		}
	}
	code, stdout, stderr := cli("predict", "-load", ckpt, "-data", csv, "-probs")
	if code != 1 {
		t.Errorf("exit %d, want 1; stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("stdout has %d lines, want a header and 4 rows:\n%s", len(lines), stdout)
	}
	for s, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != fmt.Sprint(s+1) || f[2] != fmt.Sprint(s) {
			t.Fatalf("row %q: want sample %d, a class, label %d", line, s+1, s)
		}
		if (f[1] == "-") != (s%2 == 1) {
			t.Errorf("row %q: class %q, want - exactly for the samples whose outputs are not finite", line, f[1])
		}
	}
	for _, want := range []string{
		"cnngen: accuracy ",
		"2 samples gave outputs that are not finite",
		csv + ":3 (sample 2): output ",
		csv + ":5 (sample 4): output ",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not say %q", stderr, want)
		}
	}
	if strings.Contains(stderr, ":2 (sample 1)") || strings.Contains(stderr, ":4 (sample 3)") {
		t.Errorf("stderr %q names a sample whose outputs are finite", stderr)
	}
}

// TestEvalNonFinite: eval prints no report when some sample's outputs are
// not finite, names those samples by file line and exits with status 1.
func TestEvalNonFinite(t *testing.T) {
	ckpt, _ := trainedDigits(t, 1, 10)
	csv, _ := nonFiniteCSV(t)
	code, stdout, stderr := cli("eval", "-load", ckpt, "-data", csv)
	if code != 1 || stdout != "" {
		t.Errorf("exit %d, stdout %q: want 1 and no report", code, stdout)
	}
	for _, want := range []string{"4 samples of " + csv + ": 2 samples gave outputs that are not finite", csv + ":3 (sample 2)", csv + ":5 (sample 4)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not say %q", stderr, want)
		}
	}
}

// TestNonFiniteError checks the error's wording and its limit of maxNamed
// samples named one by one.
func TestNonFiniteError(t *testing.T) {
	nf := &nonFinite{source: "MNIST's test images"}
	inf := float32(3e38)
	inf *= 10
	for i := range maxNamed + 3 {
		nf.check(i, []float32{1, inf - inf})
	}
	nf.check(99, []float32{1, 2})
	err := nf.err()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, fmt.Sprintf("%d samples gave outputs that are not finite", maxNamed+3)) ||
		!strings.Contains(msg, "\n\tsample 1 of MNIST's test images: output 1 is NaN") ||
		!strings.HasSuffix(msg, "\n\tand 3 more") || strings.Contains(msg, "sample 100") {
		t.Errorf("error %q", msg)
	}
	if err := (&nonFinite{}).err(); err != nil {
		t.Errorf("no samples: %v", err)
	}
}
