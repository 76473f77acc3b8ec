package runtime

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Inputs are samples to run a model on, with their labels when the file that
// they came from had them: sample i is X[i*Shape.Size() : (i+1)*Shape.Size()]
// in HWC order, and Labels is nil or holds one class per sample.
type Inputs struct {
	Shape  Shape
	X      []float32
	Labels []int32
	// Targets holds a regression network's targets when the file had them
	// ([ReadRegressionInputs]): Outputs per sample; nil and 0 otherwise.
	Targets []float32
	Outputs int
	// Lines holds the line of the file (from 1) that each sample came from,
	// so that a message about a sample can point into the file; nil when
	// the samples were not read from a file.
	Lines []int
}

// Len is the number of samples.
func (in *Inputs) Len() int {
	if in.Shape.Size() == 0 {
		return 0
	}
	return len(in.X) / in.Shape.Size()
}

// Labeled reports whether the samples came with labels.
func (in *Inputs) Labeled() bool { return in.Labels != nil }

// ReadInputs reads samples to predict from a CSV file in the layout of
// [ReadCSV], with or without the label column: each line holds the
// shape.Size() values of one sample in HWC order, optionally followed by its
// class label (an integer in 0..classes-1). The first sample line decides
// which: every line must then have the same number of columns. Values are
// multiplied by scale as they are read.
//
// As in ReadCSV, the input may be gzip-compressed, the first line may be a
// header (no field a number), fields may be surrounded by spaces and lines
// may end in CRLF; an empty line, a wrong column count, a field that is not a
// number, a value that is not finite or a bad label is an error that names
// the file (name), the line and the column, and a file without samples is an
// error.
//
// The data read is bounded by the default [DataLimits], as in ReadCSV;
// DataLimits.ReadInputs reads with other limits.
func ReadInputs(r io.Reader, name string, shape Shape, classes int, scale float32) (*Inputs, error) {
	return DataLimits{}.ReadInputs(r, name, shape, classes, scale)
}

// ReadRegressionInputs reads samples to run a regression network with
// outputs outputs on, from a CSV file in the layout of [ReadRegressionCSV]
// with or without the target columns: each line holds the shape.Size()
// values of one sample in HWC order (multiplied by scale), optionally
// followed by its outputs targets (then in Targets). The first sample line
// decides which, as in [ReadInputs], whose other rules (and limits) apply
// too; DataLimits.ReadRegressionInputs reads with other limits.
func ReadRegressionInputs(r io.Reader, name string, shape Shape, outputs int, scale float32) (*Inputs, error) {
	return DataLimits{}.ReadRegressionInputs(r, name, shape, outputs, scale)
}

// readSamples is ReadInputs and, with labelRequired, ReadCSV: then every line
// must end with the label. The limits l bound what it reads.
func readSamples(r io.Reader, name string, shape Shape, classes int, scale float32, labelRequired bool, l DataLimits) (*Inputs, error) {
	values := shape.Size()
	if values <= 0 {
		return nil, fmt.Errorf("%s: sample shape %v has no values", name, shape)
	}
	if classes < 1 {
		return nil, fmt.Errorf("%s: %d classes: want at least 1", name, classes)
	}
	br, closeGzip, err := decompress(r, name)
	if err != nil {
		return nil, err
	}
	defer closeGzip()

	in := &Inputs{Shape: shape}
	var xs chunks // the values read
	budget, text := newDataBudget(l, name, br)
	// columns is values or values+1 once the first sample line has been
	// seen; 0 before, unless the label is required.
	columns := 0
	if labelRequired {
		columns = values + 1
	}
	want := func() string {
		if columns == values+1 {
			return fmt.Sprintf("%d (%d values for %v, then the label, as on the first line)", columns, values, shape)
		}
		return fmt.Sprintf("%d (%d values for %v, as on the first line)", columns, values, shape)
	}
	sc := newLineScanner(text)
	var fields []string
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			return nil, fmt.Errorf("%s:%d: empty line", name, line)
		}
		fields = splitFields(fields[:0], text)
		if line == 1 && isHeader(fields) {
			if labelRequired && len(fields) != columns {
				return nil, fmt.Errorf("%s:%d: header has %s, want %d (%d values for %v, then the label)",
					name, line, countColumns(len(fields)), columns, values, shape)
			}
			if len(fields) != values && len(fields) != values+1 {
				return nil, fmt.Errorf("%s:%d: header has %s, want %d (the values for %v) or %d (then the label)",
					name, line, countColumns(len(fields)), values, shape, values+1)
			}
			columns = len(fields)
			continue
		}
		switch {
		case labelRequired && len(fields) != columns:
			return nil, fmt.Errorf("%s:%d: %s, want %d (%d values for %v, then the label)",
				name, line, countColumns(len(fields)), columns, values, shape)
		case columns == 0 && (len(fields) == values || len(fields) == values+1):
			columns = len(fields)
		case columns == 0:
			return nil, fmt.Errorf("%s:%d: %s, want %d (the values for %v) or %d (then the label)",
				name, line, countColumns(len(fields)), values, shape, values+1)
		case len(fields) != columns:
			return nil, fmt.Errorf("%s:%d: %s, want %s", name, line, countColumns(len(fields)), want())
		}
		if budget.rowBytes == 0 {
			budget.setRow(values, columns-values, rowWhat(values, columns-values, "label"))
		}
		if err := budget.addRow(line); err != nil {
			return nil, err
		}
		in.Lines = append(in.Lines, line)
		for c, f := range fields[:values] {
			x, err := parseValue(f, scale)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: column %d: %v", name, line, c+1, err)
			}
			xs.add(x)
		}
		if columns == values+1 {
			label, err := parseLabel(fields[values], classes)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: column %d: %v", name, line, columns, err)
			}
			in.Labels = append(in.Labels, label)
		}
	}
	if err := sc.Err(); err != nil {
		if err := budget.readError(err, line); err != nil {
			return nil, err
		}
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: line longer than 64 MiB", name, line+1)
		}
		return nil, fmt.Errorf("%s: after line %d: %v", name, line, err)
	}
	if xs.n == 0 {
		return nil, fmt.Errorf("%s: no samples", name)
	}
	in.X = xs.slice()
	return in, nil
}

// decompress returns a reader of r's text, decompressed when r is a gzip
// file (detected from its first bytes), and a function that releases the
// decompressor.
func decompress(r io.Reader, name string) (*bufio.Reader, func(), error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: not a valid gzip file: %v", name, err)
		}
		return bufio.NewReader(zr), func() { zr.Close() }, nil
	}
	return br, func() {}, nil
}

// parseValue parses one sample value and multiplies it by scale, refusing
// values that are not numbers or not finite before or after scaling.
func parseValue(f string, scale float32) (float32, error) {
	v, err := strconv.ParseFloat(f, 32)
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("value %s is out of float32 range", f)
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", f)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("value %s is not finite", f)
	}
	x := float32(v) * scale
	if x-x != 0 {
		return 0, fmt.Errorf("value %s times scale %g is not finite", f, scale)
	}
	return x, nil
}

// countColumns is "1 column" or "n columns".
func countColumns(n int) string {
	if n == 1 {
		return "1 column"
	}
	return fmt.Sprintf("%d columns", n)
}
