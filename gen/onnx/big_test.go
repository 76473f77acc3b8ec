package onnx

import (
	"fmt"
	"testing"
	"time"
)

// TestManyNodes checks that a graph of the most nodes Import takes is
// refused quickly (the layer limit), not after quadratic work.
func TestManyNodes(t *testing.T) {
	b := newGraph(13, 1, 1, 2, 2)
	for k := 0; k < maxNodes; k++ {
		b.node("Relu", fmt.Sprint("r", k), []string{"x"})
	}
	// One output that depends on every node: a chain would do too, but
	// independent nodes are all ready at once.
	ins := []string{}
	for k := 0; k < maxNodes-1; k++ {
		ins = append(ins, fmt.Sprint("r", k))
	}
	b.g.Node[len(b.g.Node)-1].Input = ins
	b.g.Node[len(b.g.Node)-1].OpType = ptr("Concat")
	start := time.Now()
	refuse(t, b.model(), "more than 256 layers")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func ptr(s string) *string { return &s }
