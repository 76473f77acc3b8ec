package runtime

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestReadRegressionCSV(t *testing.T) {
	d, err := ReadRegressionCSV(strings.NewReader("x1,x2,t1,t2\n0,16,1.5,-2\r\n 8,4 ,0,1e1\n"), "r.csv", tiny, 2, TargetColumns, 1.0/8)
	if err != nil {
		t.Fatal(err)
	}
	// The values are scaled, the targets are not.
	if d.Len() != 2 || !d.Regression() || d.Outputs != 2 || d.InputTargets ||
		!reflect.DeepEqual(d.X, []float32{0, 2, 1, 0.5}) || !reflect.DeepEqual(d.Targets, []float32{1.5, -2, 0, 10}) || d.Y != nil {
		t.Errorf("got %+v", d)
	}
	if got := d.Target(1); !reflect.DeepEqual(got, []float32{0, 10}) {
		t.Errorf("Target(1) = %v", got)
	}
}

func TestReadRegressionCSVInputTargets(t *testing.T) {
	d, err := ReadRegressionCSV(strings.NewReader("1,2\n3,4\n5,6\n"), "ae.csv", tiny, 2, TargetInput, 2)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 3 || !d.InputTargets || !reflect.DeepEqual(d.Targets, []float32{2, 4, 6, 8, 10, 12}) {
		t.Fatalf("got %+v", d)
	}
	if &d.Targets[0] != &d.X[0] {
		t.Error("an autoencoder's targets are a copy of its inputs, want the same memory")
	}
	// Subsets and splits keep the targets the samples.
	train, test, err := d.Split(0.34, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Dataset{train, test} {
		if !s.InputTargets || &s.Targets[0] != &s.X[0] || s.Len() != len(s.X)/2 {
			t.Errorf("split part %+v does not alias its targets to its inputs", s)
		}
	}
	if train.Len()+test.Len() != 3 || test.Len() != 2 {
		t.Errorf("split sizes %d and %d", train.Len(), test.Len())
	}
}

func TestReadRegressionCSVErrors(t *testing.T) {
	for _, tc := range []struct {
		in     string
		target TargetKind
		want   string
	}{
		{"", TargetColumns, "r.csv: no samples"},
		{"a,b,t\n", TargetColumns, "r.csv: no samples"},
		{"1,2,3\n\n", TargetColumns, "r.csv:2: empty line"},
		{"1,2\n", TargetColumns, "r.csv:1: 2 columns, want 3 (2 values for 1x2x1, then 1 target)"},
		{"a,b\n1,2,3\n", TargetColumns, "r.csv:1: header has 2 columns, want 3 (2 values for 1x2x1, then 1 target)"},
		{"1,2,x\n", TargetColumns, `r.csv:1: column 3: target 1: "x" is not a number`},
		{"1,2,3\n1,NaN,3\n", TargetColumns, "r.csv:2: column 2: value NaN is not finite"},
		{"1,2,Inf\n", TargetColumns, "r.csv:1: column 3: target 1: value Inf is not finite"},
		{"1,2,3\n", TargetInput, "r.csv: an autoencoder's 1 outputs differ from its 2 input values (1x2x1)"},
		{"1,2,3\n", "labels", `r.csv: unknown target "labels": want columns or input`},
	} {
		_, err := ReadRegressionCSV(strings.NewReader(tc.in), "r.csv", tiny, 1, tc.target, 1)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q (%s): got error %v, want %q", tc.in, tc.target, err, tc.want)
		}
	}
	// An autoencoder's lines hold the values only.
	_, err := ReadRegressionCSV(strings.NewReader("1,2,3\n"), "ae.csv", tiny, 2, TargetInput, 1)
	if want := "ae.csv:1: 3 columns, want 2 (the values for 1x2x1)"; err == nil || err.Error() != want {
		t.Errorf("got error %v, want %q", err, want)
	}
}

func TestReadRegressionInputs(t *testing.T) {
	in, err := ReadRegressionInputs(strings.NewReader("1,2\n3,4\n"), "p.csv", tiny, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if in.Len() != 2 || in.Targets != nil || in.Outputs != 0 {
		t.Errorf("without targets: got %+v", in)
	}
	in, err = ReadRegressionInputs(strings.NewReader("a,b,c,d,e\n1,2,5,6,7\n3,4,8,9,10\n"), "p.csv", tiny, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if in.Len() != 2 || in.Outputs != 3 || !reflect.DeepEqual(in.Targets, []float32{5, 6, 7, 8, 9, 10}) {
		t.Errorf("with targets: got %+v", in)
	}
	_, err = ReadRegressionInputs(strings.NewReader("1,2\n3,4,5,6,7\n"), "p.csv", tiny, 3, 1)
	if want := "p.csv:2: 5 columns, want 2 (the values for 1x2x1)"; err == nil || err.Error() != want {
		t.Errorf("mixed rows: got error %v, want %q", err, want)
	}
	_, err = ReadRegressionInputs(strings.NewReader("1,2,3\n"), "p.csv", tiny, 3, 1)
	if want := "p.csv:1: 3 columns, want 2 (the values for 1x2x1) or 5 (then 3 targets)"; err == nil || err.Error() != want {
		t.Errorf("bad first row: got error %v, want %q", err, want)
	}
}

func TestRegressionSubsetAndGather(t *testing.T) {
	d := &Dataset{Shape: tiny, X: []float32{0, 1, 2, 3, 4, 5}, Outputs: 1, Targets: []float32{10, 20, 30}}
	s := d.Subset([]int{2, 0})
	if s.Len() != 2 || !reflect.DeepEqual(s.X, []float32{4, 5, 0, 1}) || !reflect.DeepEqual(s.Targets, []float32{30, 10}) || s.Y != nil {
		t.Errorf("Subset: got %+v", s)
	}
	targets := make([]float32, 3)
	d.GatherTargets([]int{1, 1, 2}, targets)
	if !reflect.DeepEqual(targets, []float32{20, 20, 30}) {
		t.Errorf("GatherTargets: got %v", targets)
	}
}

// FuzzReadRegressionCSV feeds arbitrary bytes to the regression readers:
// they must never panic, must answer with a consistent data set or a
// one-line error that starts with the file's name, and ReadRegressionInputs
// must accept what ReadRegressionCSV accepts, with the same values and
// targets.
func FuzzReadRegressionCSV(f *testing.F) {
	for _, tc := range hostileData {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte("x1,x2,t\n0,16,1.5\n8,4,-2\n"))
	f.Add([]byte("1,2\n3,4\n"))
	f.Add([]byte(gz("1,2,3\n4,5,6\n")))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ReadRegressionCSV(bytes.NewReader(data), "f.csv", tiny, 1, TargetColumns, 0.5)
		checkFuzzErr(t, "ReadRegressionCSV", err)
		if err == nil {
			if d.Len() == 0 || len(d.X) != 2*d.Len() || len(d.Targets) != d.Len() {
				t.Fatalf("ReadRegressionCSV: %d samples, %d values, %d targets", d.Len(), len(d.X), len(d.Targets))
			}
			in, errIn := ReadRegressionInputs(bytes.NewReader(data), "f.csv", tiny, 1, 0.5)
			if errIn != nil || !equalBits(in.X, d.X) || !equalBits(in.Targets, d.Targets) {
				t.Fatalf("ReadRegressionCSV accepts the input, ReadRegressionInputs answers %v", errIn)
			}
		}
		ae, err := ReadRegressionCSV(bytes.NewReader(data), "f.csv", tiny, 2, TargetInput, 0.5)
		checkFuzzErr(t, "ReadRegressionCSV (input targets)", err)
		if err == nil && (ae.Len() == 0 || len(ae.X) != 2*ae.Len() || &ae.Targets[0] != &ae.X[0]) {
			t.Fatalf("ReadRegressionCSV (input targets): %d samples, %d values", ae.Len(), len(ae.X))
		}
	})
}
