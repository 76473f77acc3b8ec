package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/datasets"
	"github.com/cnngen/cnngen/runtime"
)

// TestEvalCommand evaluates a briefly trained checkpoint on the digits test
// split of the seed recorded in it, and checks the report against the
// runtime's own scoring and the split's labels.
func TestEvalCommand(t *testing.T) {
	ckpt, m := trainedDigits(t, 5, 40)
	code, stdout, stderr := cli("eval", "-load", ckpt)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, test := digitsSplit(t, example(t, "digits.yaml"), 5)
	score, err := runtime.Evaluate(m, test)
	if err != nil {
		t.Fatal(err)
	}
	if score.Accuracy() < 0.5 {
		t.Fatalf("test accuracy %v after 40 Adam steps: the fixture did not train", score)
	}
	lines := strings.Split(stdout, "\n")
	head := []string{
		"digits: weights " + ckpt + " (network digits, adam after 40 steps)",
		"evaluated on the 180 test samples of digits.csv.gz (test fraction 0.1, seed 5)",
		"accuracy " + score.String(),
		"",
		"    class  precision  recall     f1  support",
	}
	for i, want := range head {
		if lines[i] != want {
			t.Errorf("line %d = %q, want %q", i+1, lines[i], want)
		}
	}

	// The class rows: support is the split's count of each label.
	support := make([]int, 10)
	for _, y := range test.Y {
		support[y]++
	}
	for k := range 10 {
		f := strings.Fields(lines[5+k])
		if len(f) != 5 || f[0] != strconv.Itoa(k) || f[4] != strconv.Itoa(support[k]) {
			t.Errorf("class row %q, want class %d with support %d", lines[5+k], k, support[k])
		}
	}
	if f := strings.Fields(lines[15]); len(f) != 6 || f[0] != "macro" || f[5] != "180" {
		t.Errorf("macro row %q", lines[15])
	}

	// The confusion matrix: rows sum to the supports, the diagonal to the
	// correct answers.
	if lines[17] != "confusion matrix (rows: true class, columns: predicted class)" ||
		strings.Join(strings.Fields(lines[18]), " ") != "true\\pred 0 1 2 3 4 5 6 7 8 9" {
		t.Errorf("matrix header %q / %q", lines[17], lines[18])
	}
	diagonal := 0
	for k := range 10 {
		f := strings.Fields(lines[19+k])
		if len(f) != 11 || f[0] != strconv.Itoa(k) {
			t.Fatalf("matrix row %q", lines[19+k])
		}
		sum := 0
		for p, s := range f[1:] {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatal(err)
			}
			sum += n
			if p == k {
				diagonal += n
			}
		}
		if sum != support[k] {
			t.Errorf("matrix row %d sums to %d, want the support %d", k, sum, support[k])
		}
	}
	if diagonal != score.Correct {
		t.Errorf("diagonal %d, want %d correct", diagonal, score.Correct)
	}
	if len(lines) != 30 || lines[29] != "" {
		t.Errorf("%d lines, want 29 and a final newline:\n%s", len(lines), stdout)
	}

	// -seed overrides the checkpoint's seed: another split, another score.
	_, other, _ := cli("eval", "-load", ckpt, "-seed", "6")
	if !strings.Contains(other, "(test fraction 0.1, seed 6)") {
		t.Errorf("-seed 6 ignored:\n%s", other)
	}
}

// TestEvalCommandData evaluates on a CSV file given with -data and a
// description file given after the flags.
func TestEvalCommandData(t *testing.T) {
	ckpt, m := trainedDigits(t, 1, 10)
	csv := digitsCSV(t, 30, true)
	desc := writeExample(t, t.TempDir(), "digits.yaml")
	code, stdout, stderr := cli("eval", "-load", ckpt, "-data", csv, "-scale", "0.0625", desc)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	d := digitsHead(t, 30)
	score, _ := runtime.Evaluate(m, d)
	if !strings.Contains(stdout, fmt.Sprintf("evaluated on 30 samples of %s\naccuracy %v\n", csv, score)) {
		t.Errorf("output:\n%s\nwant 30 samples of %s scored %v", stdout, csv, score)
	}
	// Without -scale the pixels are 16 times too large: still a valid run.
	if code, _, stderr := cli("eval", "-load", ckpt, "-data", csv); code != 0 {
		t.Errorf("unscaled: exit %d: %s", code, stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	writeFile(t, bad, "1,2,3\n")
	code, _, stderr = cli("eval", "-load", ckpt, "-data", bad)
	if code != 1 || stderr != "cnngen: "+bad+":1: 3 columns, want 65 (64 values for 8x8x1, then the label)\n" {
		t.Errorf("bad CSV: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = cli("eval", "-load", ckpt, "-scale", "2")
	if code != 2 || !strings.Contains(stderr, "-scale applies only to a -data file") {
		t.Errorf("-scale without -data: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = cli("eval", "-load", ckpt, "-data", csv, "-seed", "3")
	if code != 2 || !strings.Contains(stderr, "-seed chooses the digits test split") {
		t.Errorf("-seed with -data: exit %d, stderr %q", code, stderr)
	}
}

// TestWriteReport checks the whole report for a confusion matrix worked out
// by hand (the one of runtime's TestConfusion).
func TestWriteReport(t *testing.T) {
	c := runtime.NewConfusion(4)
	truth := []int{0, 0, 0, 1, 1, 1, 1, 2, 2, 2}
	predicted := []int{0, 0, 1, 1, 1, 1, 2, 1, 2, 2}
	for i := range truth {
		c.Add(truth[i], predicted[i])
	}
	var b strings.Builder
	if err := writeReport(&b, c); err != nil {
		t.Fatal(err)
	}
	want := `accuracy 0.7000 (7/10)

    class  precision  recall     f1  support
        0      1.000   0.667  0.800        3
        1      0.600   0.750  0.667        4
        2      0.667   0.667  0.667        3
        3      0.000   0.000  0.000        0
macro avg      0.567   0.521  0.533       10

confusion matrix (rows: true class, columns: predicted class)
true\pred 0 1 2 3
        0 2 1 0 0
        1 0 3 1 0
        2 0 1 2 0
        3 0 0 0 0
`
	if b.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", b.String(), want)
	}
}

// digitsHead returns the first n built-in digits.
func digitsHead(t *testing.T, n int) *runtime.Dataset {
	t.Helper()
	d, err := datasets.Digits()
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return d.Subset(idx)
}
