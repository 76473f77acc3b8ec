package runtime

import (
	"bytes"
	"compress/gzip"
	"reflect"
	"strings"
	"testing"
)

// tiny is the shape of the CSV tests' samples: 2 values, then the label.
var tiny = Shape{Height: 1, Width: 2, Channels: 1}

func TestReadCSV(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		x        []float32
		y        []int32
	}{
		{"plain", "0,16,1\n8,4,0\n", []float32{0, 2, 1, 0.5}, []int32{1, 0}},
		{"no final newline", "0,16,1\n8,4,0", []float32{0, 2, 1, 0.5}, []int32{1, 0}},
		{"crlf and spaces", "0, 16 ,1\r\n 8,4,0 \r\n", []float32{0, 2, 1, 0.5}, []int32{1, 0}},
		{"header", "a,b,label\n0,16,1\n", []float32{0, 2}, []int32{1}},
		{"label with zero fraction", "1e1,-8,2.0\n", []float32{1.25, -1}, []int32{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ReadCSV(strings.NewReader(tc.in), "t.csv", tiny, 3, 1.0/8)
			if err != nil {
				t.Fatal(err)
			}
			if d.Shape != tiny || d.Classes != 3 || !reflect.DeepEqual(d.X, tc.x) || !reflect.DeepEqual(d.Y, tc.y) {
				t.Errorf("got %+v, want X %v Y %v", d, tc.x, tc.y)
			}
		})
	}
}

func TestReadCSVGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("1,2,0\n3,4,1\n"))
	zw.Close()
	d, err := ReadCSV(&buf, "t.csv.gz", tiny, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.X, []float32{1, 2, 3, 4}) || !reflect.DeepEqual(d.Y, []int32{0, 1}) {
		t.Errorf("got X %v Y %v", d.X, d.Y)
	}

	// A truncated file fails where the data stops.
	var whole bytes.Buffer
	zw = gzip.NewWriter(&whole)
	for range 2000 {
		zw.Write([]byte("1,2,0\n"))
	}
	zw.Close()
	_, err = ReadCSV(bytes.NewReader(whole.Bytes()[:whole.Len()-10]), "cut.csv.gz", tiny, 2, 1)
	if err == nil || err.Error() != "cut.csv.gz: after line 2000: unexpected EOF" {
		t.Errorf("truncated gzip: got error %v", err)
	}

	// A file that starts like gzip but is not.
	_, err = ReadCSV(strings.NewReader("\x1f\x8bxx"), "bad.gz", tiny, 2, 1)
	if err == nil || !strings.HasPrefix(err.Error(), "bad.gz: not a valid gzip file: ") {
		t.Errorf("corrupt gzip: got error %v, want one starting with %q", err, "bad.gz: not a valid gzip file: ")
	}
}

func TestReadCSVErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "t.csv: no samples"},
		{"a,b,label\n", "t.csv: no samples"},
		{"1,2,0\n\n3,4,1\n", "t.csv:2: empty line"},
		{"1,2,0\n1,2,0\n\n", "t.csv:3: empty line"},
		{"1,2,0\n1,2\n", "t.csv:2: 2 columns, want 3 (2 values for 1x2x1, then the label)"},
		{"1,2,0,0\n", "t.csv:1: 4 columns, want 3 (2 values for 1x2x1, then the label)"},
		{"a,b\n1,2,0\n", "t.csv:1: header has 2 columns, want 3 (2 values for 1x2x1, then the label)"},
		// One number in the first line: a typo, not a header.
		{"1,x,0\n", `t.csv:1: column 2: "x" is not a number`},
		{"1,2,0\n,2,0\n", `t.csv:2: column 1: "" is not a number`},
		{",,\n1,2,0\n", `t.csv:1: column 1: "" is not a number`},
		{"1,2,0\nNaN,2,0\n", "t.csv:2: column 1: value NaN is not finite"},
		{"1,2,0\n1,-Inf,0\n", "t.csv:2: column 2: value -Inf is not finite"},
		{"1,2,0\n1,1e39,0\n", "t.csv:2: column 2: value 1e39 is out of float32 range"},
		{"1,2,3\n", "t.csv:1: column 3: label 3 is out of range: want 0..2"},
		{"1,2,-1\n", "t.csv:1: column 3: label -1 is out of range: want 0..2"},
		{"1,2,1.5\n", "t.csv:1: column 3: label 1.5 is not an integer"},
		{"1,2,NaN\n", "t.csv:1: column 3: label NaN is not an integer"},
		{"1,2,one\n", `t.csv:1: column 3: label "one" is not a number`},
	} {
		_, err := ReadCSV(strings.NewReader(tc.in), "t.csv", tiny, 3, 1)
		if err == nil || err.Error() != tc.want {
			t.Errorf("ReadCSV(%q):\ngot  %v\nwant %s", tc.in, err, tc.want)
		}
	}
}

// seq returns a data set of n samples of one value each, sample i holding
// value i and label i%classes.
func seq(n, classes int) *Dataset {
	d := &Dataset{Shape: Shape{1, 1, 1}, Classes: classes, X: make([]float32, n), Y: make([]int32, n)}
	for i := range n {
		d.X[i] = float32(i)
		d.Y[i] = int32(i % classes)
	}
	return d
}

func TestSplit(t *testing.T) {
	d := seq(1797, 10)
	train, test, err := d.Split(0.1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 1617 || test.Len() != 180 {
		t.Fatalf("split 1797 at 0.1: %d/%d, want 1617/180", train.Len(), test.Len())
	}
	// Every sample lands in exactly one part, with its label.
	seen := make([]bool, d.Len())
	for _, part := range []*Dataset{train, test} {
		for i, v := range part.X {
			j := int(v)
			if seen[j] || part.Y[i] != d.Y[j] {
				t.Fatalf("sample %d duplicated or relabelled", j)
			}
			seen[j] = true
		}
	}
	// Same seed, same split; another seed, another split.
	train2, test2, _ := d.Split(0.1, 1)
	if !reflect.DeepEqual(train, train2) || !reflect.DeepEqual(test, test2) {
		t.Error("the same seed gave two different splits")
	}
	_, test3, _ := d.Split(0.1, 2)
	if reflect.DeepEqual(test, test3) {
		t.Error("seeds 1 and 2 gave the same split")
	}
}

func TestTestSize(t *testing.T) {
	for _, tc := range []struct {
		n    int
		frac float64
		want int
	}{
		{1797, 0.1, 180}, {1800, 0.1, 180}, {10, 0.25, 3}, {10, 0, 0}, {3, 0.5, 2},
	} {
		if got := TestSize(tc.n, tc.frac); got != tc.want {
			t.Errorf("TestSize(%d, %g) = %d, want %d", tc.n, tc.frac, got, tc.want)
		}
	}
}

func TestSplitErrors(t *testing.T) {
	d := seq(3, 2)
	for _, tc := range []struct {
		frac float64
		want string
	}{
		{-0.1, "test fraction -0.1 is outside [0, 1)"},
		{1, "test fraction 1 is outside [0, 1)"},
		{0.9, "test fraction 0.9 of 3 samples leaves no training samples"},
	} {
		if _, _, err := d.Split(tc.frac, 1); err == nil || err.Error() != tc.want {
			t.Errorf("Split(%g): got %v, want %s", tc.frac, err, tc.want)
		}
	}
	train, test, err := d.Split(0, 1)
	if err != nil || train.Len() != 3 || test.Len() != 0 {
		t.Errorf("Split(0): %d/%d, %v; want 3/0", train.Len(), test.Len(), err)
	}
}

func TestGather(t *testing.T) {
	d := &Dataset{Shape: tiny, Classes: 3, X: []float32{0, 1, 10, 11, 20, 21}, Y: []int32{0, 1, 2}}
	x := make([]float32, 6)
	y := make([]int32, 3)
	d.Gather([]int{2, 0}, x, y)
	if !reflect.DeepEqual(x, []float32{20, 21, 0, 1, 0, 0}) || !reflect.DeepEqual(y, []int32{2, 0, 0}) {
		t.Errorf("Gather: x %v y %v", x, y)
	}
	if a := testing.AllocsPerRun(10, func() { d.Gather([]int{1, 2, 0}, x, y) }); a != 0 {
		t.Errorf("Gather allocates %v times", a)
	}
	if got := d.Sample(1); !reflect.DeepEqual(got, []float32{10, 11}) {
		t.Errorf("Sample(1) = %v", got)
	}
}

func TestReadCSVScaleOverflow(t *testing.T) {
	_, err := ReadCSV(strings.NewReader("1,3e38,0\n"), "t.csv", tiny, 2, 10)
	if want := "t.csv:1: column 2: value 3e38 times scale 10 is not finite"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
