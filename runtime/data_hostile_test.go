package runtime

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

// gz compresses s.
func gz(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.String()
}

// hostileData are bad data files and the exact answers of ReadCSV (labelled,
// shape tiny = 2 values then the label, 3 classes) and ReadInputs (same
// shape, the label column optional). Each names the file and, where there is
// one, the line; none is skipped silently.
var hostileData = []struct {
	name, in    string
	csv, inputs string // "" when the reader accepts the input
}{
	{"empty file", "",
		"h.csv: no samples", "h.csv: no samples"},
	{"header only", "a,b,label\n",
		"h.csv: no samples", "h.csv: no samples"},
	{"blank line between samples", "1,2,0\n\n3,4,1\n",
		"h.csv:2: empty line", "h.csv:2: empty line"},
	{"spaces-only line", "1,2,0\n  \t \n",
		"h.csv:2: empty line", "h.csv:2: empty line"},
	{"blank line at the end", "1,2,0\n\n",
		"h.csv:2: empty line", "h.csv:2: empty line"},
	{"blank first line", "\n1,2,0\n",
		"h.csv:1: empty line", "h.csv:1: empty line"},
	{"CRLF blank line", "1,2,0\r\n\r\n3,4,1\r\n",
		"h.csv:2: empty line", "h.csv:2: empty line"},
	{"too few columns", "1,2,0\n3,4\n",
		"h.csv:2: 2 columns, want 3 (2 values for 1x2x1, then the label)",
		"h.csv:2: 2 columns, want 3 (2 values for 1x2x1, then the label, as on the first line)"},
	{"too many columns", "1,2,0\n3,4,1,5\n",
		"h.csv:2: 4 columns, want 3 (2 values for 1x2x1, then the label)",
		"h.csv:2: 4 columns, want 3 (2 values for 1x2x1, then the label, as on the first line)"},
	{"trailing comma", "1,2,0,\n",
		"h.csv:1: 4 columns, want 3 (2 values for 1x2x1, then the label)",
		"h.csv:1: 4 columns, want 2 (the values for 1x2x1) or 3 (then the label)"},
	{"one column", "7\n",
		"h.csv:1: 1 column, want 3 (2 values for 1x2x1, then the label)",
		"h.csv:1: 1 column, want 2 (the values for 1x2x1) or 3 (then the label)"},
	{"header with the wrong width", "a,b\n1,2,0\n",
		"h.csv:1: header has 2 columns, want 3 (2 values for 1x2x1, then the label)",
		"h.csv:2: 3 columns, want 2 (2 values for 1x2x1, as on the first line)"},
	{"empty field", "1,,0\n",
		`h.csv:1: column 2: "" is not a number`, `h.csv:1: column 2: "" is not a number`},
	{"non-numeric value", "1,2,0\n1,x7,0\n",
		`h.csv:2: column 2: "x7" is not a number`, `h.csv:2: column 2: "x7" is not a number`},
	{"quoted value", `"1",2,0` + "\n",
		`h.csv:1: column 1: "\"1\"" is not a number`, `h.csv:1: column 1: "\"1\"" is not a number`},
	{"semicolons (read as a header)", "1;2;0\n",
		"h.csv:1: header has 1 column, want 3 (2 values for 1x2x1, then the label)",
		"h.csv:1: header has 1 column, want 2 (the values for 1x2x1) or 3 (then the label)"},
	{"NaN value", "1,NaN,0\n",
		"h.csv:1: column 2: value NaN is not finite", "h.csv:1: column 2: value NaN is not finite"},
	{"Inf value", "-Inf,2,0\n",
		"h.csv:1: column 1: value -Inf is not finite", "h.csv:1: column 1: value -Inf is not finite"},
	{"infinity spelled out", "1,+infinity,0\n",
		"h.csv:1: column 2: value +infinity is not finite", "h.csv:1: column 2: value +infinity is not finite"},
	{"value beyond float32", "1e39,2,0\n",
		"h.csv:1: column 1: value 1e39 is out of float32 range", "h.csv:1: column 1: value 1e39 is out of float32 range"},
	{"label out of range", "1,2,0\n1,2,3\n",
		"h.csv:2: column 3: label 3 is out of range: want 0..2", "h.csv:2: column 3: label 3 is out of range: want 0..2"},
	{"negative label", "1,2,-1\n",
		"h.csv:1: column 3: label -1 is out of range: want 0..2", "h.csv:1: column 3: label -1 is out of range: want 0..2"},
	{"huge label", "1,2,1e300\n",
		"h.csv:1: column 3: label 1e300 is out of range: want 0..2", "h.csv:1: column 3: label 1e300 is out of range: want 0..2"},
	{"fractional label", "1,2,1.5\n",
		"h.csv:1: column 3: label 1.5 is not an integer", "h.csv:1: column 3: label 1.5 is not an integer"},
	{"NaN label", "1,2,NaN\n",
		"h.csv:1: column 3: label NaN is not an integer", "h.csv:1: column 3: label NaN is not an integer"},
	{"Inf label", "1,2,Inf\n",
		"h.csv:1: column 3: label Inf is not an integer", "h.csv:1: column 3: label Inf is not an integer"},
	{"word label", "1,2,cat\n",
		`h.csv:1: column 3: label "cat" is not a number`, `h.csv:1: column 3: label "cat" is not a number`},
	{"unlabelled line in a labelled file", "1,2,0\n3,4\n",
		"h.csv:2: 2 columns, want 3 (2 values for 1x2x1, then the label)",
		"h.csv:2: 2 columns, want 3 (2 values for 1x2x1, then the label, as on the first line)"},
	{"labelled line in an unlabelled file", "1,2\n3,4,0\n",
		"h.csv:1: 2 columns, want 3 (2 values for 1x2x1, then the label)",
		"h.csv:2: 3 columns, want 2 (2 values for 1x2x1, as on the first line)"},
	{"NUL byte", "1,2\x00,0\n",
		`h.csv:1: column 2: "2\x00" is not a number`, `h.csv:1: column 2: "2\x00" is not a number`},
	{"line break inside a field", "1,\"2\n\",0\n",
		"h.csv:1: 2 columns, want 3 (2 values for 1x2x1, then the label)",
		`h.csv:1: column 2: "\"2" is not a number`},
	{"not gzip after the magic bytes", "\x1f\x8bjunk-junk-junk",
		"h.csv: not a valid gzip file: gzip: invalid header", "h.csv: not a valid gzip file: gzip: invalid header"},
	{"gzip magic only", "\x1f\x8b",
		"h.csv: not a valid gzip file: unexpected EOF", "h.csv: not a valid gzip file: unexpected EOF"},
	{"gzip with a bad line", gz("1,2,0\n3,four,1\n"),
		`h.csv:2: column 2: "four" is not a number`, `h.csv:2: column 2: "four" is not a number`},
	{"gzip cut inside its trailer", gz("1,2,0\n3,4,1\n")[:len(gz("1,2,0\n3,4,1\n"))-4],
		"h.csv: after line 2: unexpected EOF", "h.csv: after line 2: unexpected EOF"},
	{"gzip with a corrupt checksum", corruptCRC(gz("1,2,0\n3,4,1\n")),
		"h.csv: after line 2: gzip: invalid checksum", "h.csv: after line 2: gzip: invalid checksum"},
}

// corruptCRC flips a bit of a gzip stream's CRC-32 (the trailer's first
// four of eight bytes).
func corruptCRC(s string) string {
	b := []byte(s)
	b[len(b)-8] ^= 1
	return string(b)
}

// TestReadDataHostile runs every bad file through both readers.
func TestReadDataHostile(t *testing.T) {
	for _, tc := range hostileData {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tc.in), "h.csv", tiny, 3, 1)
			checkDataErr(t, "ReadCSV", err, tc.csv)
			_, err = ReadInputs(strings.NewReader(tc.in), "h.csv", tiny, 3, 1)
			checkDataErr(t, "ReadInputs", err, tc.inputs)
		})
	}
}

func checkDataErr(t *testing.T, reader string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: %v; want no error", reader, err)
	case want != "" && err == nil:
		t.Errorf("%s: no error; want %q", reader, want)
	case want != "" && err.Error() != want:
		t.Errorf("%s:\n got %q\nwant %q", reader, err.Error(), want)
	}
}

// TestReadCSVTruncatedGzipMidLine cuts a gzip stream inside its compressed
// data, so that the last line read is incomplete: the answer must be an
// error naming the file and the line, never a shorter data set.
func TestReadCSVTruncatedGzipMidLine(t *testing.T) {
	var plain strings.Builder
	for i := range 3000 {
		plain.WriteString(strings.Repeat("1.25,", 2))
		plain.WriteString([]string{"0", "1", "2"}[i%3])
		plain.WriteString("\n")
	}
	whole := gz(plain.String())
	for _, cut := range []int{len(whole) / 3, len(whole) / 2, len(whole) - 12} {
		d, err := ReadCSV(strings.NewReader(whole[:cut]), "cut.csv.gz", tiny, 3, 1)
		if err == nil {
			t.Fatalf("cut at %d of %d: read %d samples without an error", cut, len(whole), d.Len())
		}
		// Regression: the cut line used to be reported as "2 columns, want
		// 3" rather than as the truncation it is.
		if msg := err.Error(); !strings.HasPrefix(msg, "cut.csv.gz: after line ") || !strings.HasSuffix(msg, ": unexpected EOF") {
			t.Errorf("cut at %d of %d: %q; want cut.csv.gz: after line N: unexpected EOF", cut, len(whole), msg)
		}
		if _, err := ReadInputs(strings.NewReader(whole[:cut]), "cut.csv.gz", tiny, 3, 1); err == nil || !strings.HasSuffix(err.Error(), ": unexpected EOF") {
			t.Errorf("ReadInputs, cut at %d of %d: %v; want cut.csv.gz: after line N: unexpected EOF", cut, len(whole), err)
		}
	}
}
