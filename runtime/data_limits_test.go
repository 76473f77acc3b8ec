package runtime

import (
	"compress/gzip"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// gzipStream returns a gzip stream of rows copies of row (endless when rows
// is negative), compressed as it is read and never held whole, and the
// count of compressed bytes written so far. Closing the reader stops the
// writer.
func gzipStream(row string, rows int64) (io.ReadCloser, *atomic.Int64) {
	pr, pw := io.Pipe()
	var compressed atomic.Int64
	go func() {
		zw, _ := gzip.NewWriterLevel(countingWriter{pw, &compressed}, gzip.BestCompression)
		const per = 1024
		block := []byte(strings.Repeat(row, per))
		for done := int64(0); rows < 0 || done < rows; done += per {
			b := block
			if rows >= 0 && rows-done < per {
				b = block[:int(rows-done)*len(row)]
			}
			if _, err := zw.Write(b); err != nil {
				return // the reader closed the pipe
			}
		}
		pw.CloseWithError(zw.Close())
	}()
	return pr, &compressed
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// readLimited reads the stream with ReadCSV (shape 1×1×8, 10 classes)
// within l and returns the error, the compressed bytes written and the
// bytes allocated meanwhile.
func readLimited(t *testing.T, l DataLimits, row string, rows int64) (error, int64, uint64) {
	t.Helper()
	r, compressed := gzipStream(row, rows)
	defer r.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := l.ReadCSV(r, "bomb.csv.gz", Shape{Height: 1, Width: 1, Channels: 8}, 10, 1)
	runtime.ReadMemStats(&after)
	return err, compressed.Load(), after.TotalAlloc - before.TotalAlloc
}

const bombRow = "0,1,2,3,4,5,6,7,3\n" // 8 values and a label: 18 bytes of text, 36 of memory

// TestDataLimits reads endless gzip streams of valid rows: each read stops
// at the limit that the stream reaches first, with an error naming the
// file, the line and the limit, having read a few kilobytes of the stream
// and allocated about the limit.
func TestDataLimits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits DataLimits
		row    string
		limit  DataLimit
		want   string
	}{
		{"bytes", DataLimits{MaxBytes: 4 << 20}, bombRow, LimitBytes,
			"bomb.csv.gz:233017: more than 4 MiB of text (after decompression): over the limit on size"},
		{"rows", DataLimits{MaxRows: 100_000}, bombRow, LimitRows,
			"bomb.csv.gz:100001: more than 100000 samples: over the limit on rows"},
		{"memory", DataLimits{MaxMemory: 1 << 20}, bombRow, LimitMemory,
			"bomb.csv.gz:29128: 29128 samples of 8 values and a label take more than 1 MiB: over the limit on memory"},
		// One endless line: the limit on size stops it before the line's
		// own limit of 64 MiB.
		{"one line", DataLimits{MaxBytes: 1 << 20}, "0,", LimitBytes,
			"bomb.csv.gz:1: more than 1 MiB of text (after decompression): over the limit on size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err, compressed, alloc := readLimited(t, tc.limits, tc.row, -1)
			var le *DataLimitError
			if !errors.As(err, &le) || le.Limit != tc.limit || err.Error() != tc.want {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
			if le.File != "bomb.csv.gz" || le.Line < 1 {
				t.Errorf("error names %s:%d", le.File, le.Line)
			}
			if compressed > 1<<20 {
				t.Errorf("%d compressed bytes written before the read stopped", compressed)
			}
			if alloc > 256<<20 {
				t.Errorf("%d bytes allocated", alloc)
			}
			t.Logf("%v after %d compressed bytes, %d bytes allocated", err, compressed, alloc)
		})
	}
}

// TestDataLimitsDefault: the package's readers bound the rows by default.
// A stream of 6 million tiny rows (12 MB of text) is over the 5 million
// allowed.
func TestDataLimitsDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 5 million rows")
	}
	r, _ := gzipStream("1,0\n", 6_000_000)
	defer r.Close()
	_, err := ReadCSV(r, "many.csv.gz", Shape{Height: 1, Width: 1, Channels: 1}, 2, 1)
	var le *DataLimitError
	if want := "many.csv.gz:5000001: more than 5000000 samples: over the limit on rows"; !errors.As(err, &le) || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if d := (DataLimits{}).resolved(); d.MaxBytes != DefaultMaxDataBytes || d.MaxRows != DefaultMaxDataRows || d.MaxMemory != DefaultMaxDataMemory {
		t.Errorf("DataLimits{} resolves to %+v", d)
	}
	if d := (DataLimits{MaxBytes: -1, MaxRows: -1, MaxMemory: -1}).resolved(); d.MaxBytes < 1<<62 || d.MaxRows < 1<<31-1 || d.MaxMemory < 1<<62 {
		t.Errorf("negative limits resolve to %+v, want no limit", d)
	}
}

// TestDataLimitsOtherReaders: ReadInputs, ReadRegressionCSV and
// ReadRegressionInputs count against the limits too, with the row's width
// (targets included) in the memory they take.
func TestDataLimitsOtherReaders(t *testing.T) {
	shape := Shape{Height: 1, Width: 1, Channels: 8}
	l := DataLimits{MaxMemory: 48 * 10}
	for _, tc := range []struct {
		name string
		read func(io.Reader) error
		want string
	}{
		{"ReadInputs", func(r io.Reader) error {
			_, err := l.ReadInputs(r, "in.csv", shape, 10, 1)
			return err
		}, "in.csv:14: 14 samples of 8 values and a label take more than 480 bytes: over the limit on memory"},
		{"ReadRegressionCSV", func(r io.Reader) error {
			_, err := l.ReadRegressionCSV(r, "reg.csv", Shape{Height: 1, Width: 1, Channels: 7}, 2, TargetColumns, 1)
			return err
		}, "reg.csv:14: 14 samples of 7 values and 2 targets take more than 480 bytes: over the limit on memory"},
		{"ReadRegressionInputs", func(r io.Reader) error {
			_, err := DataLimits{MaxRows: 3}.ReadRegressionInputs(r, "reg.csv", Shape{Height: 1, Width: 1, Channels: 8}, 1, 1)
			return err
		}, "reg.csv:4: more than 3 samples: over the limit on rows"},
	} {
		r, _ := gzipStream(bombRow, -1)
		err := tc.read(r)
		r.Close()
		var le *DataLimitError
		if !errors.As(err, &le) || err.Error() != tc.want {
			t.Errorf("%s: got %v\nwant %s", tc.name, err, tc.want)
		}
	}
}
