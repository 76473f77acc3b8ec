package runtime

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// FuzzReadCSV feeds arbitrary bytes (plain or gzip-compressed) to ReadCSV and
// ReadInputs: they must never panic, must answer with either a consistent
// data set or a one-line error that starts with the file's name, and must
// agree on which labelled inputs are valid. The seeds are the bad files of
// TestReadDataHostile, a few good ones, lines in the digits' layout and
// the corpus under testdata/fuzz/FuzzReadCSV.
func FuzzReadCSV(f *testing.F) {
	for _, tc := range hostileData {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte("0,16,1\n8,4,0\n"))
	f.Add([]byte("a,b,label\r\n0, 16 ,1\r\n"))
	f.Add([]byte(gz("1,2,0\n3,4,1\n")))
	f.Add(digitsLines(3))
	shapes := []Shape{tiny, {Height: 8, Width: 8, Channels: 1}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, shape := range shapes {
			d, errCSV := ReadCSV(bytes.NewReader(data), "f.csv", shape, 10, 0.5)
			checkFuzzErr(t, "ReadCSV", errCSV)
			if errCSV == nil {
				if d.Len() == 0 || len(d.X) != d.Len()*shape.Size() {
					t.Fatalf("ReadCSV: %d labels, %d values for shape %v", d.Len(), len(d.X), shape)
				}
				for i, x := range d.X {
					if x-x != 0 {
						t.Fatalf("ReadCSV: value %d is %v", i, x)
					}
				}
				for i, y := range d.Y {
					if y < 0 || y >= 10 {
						t.Fatalf("ReadCSV: label %d is %d", i, y)
					}
				}
			}
			in, errIn := ReadInputs(bytes.NewReader(data), "f.csv", shape, 10, 0.5)
			checkFuzzErr(t, "ReadInputs", errIn)
			if errIn == nil && (in.Len() == 0 || len(in.X) != in.Len()*shape.Size() || in.Labels != nil && len(in.Labels) != in.Len()) {
				t.Fatalf("ReadInputs: %d samples, %d values, %d labels for shape %v", in.Len(), len(in.X), len(in.Labels), shape)
			}
			// Labelled data that ReadCSV accepts, ReadInputs accepts too,
			// with the same values.
			if errCSV == nil && (errIn != nil || !in.Labeled() || !equalBits(in.X, d.X)) {
				t.Fatalf("ReadCSV accepts the input, ReadInputs answers %v", errIn)
			}
		}
	})
}

// checkFuzzErr fails unless err is nil or a one-line message about f.csv.
func checkFuzzErr(t *testing.T, reader string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "f.csv:") || strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("%s: error %q is not one line starting with the file name", reader, msg)
	}
}

func equalBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// digitsLines returns n lines in the layout of the digits file: 64 pixel
// values in 0..16, then a label.
func digitsLines(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		for k := range 64 {
			b.WriteString(strconv.Itoa((i*7 + k*3) % 17))
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(i % 10))
		b.WriteByte('\n')
	}
	return b.Bytes()
}
