// Package datasets embeds the data sets that cnngen's examples train on, so
// that `cnngen train` runs on a fresh machine without downloads: the
// scikit-learn digits ([Digits]) and MNIST ([MNIST], read from its original
// IDX files by [ReadIDXImages] and [ReadIDXLabels]).
package datasets

import (
	"bytes"
	_ "embed"

	"github.com/cnngen/cnngen/runtime"
)

// digitsCSVGz is the gzip-compressed digits CSV: 1797 rows of 64 pixel values
// (0..16, row-major 8×8) then the label 0..9. See README.md for its source,
// licence and checksum.
//
//go:embed digits.csv.gz
var digitsCSVGz []byte

// DigitsFile is the name that errors and logs use for the embedded digits
// file.
const DigitsFile = "digits.csv.gz"

// DigitsCSVGz returns the embedded digits file as stored (gzip-compressed
// CSV). The slice is shared: do not modify it.
func DigitsCSVGz() []byte { return digitsCSVGz }

// Digits returns scikit-learn's handwritten digits: 1797 samples of shape
// 8×8×1 with pixels scaled from 0..16 to 0..1 (divided by 16), in 10 classes,
// in file order.
func Digits() (*runtime.Dataset, error) {
	return runtime.ReadCSV(bytes.NewReader(digitsCSVGz), DigitsFile, runtime.Shape{Height: 8, Width: 8, Channels: 1}, 10, 1.0/16)
}
