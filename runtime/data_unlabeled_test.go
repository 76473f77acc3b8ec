package runtime

import (
	"bytes"
	"compress/gzip"
	"slices"
	"strings"
	"testing"
)

var shape2x2 = Shape{Height: 1, Width: 2, Channels: 2}

func TestReadInputsUnlabeled(t *testing.T) {
	in, err := ReadInputs(strings.NewReader("a,b,c,d\n1,2,3,4\r\n 5 , 6,7,8\n"), "x.csv", shape2x2, 3, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if in.Len() != 2 || in.Labeled() {
		t.Fatalf("Len %d Labeled %v, want 2 samples without labels", in.Len(), in.Labeled())
	}
	if want := []float32{0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4}; !slices.Equal(in.X, want) {
		t.Errorf("X = %v, want %v", in.X, want)
	}
}

func TestReadInputsLabeled(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("1,2,3,4,2\n5,6,7,8,0.0\n"))
	zw.Close()
	in, err := ReadInputs(&gz, "x.csv.gz", shape2x2, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if in.Len() != 2 || !in.Labeled() || !slices.Equal(in.Labels, []int32{2, 0}) {
		t.Fatalf("Len %d Labels %v, want 2 samples labelled 2 and 0", in.Len(), in.Labels)
	}
	if want := []float32{1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(in.X, want) {
		t.Errorf("X = %v, want %v", in.X, want)
	}
}

func TestReadInputsErrors(t *testing.T) {
	tests := []struct{ name, data, want string }{
		{"empty", "", "x.csv: no samples"},
		{"header only", "a,b,c,d\n", "x.csv: no samples"},
		{"columns", "1,2,3\n", "x.csv:1: 3 columns, want 4 (the values for 1x2x2) or 5 (then the label)"},
		{"header columns", "a,b\n", "x.csv:1: header has 2 columns, want 4 (the values for 1x2x2) or 5 (then the label)"},
		{"mixed", "1,2,3,4\n1,2,3,4,1\n", "x.csv:2: 5 columns, want 4 (4 values for 1x2x2, as on the first line)"},
		{"mixed labelled", "1,2,3,4,1\n1,2,3,4\n", "x.csv:2: 4 columns, want 5 (4 values for 1x2x2, then the label, as on the first line)"},
		{"header sets columns", "a,b,c,d,label\n1,2,3,4\n", "x.csv:2: 4 columns, want 5"},
		{"not a number", "1,2,x,4\n", `x.csv:1: column 3: "x" is not a number`},
		{"nan", "1,2,3,NaN\n", "x.csv:1: column 4: value NaN is not finite"},
		{"range", "1,2,3,1e39\n", "x.csv:1: column 4: value 1e39 is out of float32 range"},
		{"empty line", "1,2,3,4\n\n1,2,3,4\n", "x.csv:2: empty line"},
		{"label", "1,2,3,4,3\n", "x.csv:1: column 5: label 3 is out of range: want 0..2"},
		{"fraction label", "1,2,3,4,1.5\n", "x.csv:1: column 5: label 1.5 is not an integer"},
		{"bad gzip", "\x1f\x8bxx", "x.csv: not a valid gzip file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadInputs(strings.NewReader(tc.data), "x.csv", shape2x2, 3, 1)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := ReadInputs(strings.NewReader("1,2,3,4\n"), "x.csv", shape2x2, 3, 1e38); err == nil ||
		!strings.Contains(err.Error(), "times scale 1e+38 is not finite") {
		t.Errorf("overflowing scale: err = %v", err)
	}
}

// TestReadInputsAgreesWithReadCSV reads a labelled file both ways.
func TestReadInputsAgreesWithReadCSV(t *testing.T) {
	data := "p1,p2,p3,p4,label\n0,16,8,4,1\n3,2,1,0,2\n"
	d, err := ReadCSV(strings.NewReader(data), "x.csv", shape2x2, 3, 1.0/16)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ReadInputs(strings.NewReader(data), "x.csv", shape2x2, 3, 1.0/16)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.X, in.X) || !slices.Equal(d.Y, in.Labels) {
		t.Errorf("ReadInputs = %v %v, ReadCSV = %v %v", in.X, in.Labels, d.X, d.Y)
	}
}
