package runtime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Dataset is a set of samples held in memory with their labels or, for a
// regression network, their real-valued targets: sample i is
// X[i*Shape.Size() : (i+1)*Shape.Size()] in HWC order, and its class is Y[i],
// in 0..Classes-1, or its targets are Targets[i*Outputs : (i+1)*Outputs].
type Dataset struct {
	Shape   Shape
	Classes int
	X       []float32
	Y       []int32
	// Outputs is the number of targets per sample of a regression data set
	// (then Classes is 0 and Y nil); 0 for a labelled data set.
	Outputs int
	// Targets holds a regression data set's targets, Outputs per sample.
	Targets []float32
	// InputTargets marks an autoencoder's data set ([TargetInput]): each
	// sample is its own target, Targets is X itself (not a copy) and
	// Outputs is Shape.Size().
	InputTargets bool
	// Lines holds, when the samples were read from a file ([ReadCSV],
	// [ReadRegressionCSV]), the line (from 1) that each came from, so that
	// a message about a sample can point into the file; nil otherwise.
	// [Dataset.Subset] and [Dataset.Split] carry it along.
	Lines []int
}

// Len is the number of samples.
func (d *Dataset) Len() int {
	if d.Outputs > 0 {
		return len(d.Targets) / d.Outputs
	}
	return len(d.Y)
}

// Regression reports whether the samples have real-valued targets rather
// than class labels.
func (d *Dataset) Regression() bool { return d.Outputs > 0 }

// Target returns sample i's targets; the slice aliases d.Targets.
func (d *Dataset) Target(i int) []float32 {
	k := d.Outputs
	return d.Targets[i*k : (i+1)*k : (i+1)*k]
}

// Sample returns sample i's values; the slice aliases d.X.
func (d *Dataset) Sample(i int) []float32 {
	n := d.Shape.Size()
	return d.X[i*n : (i+1)*n : (i+1)*n]
}

// Gather copies the samples at the given indices, in that order, into x and
// their labels into y, without allocating. x must hold at least
// len(indices)*Shape.Size() values and y at least len(indices) labels; the
// first len(indices) samples of each are written. A regression data set has
// no labels: y is not touched and may be nil (see [Dataset.GatherTargets]).
func (d *Dataset) Gather(indices []int, x []float32, y []int32) {
	n := d.Shape.Size()
	x = x[:len(indices)*n]
	for k, i := range indices {
		copy(x[k*n:(k+1)*n], d.X[i*n:(i+1)*n])
	}
	if d.Regression() {
		return
	}
	y = y[:len(indices)]
	for k, i := range indices {
		y[k] = d.Y[i]
	}
}

// GatherTargets copies the targets of the samples at the given indices, in
// that order, into t, which must hold at least len(indices)*Outputs values.
func (d *Dataset) GatherTargets(indices []int, t []float32) {
	k := d.Outputs
	t = t[:len(indices)*k]
	for j, i := range indices {
		copy(t[j*k:(j+1)*k], d.Targets[i*k:(i+1)*k])
	}
}

// Subset returns a new data set holding copies of the samples at the given
// indices, in that order, with their labels or targets.
func (d *Dataset) Subset(indices []int) *Dataset {
	s := &Dataset{
		Shape:        d.Shape,
		Classes:      d.Classes,
		X:            make([]float32, len(indices)*d.Shape.Size()),
		Outputs:      d.Outputs,
		InputTargets: d.InputTargets,
	}
	switch {
	case d.InputTargets:
		s.Targets = s.X
	case d.Regression():
		s.Targets = make([]float32, len(indices)*d.Outputs)
		d.GatherTargets(indices, s.Targets)
	default:
		s.Y = make([]int32, len(indices))
	}
	d.Gather(indices, s.X, s.Y)
	if d.Lines != nil {
		s.Lines = make([]int, len(indices))
		for j, i := range indices {
			s.Lines[j] = d.Lines[i]
		}
	}
	return s
}

// TestSize is the number of samples that [Dataset.Split] holds out for
// testing from n samples: ⌈testFraction·n⌉, as scikit-learn's
// train_test_split does (0.1 of the 1797 digits gives 180). A tiny tolerance
// keeps products such as 0.1·1800 = 180.00000000000003 from rounding up.
func TestSize(n int, testFraction float64) int {
	return int(math.Ceil(testFraction*float64(n) - 1e-9))
}

// Split shuffles the samples with the seed's [StreamSplit] generator and
// returns the first n−k of that order as the training set and the last k as
// the test set, where k = [TestSize](n, testFraction). The same seed always
// gives the same split. testFraction must lie in [0, 1) and leave at least one
// training sample; a fraction of 0 gives an empty test set.
func (d *Dataset) Split(testFraction float64, seed uint64) (train, test *Dataset, err error) {
	n := d.Len()
	if !(testFraction >= 0 && testFraction < 1) {
		return nil, nil, fmt.Errorf("test fraction %g is outside [0, 1)", testFraction)
	}
	k := TestSize(n, testFraction)
	if n-k < 1 {
		return nil, nil, fmt.Errorf("test fraction %g of %d samples leaves no training samples", testFraction, n)
	}
	order := NewRand(seed, StreamSplit).Perm(n)
	return d.Subset(order[:n-k]), d.Subset(order[n-k:]), nil
}

// ReadCSV reads a labelled data set in the layout of the digits file: one
// sample per line, shape.Size() comma-separated numbers (the sample's values
// in HWC order: row by row, each pixel's channels together) followed by the
// class label, an integer in 0..classes-1 (written as 3 or 3.0). Every value
// is multiplied by scale as it is read (1/16 for the digits' 0..16 pixels).
//
// The input may be gzip-compressed (detected from its first bytes). The first
// line may be a header: it is skipped only when none of its fields is a
// number (and none is empty), and it must still have the right number of
// columns. Fields may be surrounded by spaces; lines may end in CRLF. Nothing
// else is skipped: an empty line, a wrong column count, a field that is not a
// number, a NaN or infinite value (before or after scaling), or a label that
// is not an integer in range is an error that names the file (name), the line
// and the column, and a file without samples is an error.
//
// The data read is bounded by the default [DataLimits] (2 GiB of text after
// decompression, 5 million samples, 1 GiB of memory for the samples): a
// file beyond them is a [*DataLimitError] that names the file and the line.
// DataLimits.ReadCSV reads with other limits.
func ReadCSV(r io.Reader, name string, shape Shape, classes int, scale float32) (*Dataset, error) {
	return DataLimits{}.ReadCSV(r, name, shape, classes, scale)
}

// newLineScanner returns a scanner of r's lines. A line of a large image
// (e.g. 64×64×3 values) exceeds Scanner's 64 KiB default, so lines of up to
// 64 MiB are allowed. When reading r fails (a truncated gzip file), the
// incomplete last line is not handed out as a line, which would be reported
// as malformed: the scan stops with the read error instead.
func newLineScanner(r io.Reader) *bufio.Scanner {
	rec := &readErrRecorder{r: r}
	sc := bufio.NewScanner(rec)
	sc.Buffer(make([]byte, 0, 64*1024), 64<<20)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if atEOF && rec.err != nil && bytes.IndexByte(data, '\n') < 0 {
			return 0, nil, rec.err
		}
		return bufio.ScanLines(data, atEOF)
	})
	return sc
}

// readErrRecorder remembers the first error other than io.EOF of the
// reader it wraps.
type readErrRecorder struct {
	r   io.Reader
	err error
}

func (rec *readErrRecorder) Read(p []byte) (int, error) {
	n, err := rec.r.Read(p)
	if err != nil && err != io.EOF && rec.err == nil {
		rec.err = err
	}
	return n, err
}

// splitFields appends the comma-separated fields of line, trimmed of spaces,
// to dst.
func splitFields(dst []string, line string) []string {
	for {
		i := strings.IndexByte(line, ',')
		if i < 0 {
			return append(dst, strings.TrimSpace(line))
		}
		dst = append(dst, strings.TrimSpace(line[:i]))
		line = line[i+1:]
	}
}

// isHeader reports whether no field parses as a number and none is empty: a
// data line with a typo in one field is an error, not a header.
func isHeader(fields []string) bool {
	for _, f := range fields {
		if f == "" {
			return false
		}
		if _, err := strconv.ParseFloat(f, 64); err == nil || errors.Is(err, strconv.ErrRange) {
			return false
		}
	}
	return true
}

// parseLabel parses a class label: an integer in 0..classes-1, possibly
// written with a zero fraction (3.0).
func parseLabel(f string, classes int) (int32, error) {
	v, err := strconv.ParseFloat(f, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("label %q is not a number", f)
	}
	if v != math.Trunc(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("label %s is not an integer", f)
	}
	if v < 0 || v >= float64(classes) {
		return 0, fmt.Errorf("label %s is out of range: want 0..%d", f, classes-1)
	}
	return int32(v), nil
}

// ReadRegressionCSV reads the data set of a regression network with outputs
// outputs per sample. With [TargetColumns] each line holds shape.Size()
// values (the sample in HWC order, each multiplied by scale) followed by the
// sample's outputs targets, taken as written; with [TargetInput] (an
// autoencoder, whose outputs must be shape.Size()) each line holds only the
// values, and the data set's targets are its samples ([Dataset.InputTargets]).
//
// The rules are [ReadCSV]'s: gzip input, an optional header line (no field a
// number) with the right number of columns, fields trimmed of spaces, CRLF
// line ends; an empty line, a wrong column count, a field that is not a
// number or a value or target that is not finite is an error that names the
// file (name), the line and the column, and a file without samples is an
// error. The data read is bounded by the default [DataLimits], as in
// ReadCSV; DataLimits.ReadRegressionCSV reads with other limits.
func ReadRegressionCSV(r io.Reader, name string, shape Shape, outputs int, target TargetKind, scale float32) (*Dataset, error) {
	return DataLimits{}.ReadRegressionCSV(r, name, shape, outputs, target, scale)
}

// readRegressionCSV is DataLimits.ReadRegressionCSV.
func readRegressionCSV(r io.Reader, name string, shape Shape, outputs int, target TargetKind, scale float32, l DataLimits) (*Dataset, error) {
	mode := targetsRequired
	switch target {
	case TargetColumns, "":
	case TargetInput:
		if outputs != shape.Size() {
			return nil, fmt.Errorf("%s: an autoencoder's %d outputs differ from its %d input values (%v)", name, outputs, shape.Size(), shape)
		}
		mode = targetsAbsent
	default:
		return nil, fmt.Errorf("%s: unknown target %q: want %s or %s", name, target, TargetColumns, TargetInput)
	}
	in, err := readRegressionRows(r, name, shape, outputs, scale, mode, l)
	if err != nil {
		return nil, err
	}
	d := &Dataset{Shape: shape, X: in.X, Outputs: outputs, Targets: in.Targets, Lines: in.Lines}
	if target == TargetInput {
		d.Targets, d.InputTargets = in.X, true
	}
	return d, nil
}

// targetColumns says whether the lines of a regression CSV end with target
// columns.
type targetColumns int

const (
	targetsRequired targetColumns = iota // every line ends with them
	targetsOptional                      // the first sample line decides
	targetsAbsent                        // no line has them
)

// readRegressionRows reads the rows of a regression CSV: the values of each
// sample, scaled, and, as mode says, outputs targets after them, within the
// limits l.
func readRegressionRows(r io.Reader, name string, shape Shape, outputs int, scale float32, mode targetColumns, l DataLimits) (*Inputs, error) {
	values := shape.Size()
	if values <= 0 {
		return nil, fmt.Errorf("%s: sample shape %v has no values", name, shape)
	}
	if outputs < 1 {
		return nil, fmt.Errorf("%s: %d outputs: want at least 1", name, outputs)
	}
	br, closeGzip, err := decompress(r, name)
	if err != nil {
		return nil, err
	}
	defer closeGzip()

	// columns is the number of columns every line must have, 0 while the
	// first sample line has yet to decide it.
	columns := 0
	switch mode {
	case targetsRequired:
		columns = values + outputs
	case targetsAbsent:
		columns = values
	}
	want := func() string {
		if columns == values {
			return fmt.Sprintf("%d (the values for %v)", columns, shape)
		}
		return fmt.Sprintf("%d (%d values for %v, then %s)", columns, values, shape, countTargets(outputs))
	}
	either := func() string {
		return fmt.Sprintf("%d (the values for %v) or %d (then %s)", values, shape, values+outputs, countTargets(outputs))
	}
	in := &Inputs{Shape: shape}
	var xs, ts chunks // the values and targets read
	budget, text := newDataBudget(l, name, br)
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
		header := line == 1 && isHeader(fields)
		switch {
		case columns == 0 && (len(fields) == values || len(fields) == values+outputs):
			columns = len(fields)
		case columns == 0:
			return nil, fmt.Errorf("%s:%d: %s%s, want %s", name, line, headerWord(header), countColumns(len(fields)), either())
		case len(fields) != columns:
			return nil, fmt.Errorf("%s:%d: %s%s, want %s", name, line, headerWord(header), countColumns(len(fields)), want())
		}
		if header {
			continue
		}
		if budget.rowBytes == 0 {
			budget.setRow(values, columns-values, rowWhat(values, columns-values, "target"))
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
		for c, f := range fields[values:] {
			t, err := parseValue(f, 1)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: column %d: target %d: %v", name, line, values+c+1, c+1, err)
			}
			ts.add(t)
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
	if ts.n > 0 {
		in.Targets, in.Outputs = ts.slice(), outputs
	}
	return in, nil
}

// rowWhat describes a row for errors about memory: "64 values",
// "64 values and a label", "64 values and 3 targets".
func rowWhat(values, extra int, noun string) string {
	s := fmt.Sprintf("%d values", values)
	if values == 1 {
		s = "1 value"
	}
	switch {
	case extra == 1 && noun == "label":
		s += " and a label"
	case extra == 1:
		s += " and 1 " + noun
	case extra > 1:
		s += fmt.Sprintf(" and %d %ss", extra, noun)
	}
	return s
}

// headerWord is "header has " for a header line's column count message.
func headerWord(header bool) string {
	if header {
		return "header has "
	}
	return ""
}

// countTargets is "1 target" or "n targets".
func countTargets(n int) string {
	if n == 1 {
		return "1 target"
	}
	return fmt.Sprintf("%d targets", n)
}
