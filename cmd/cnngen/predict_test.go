package main

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/runtime"
)

// TestPredictUnlabeled predicts a CSV without a label column, with -probs,
// and checks every row against the model's own forward pass.
func TestPredictUnlabeled(t *testing.T) {
	ckpt, m := trainedDigits(t, 1, 10)
	csv := digitsCSV(t, 12, false)
	code, stdout, stderr := cli("predict", "-load", ckpt, "-data", csv, "-scale", "0.0625", "-probs")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	d := digitsHead(t, 12)
	logits := make([]float32, 12*10)
	m.Forward(d.X, logits)

	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if want := "sample  class" + strings.Repeat("      p%d", 10); lines[0] != fmt.Sprintf(want, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9) {
		t.Errorf("header %q", lines[0])
	}
	if len(lines) != 13 {
		t.Fatalf("%d lines, want a header and 12 rows:\n%s", len(lines), stdout)
	}
	probs := make([]float32, 10)
	for i, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) != 12 || f[0] != strconv.Itoa(i+1) {
			t.Fatalf("row %q: want the sample number %d, the class and 10 probabilities", line, i+1)
		}
		row := logits[i*10 : (i+1)*10]
		if want := runtime.Argmax(row); f[1] != strconv.Itoa(want) {
			t.Errorf("sample %d: class %s, want %d", i+1, f[1], want)
		}
		runtime.Probabilities(probs, row)
		var sum float64
		for k, s := range f[2:] {
			p, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatal(err)
			}
			sum += p
			if math.Abs(p-float64(probs[k])) > 0.00005 {
				t.Errorf("sample %d: p%d = %s, want %.4f", i+1, k, s, probs[k])
			}
		}
		if math.Abs(sum-1) > 0.001 {
			t.Errorf("sample %d: probabilities sum to %g", i+1, sum)
		}
	}
}

// TestPredictLabeled shows the file's labels beside the predictions and the
// accuracy on stderr.
func TestPredictLabeled(t *testing.T) {
	ckpt, m := trainedDigits(t, 1, 10)
	csv := digitsCSV(t, 5, true)
	code, stdout, stderr := cli("predict", csv, "-load", ckpt, "-data", csv, "-scale", "0.0625")
	// csv as FILE is not a description: that is an error.
	if code != 1 {
		t.Errorf("a CSV as the description: exit %d, want 1 (stderr %q)", code, stderr)
	}
	code, stdout, stderr = cli("predict", "-load", ckpt, "-data", csv, "-scale", "0.0625")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	d := digitsHead(t, 5)
	score, _ := runtime.Evaluate(m, d)
	logits := make([]float32, 5*10)
	m.Forward(d.X, logits)
	want := "sample  class  label\n"
	for i := range 5 {
		want += fmt.Sprintf("%6d  %5d  %5d\n", i+1, runtime.Argmax(logits[i*10:(i+1)*10]), d.Y[i])
	}
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	if wantErr := fmt.Sprintf("cnngen: accuracy %v against the labels of %s\n", score, csv); stderr != wantErr {
		t.Errorf("stderr %q, want %q", stderr, wantErr)
	}
}

func TestPredictErrors(t *testing.T) {
	ckpt := initialCheckpoint(t, "digits.yaml")
	code, _, stderr := cli("predict", "-load", ckpt)
	if code != 2 || !strings.HasPrefix(stderr, "cnngen predict: -data CSV is required\n") {
		t.Errorf("no -data: exit %d, stderr %q", code, stderr)
	}
	dir := t.TempDir()
	for _, tc := range []struct{ name, data, want string }{
		{"mixed.csv", strings.Repeat("0,", 63) + "0\n" + strings.Repeat("0,", 64) + "3\n",
			"mixed.csv:2: 65 columns, want 64 (64 values for 8x8x1, as on the first line)"},
		{"nan.csv", strings.Repeat("0,", 63) + "NaN\n", "nan.csv:1: column 64: value NaN is not finite"},
		{"label.csv", strings.Repeat("0,", 64) + "10\n", "label.csv:1: column 65: label 10 is out of range: want 0..9"},
		{"empty.csv", "", "empty.csv: no samples"},
	} {
		path := filepath.Join(dir, tc.name)
		writeFile(t, path, tc.data)
		code, stdout, stderr := cli("predict", "-load", ckpt, "-data", path)
		if code != 1 || stdout != "" || stderr != "cnngen: "+filepath.Join(dir, tc.want)+"\n" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q", tc.name, code, stdout, stderr, tc.want)
		}
	}
	code, _, stderr = cli("predict", "-load", ckpt, "-data", filepath.Join(dir, "missing.csv"))
	if code != 1 || !strings.Contains(stderr, "no such file or directory") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("missing CSV: exit %d, stderr %q", code, stderr)
	}
}

// TestPredictLogits prints the logits of every row, with -probs and
// without, in full precision: each parses back to the model's own float32.
func TestPredictLogits(t *testing.T) {
	ckpt, m := trainedDigits(t, 1, 10)
	csv := digitsCSV(t, 5, true)
	d := digitsHead(t, 5)
	logits := make([]float32, 5*10)
	m.Forward(d.X, logits)
	for _, probs := range []bool{false, true} {
		args := []string{"predict", "-load", ckpt, "-data", csv, "-scale", "0.0625", "-logits"}
		skip := 3 // sample, class, label
		if probs {
			args = append(args, "-probs")
			skip += 10
		}
		code, stdout, stderr := cli(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
		}
		lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		if len(lines) != 6 {
			t.Fatalf("%d lines, want a header and 5 rows:\n%s", len(lines), stdout)
		}
		header := strings.Fields(lines[0])
		if len(header) != skip+10 || header[skip] != "z0" || header[skip+9] != "z9" {
			t.Errorf("header %q: want the logits z0 to z9 last", lines[0])
		}
		for i, line := range lines[1:] {
			f := strings.Fields(line)
			if len(f) != skip+10 {
				t.Fatalf("row %q: want %d columns", line, skip+10)
			}
			for k, s := range f[skip:] {
				v, err := strconv.ParseFloat(s, 32)
				if err != nil || float32(v) != logits[i*10+k] {
					t.Errorf("sample %d: z%d = %s, want %s exactly", i+1, k, s, strconv.FormatFloat(float64(logits[i*10+k]), 'g', -1, 32))
				}
			}
		}
	}
	// Without -logits the output is as before: no z columns.
	_, stdout, _ := cli("predict", "-load", ckpt, "-data", csv, "-scale", "0.0625")
	if strings.Contains(stdout, "z0") {
		t.Errorf("z columns without -logits:\n%s", stdout)
	}
}
