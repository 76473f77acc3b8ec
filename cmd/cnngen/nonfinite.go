package main

import (
	"fmt"
	"strings"

	"github.com/cnngen/cnngen/runtime"
)

// A network's outputs are not finite when its inputs are huge (a sum
// overflows to ±Inf, and Inf − Inf is NaN) or its weights are; every engine
// and instruction set propagates NaN and ±Inf alike (see the README). A
// prediction or a score made of such outputs means nothing: predict prints
// the sample's row with class "-" and its outputs as they are, then exits
// with an error naming every such sample; eval checks the outputs before
// scoring and exits with that error instead of a report.

// maxNamed is the number of non-finite samples an error names one by one.
const maxNamed = 10

// nonFinite collects the samples whose outputs are not finite.
type nonFinite struct {
	source string // the data's name: a file, or MNIST's test images
	lines  []int  // the file line of each sample, or nil
	count  int
	named  []string
}

// finite reports whether every value of row is finite.
func finite(row []float32) bool {
	for _, v := range row {
		if v-v != 0 { // NaN or ±Inf
			return false
		}
	}
	return true
}

// check records sample i (from 0) when its outputs row are not finite, and
// reports whether they are.
func (nf *nonFinite) check(i int, row []float32) bool {
	if finite(row) {
		return true
	}
	nf.count++
	if len(nf.named) < maxNamed {
		k := 0
		for row[k]-row[k] == 0 {
			k++
		}
		nf.named = append(nf.named, fmt.Sprintf("%s: output %d is %v", nf.where(i), k, row[k]))
	}
	return false
}

// where names sample i (from 0): its line in the data file when known,
// e.g. "data.csv:12 (sample 11)", else "sample 11 of MNIST's test images".
func (nf *nonFinite) where(i int) string {
	if nf.lines != nil && i < len(nf.lines) {
		return fmt.Sprintf("%s:%d (sample %d)", nf.source, nf.lines[i], i+1)
	}
	return fmt.Sprintf("sample %d of %s", i+1, nf.source)
}

// err is nil when every sample's outputs were finite, else an error naming
// them (the first maxNamed, then how many more).
func (nf *nonFinite) err() error {
	if nf.count == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d sample", nf.count)
	if nf.count > 1 {
		b.WriteString("s")
	}
	b.WriteString(" gave outputs that are not finite (NaN or ±Inf: inputs too large, or weights that are not finite):")
	for _, s := range nf.named {
		b.WriteString("\n\t")
		b.WriteString(s)
	}
	if more := nf.count - len(nf.named); more > 0 {
		fmt.Fprintf(&b, "\n\tand %d more", more)
	}
	return fmt.Errorf("%s", b.String())
}

// checkFiniteOutputs runs m on the samples of x (shape size values each) in
// chunks and returns nf's error for those whose outputs are not finite.
func checkFiniteOutputs(m runtime.Model, x []float32, nf *nonFinite) error {
	size, outputs := m.InputShape().Size(), m.Classes()
	n := len(x) / size
	out := make([]float32, min(predictChunk, n)*outputs)
	for lo := 0; lo < n; lo += predictChunk {
		hi := min(lo+predictChunk, n)
		o := out[:(hi-lo)*outputs]
		m.Forward(x[lo*size:hi*size], o)
		for i := lo; i < hi; i++ {
			nf.check(i, o[(i-lo)*outputs:(i-lo+1)*outputs])
		}
	}
	return nf.err()
}
