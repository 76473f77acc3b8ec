package datasets

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"
)

// digitsSHA256 is the checksum of the uncompressed CSV recorded in README.md.
const digitsSHA256 = "6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8"

func TestDigitsChecksum(t *testing.T) {
	zr, err := gzip.NewReader(bytes.NewReader(DigitsCSVGz()))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != digitsSHA256 {
		t.Errorf("SHA-256 of the uncompressed digits CSV = %s, want %s", got, digitsSHA256)
	}
}

func TestDigits(t *testing.T) {
	d, err := Digits()
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 1797 || len(d.X) != 1797*64 || d.Classes != 10 || d.Shape.String() != "8x8x1" {
		t.Fatalf("got %d samples, %d values, %d classes, shape %v; want 1797, 1797·64, 10, 8x8x1",
			d.Len(), len(d.X), d.Classes, d.Shape)
	}
	// The first row of the file is a 0: 0,0,5,13,9,1,0,0,...
	if d.Y[0] != 0 || d.X[2] != 5.0/16 || d.X[3] != 13.0/16 {
		t.Errorf("first sample: label %d, pixels %v; want label 0, pixels 2 and 3 = 5/16, 13/16", d.Y[0], d.X[:8])
	}
	var counts [10]int
	for _, y := range d.Y {
		counts[y]++
	}
	// scikit-learn's class counts for the digits set.
	want := [10]int{178, 182, 177, 183, 181, 182, 181, 179, 174, 180}
	if counts != want {
		t.Errorf("class counts %v, want %v", counts, want)
	}
	for i, v := range d.X {
		if v < 0 || v > 1 {
			t.Fatalf("value %d = %v, outside [0, 1]", i, v)
		}
	}
}
