package ir

import (
	"fmt"

	"github.com/cnngen/cnngen/runtime"
)

// Arch returns the network as the runtime's generic engine takes it: the
// input shape and every layer (inserted flatten included) with its resolved
// initialisation rules.
func (n *Network) Arch() runtime.Arch {
	layers := make([]runtime.LayerSpec, len(n.Layers))
	for i, l := range n.Layers {
		layers[i] = l.LayerSpec
	}
	return runtime.Arch{Name: n.Name, Input: n.Input, Layers: layers}
}

// Totals sums the layers' figures.
type Totals struct {
	// Params is the number of trainable values.
	Params int
	// MACs is the number of multiply-accumulates of one sample's forward
	// pass (conv and dense layers).
	MACs int64
	// ActivationBytes is the size in bytes of every layer's output for one
	// sample (float32), the input not included. Flatten's output is counted
	// although an engine may alias it to its input.
	ActivationBytes int64
}

// Totals returns the network's parameter count, MACs and activation bytes.
func (n *Network) Totals() Totals {
	var t Totals
	for _, l := range n.Layers {
		t.Params += l.ParamCount
		t.MACs += l.MACs
		t.ActivationBytes += l.ActivationBytes
	}
	return t
}

// HasParams reports whether the layer has a weight and a bias.
func (l *Layer) HasParams() bool { return l.Weight >= 0 }

// Geometry describes a conv or pool layer's window as KHxKW/SHxSW padding
// ("3x3/1 same", "2x2/2 valid"; a stride is written once when it is the same
// both ways), and is empty for other layers.
func (l *Layer) Geometry() string {
	switch l.Kind {
	case runtime.Conv2D, runtime.MaxPool, runtime.AvgPool:
	default:
		return ""
	}
	stride := fmt.Sprint(l.StrideH)
	if l.StrideH != l.StrideW {
		stride = fmt.Sprintf("%dx%d", l.StrideH, l.StrideW)
	}
	return fmt.Sprintf("%dx%d/%s %s", l.KernelH, l.KernelW, stride, l.Padding)
}
