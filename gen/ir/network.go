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

// TrainConfig returns the recipe of the description's train section as the
// runtime takes it: runtime.Train(model, train, test, n.TrainConfig(), …)
// trains what `cnngen train` trains from the same description (the CLI
// starts from this very value, then applies its -steps and -seed flags).
// Defaults the section leaves out are filled in, and everything is checked
// when the description is loaded, so there is nothing left to fail. The
// value is a copy: changing it leaves n alone.
func (n *Network) TrainConfig() runtime.TrainConfig { return n.Train }

// LoadRecipe reads and checks the description at path, its layers
// included (a recipe is only valid for the network it trains), and returns
// its train section as a [runtime.TrainConfig] ([Network.TrainConfig]).
// Errors name the file and the line, as [LoadFile]'s.
func LoadRecipe(path string) (runtime.TrainConfig, error) {
	n, err := LoadFile(path)
	if err != nil {
		return runtime.TrainConfig{}, err
	}
	return n.TrainConfig(), nil
}

// Totals sums the layers' figures.
type Totals struct {
	// Params is the number of trainable values.
	Params int
	// RunningStats is the number of running-statistic values (batchnorm's
	// running means and variances), which are not trained.
	RunningStats int
	// BatchNorms is the number of batchnorm layers, each of which also
	// keeps an int64 count of its training batches.
	BatchNorms int
	// MACs is the number of multiply-accumulates of one sample's forward
	// pass (conv and dense layers; see [Layer.MACs]).
	MACs int64
	// ActivationBytes is the size in bytes of every layer's output for one
	// sample (float32), the input not included. Flatten's output is counted
	// although an engine may alias it to its input.
	ActivationBytes int64
}

// Totals returns the network's parameter and running-statistic counts, MACs
// and activation bytes.
func (n *Network) Totals() Totals {
	var t Totals
	for _, l := range n.Layers {
		t.Params += l.ParamCount
		t.RunningStats += l.RunningStats
		if l.Kind == runtime.BatchNorm {
			t.BatchNorms++
		}
		t.MACs += l.MACs
		t.ActivationBytes += l.ActivationBytes
	}
	return t
}

// HasParams reports whether the layer has trainable parameters: a weight
// (and a bias unless it has bias: false), or batchnorm's scale and shift.
func (l *Layer) HasParams() bool { return l.Weight >= 0 }

// Geometry describes a conv or pool layer's window as KHxKW/SHxSW padding
// ("3x3/1 same", "2x2/2 valid"; a stride is written once when it is the same
// both ways), a globalavgpool layer's as its input's "HxW global", and is
// empty for other layers.
func (l *Layer) Geometry() string {
	switch l.Kind {
	case runtime.Conv2D, runtime.MaxPool, runtime.AvgPool:
	case runtime.GlobalAvgPool:
		return fmt.Sprintf("%dx%d global", l.In.Height, l.In.Width)
	default:
		return ""
	}
	stride := fmt.Sprint(l.StrideH)
	if l.StrideH != l.StrideW {
		stride = fmt.Sprintf("%dx%d", l.StrideH, l.StrideW)
	}
	return fmt.Sprintf("%dx%d/%s %s", l.KernelH, l.KernelW, stride, l.Padding)
}
