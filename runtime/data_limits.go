package runtime

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// The default [DataLimits]: generous for the data sets a small CNN trains on
// in memory (MNIST's 60,000 training images take 190 MB, the digits 0.5 MB)
// and far below what a gzip bomb expands to.
const (
	// DefaultMaxDataBytes bounds the text of a data file, after
	// decompression: 2 GiB.
	DefaultMaxDataBytes = 2 << 30
	// DefaultMaxDataRows bounds the samples of a data file: 5 million.
	DefaultMaxDataRows = 5_000_000
	// DefaultMaxDataMemory bounds the memory that a data file's samples
	// take once read: 1 GiB of float32 values, labels and targets.
	DefaultMaxDataMemory = 1 << 30
)

// DataLimits bounds what reading a data file may cost, so that a file that
// is too large (a gzip file of a few megabytes can expand to terabytes of
// valid rows) fails early with an error that names the file, the line and
// the limit, rather than exhausting the memory. A zero field takes its
// default (DefaultMaxDataBytes, DefaultMaxDataRows, DefaultMaxDataMemory); a
// negative one lifts the limit. The zero DataLimits is what [ReadCSV],
// [ReadInputs], [ReadRegressionCSV] and [ReadRegressionInputs] use.
type DataLimits struct {
	// MaxBytes bounds the bytes of text read, counted after
	// decompression: reading stops as soon as it is exceeded.
	MaxBytes int64
	// MaxRows bounds the number of samples (lines other than the header).
	MaxRows int
	// MaxMemory bounds the memory the samples take once read: rows × the
	// row's width (4 bytes per value, label and target). Reading takes up
	// to about twice that at its end, when the values read in blocks are
	// copied into one slice.
	MaxMemory int64
}

// resolved returns l with the defaults filled in and the lifted limits set
// to the largest value.
func (l DataLimits) resolved() DataLimits {
	pick := func(v, def int64) int64 {
		switch {
		case v == 0:
			return def
		case v < 0:
			return 1<<63 - 1
		}
		return v
	}
	return DataLimits{
		MaxBytes:  pick(l.MaxBytes, DefaultMaxDataBytes),
		MaxRows:   int(min(pick(int64(l.MaxRows), DefaultMaxDataRows), math.MaxInt)), // math.MaxInt32 on 32-bit GOARCHes
		MaxMemory: pick(l.MaxMemory, DefaultMaxDataMemory),
	}
}

// ReadCSV is [ReadCSV] within the limits l.
func (l DataLimits) ReadCSV(r io.Reader, name string, shape Shape, classes int, scale float32) (*Dataset, error) {
	in, err := readSamples(r, name, shape, classes, scale, true, l)
	if err != nil {
		return nil, err
	}
	return &Dataset{Shape: shape, Classes: classes, X: in.X, Y: in.Labels, Lines: in.Lines}, nil
}

// ReadInputs is [ReadInputs] within the limits l.
func (l DataLimits) ReadInputs(r io.Reader, name string, shape Shape, classes int, scale float32) (*Inputs, error) {
	return readSamples(r, name, shape, classes, scale, false, l)
}

// ReadRegressionCSV is [ReadRegressionCSV] within the limits l.
func (l DataLimits) ReadRegressionCSV(r io.Reader, name string, shape Shape, outputs int, target TargetKind, scale float32) (*Dataset, error) {
	return readRegressionCSV(r, name, shape, outputs, target, scale, l)
}

// ReadRegressionInputs is [ReadRegressionInputs] within the limits l.
func (l DataLimits) ReadRegressionInputs(r io.Reader, name string, shape Shape, outputs int, scale float32) (*Inputs, error) {
	return readRegressionRows(r, name, shape, outputs, scale, targetsOptional, l)
}

// DataLimit names one of the [DataLimits].
type DataLimit string

// The limits of [DataLimits], as a [DataLimitError] names them.
const (
	LimitBytes  DataLimit = "bytes"
	LimitRows   DataLimit = "rows"
	LimitMemory DataLimit = "memory"
)

// DataLimitError reports a data file that exceeds one of its [DataLimits].
type DataLimitError struct {
	// File is the file's name, Line the line being read when the limit was
	// exceeded.
	File string
	Line int
	// Limit is which limit, Max its value.
	Limit DataLimit
	Max   int64
	// Detail says what exceeds it.
	Detail string
}

// Error formats the error as FILE:LINE: what exceeds which limit.
func (e *DataLimitError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Detail)
}

// errTooMuchText is what the reader of a data file's text returns once it
// has handed out more than the limit.
var errTooMuchText = errors.New("too much text")

// boundedReader reads at most max bytes from r, then fails with
// errTooMuchText.
type boundedReader struct {
	r        io.Reader
	n, limit int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.n > b.limit {
		return 0, errTooMuchText
	}
	if rest := b.limit + 1 - b.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.limit {
		return n, errTooMuchText
	}
	return n, err
}

// dataBudget counts the rows of a data file against its limits.
type dataBudget struct {
	limits   DataLimits // resolved
	name     string
	rows     int
	rowBytes int64 // the memory one row takes, 0 until known
	what     string
}

// newDataBudget returns the budget of the data file name under l, and its
// text r bounded by l.MaxBytes.
func newDataBudget(l DataLimits, name string, r io.Reader) (*dataBudget, io.Reader) {
	l = l.resolved()
	return &dataBudget{limits: l, name: name}, &boundedReader{r: r, limit: l.MaxBytes}
}

// setRow records the memory one row takes: values, labels and targets of 4
// bytes each, which what describes ("64 values and a label").
func (b *dataBudget) setRow(values, extra int, what string) {
	b.rowBytes = 4 * int64(values+extra)
	b.what = what
}

// addRow counts the sample at line, failing when it exceeds the rows or
// the memory allowed.
func (b *dataBudget) addRow(line int) error {
	b.rows++
	if b.rows > b.limits.MaxRows {
		return &DataLimitError{File: b.name, Line: line, Limit: LimitRows, Max: int64(b.limits.MaxRows),
			Detail: fmt.Sprintf("more than %d samples: over the limit on rows", b.limits.MaxRows)}
	}
	if b.rowBytes > 0 && int64(b.rows) > b.limits.MaxMemory/b.rowBytes {
		return &DataLimitError{File: b.name, Line: line, Limit: LimitMemory, Max: b.limits.MaxMemory,
			Detail: fmt.Sprintf("%d samples of %s take more than %s: over the limit on memory", b.rows, b.what, formatBytes(b.limits.MaxMemory))}
	}
	return nil
}

// readError turns the scanner's error after line into the error to report:
// a DataLimitError when the text exceeded the limit.
func (b *dataBudget) readError(err error, line int) error {
	if errors.Is(err, errTooMuchText) {
		return &DataLimitError{File: b.name, Line: line + 1, Limit: LimitBytes, Max: b.limits.MaxBytes,
			Detail: fmt.Sprintf("more than %s of text (after decompression): over the limit on size", formatBytes(b.limits.MaxBytes))}
	}
	return nil
}

// formatBytes writes n bytes in the largest binary unit that divides it.
func formatBytes(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 40, "TiB"}, {1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

// chunks accumulates float32 values in blocks and hands them out as one
// slice of exactly their number: reading a data file of n values then takes
// at most about 2n values of memory (the blocks and the result), where
// appending to one slice would leave the garbage of every reallocation.
type chunks struct {
	full [][]float32
	cur  []float32
	n    int
}

// maxChunk is the largest block, in values (4 MiB).
const maxChunk = 1 << 20

// add appends v.
func (c *chunks) add(v float32) {
	if len(c.cur) == cap(c.cur) {
		size := 1024
		if c.cur != nil {
			c.full = append(c.full, c.cur)
			size = min(2*cap(c.cur), maxChunk)
		}
		c.cur = make([]float32, 0, size)
	}
	c.cur = append(c.cur, v)
	c.n++
}

// slice returns the values added, in order, in a slice of their own,
// releasing the blocks as it copies them.
func (c *chunks) slice() []float32 {
	out := make([]float32, 0, c.n)
	for i, b := range c.full {
		out = append(out, b...)
		c.full[i] = nil
	}
	out = append(out, c.cur...)
	c.full, c.cur = nil, nil
	return out
}
