package asm_test

import (
	"fmt"

	"github.com/cnngen/cnngen/gen/asm"
)

// The digits network's dense layers: forward over a batch (padded weights),
// one-sample forward, and both gradients; the second layer's input
// gradient also applies the first layer's ReLU backward.
func ExampleRender() {
	files, err := asm.Render("digits", []asm.Kernel{
		{Op: asm.DenseForward, Name: "dense1Forward", In: 512, Units: 300, ReLU: true, Padded: true},
		{Op: asm.DenseForwardOne, Name: "dense1ForwardOne", In: 512, Units: 300, ReLU: true, Padded: true},
		{Op: asm.DenseBackwardWeights, Name: "dense1BackwardWeights", In: 512, Units: 300},
		{Op: asm.DenseBackwardInput, Name: "dense2BackwardInput", In: 300, Units: 10, ReLU: true},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range files {
		fmt.Println(f.Name)
	}
	fmt.Println(asm.PaddedStride(300))
	// Output:
	// simd_amd64.s
	// simd_amd64.go
	// simd_purego.go
	// simd_ref.go
	// 304
}
