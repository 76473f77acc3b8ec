package runtime

import (
	"slices"
	"strings"
	"testing"
)

// TestDataLines checks that the readers record each sample's line in the
// file (after a header, too) and that Subset and Split carry the lines.
func TestDataLines(t *testing.T) {
	shape := Shape{Height: 1, Width: 2, Channels: 1}
	csv := "a,b,label\n1,2,0\n3,4,1\n5,6,0\n"
	d, err := ReadCSV(strings.NewReader(csv), "f.csv", shape, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Lines, []int{2, 3, 4}) {
		t.Errorf("ReadCSV lines %v, want [2 3 4]", d.Lines)
	}
	if s := d.Subset([]int{2, 0}); !slices.Equal(s.Lines, []int{4, 2}) {
		t.Errorf("Subset lines %v, want [4 2]", s.Lines)
	}
	train, test, err := d.Split(0.4, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []*Dataset{train, test} {
		for i, line := range part.Lines {
			if want := part.X[2*i]; float32(2*line-3) != want {
				t.Errorf("Split: sample with first value %g says line %d", want, line)
			}
		}
	}
	in, err := ReadInputs(strings.NewReader("1,2\n3,4\n"), "g.csv", shape, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(in.Lines, []int{1, 2}) {
		t.Errorf("ReadInputs lines %v, want [1 2]", in.Lines)
	}
	r, err := ReadRegressionCSV(strings.NewReader("x,y,t\n1,2,0.5\n"), "r.csv", shape, 1, TargetColumns, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Lines, []int{2}) {
		t.Errorf("ReadRegressionCSV lines %v, want [2]", r.Lines)
	}
	if (&Dataset{Shape: shape, X: []float32{1, 2}, Y: []int32{0}, Classes: 2}).Subset([]int{0}).Lines != nil {
		t.Error("Subset of a data set without lines has lines")
	}
}
