package runtime

import (
	"math"
	"strings"
	"testing"
)

// inspectArch is a small network with every kind of output that
// LayerOutputs copies: conv, activation, pool, flatten, dense and softmax.
func inspectArch() Arch {
	return Arch{
		Name:  "inspect",
		Input: Shape{Height: 4, Width: 4, Channels: 1},
		Layers: []LayerSpec{
			{Kind: Conv2D, Filters: 2, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, Padding: Same,
				WeightInit: Init{Kind: InitNormal, Scale: 0.5}, BiasInit: Init{Kind: InitNormal, Scale: 0.1}},
			{Kind: ReLU},
			{Kind: MaxPool, KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2},
			{Kind: Flatten},
			{Kind: Dense, Units: 3, WeightInit: Init{Kind: InitNormal, Scale: 0.5}, BiasInit: Init{Kind: InitNormal, Scale: 0.1}},
			{Kind: Softmax},
		},
	}
}

func TestLayerOutputs(t *testing.T) {
	g, err := NewGeneric(inspectArch())
	if err != nil {
		t.Fatal(err)
	}
	InitParams(g.Params(), 3)
	x := make([]float32, 16)
	for i := range x {
		x[i] = float32(i%5) / 4
	}
	// Warm the engine up with a larger batch first: LayerOutputs must only
	// look at the first sample's part of the buffers.
	batch := append(make([]float32, 16), x...)
	g.Forward(batch, make([]float32, 6))

	outs, err := g.LayerOutputs(x)
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"conv1", "relu1", "pool1", "flatten1", "dense1", "softmax1"}
	wantShapes := []Shape{{4, 4, 2}, {4, 4, 2}, {2, 2, 2}, {1, 1, 8}, {1, 1, 3}, {1, 1, 3}}
	if len(outs) != len(wantNames) {
		t.Fatalf("%d outputs, want %d", len(outs), len(wantNames))
	}
	for i, o := range outs {
		if o.Name != wantNames[i] || o.Shape != wantShapes[i] || len(o.Values) != o.Shape.Size() {
			t.Errorf("output %d: %s %v with %d values, want %s %v", i, o.Name, o.Shape, len(o.Values), wantNames[i], wantShapes[i])
		}
	}
	w, b := g.Params()[0].Value, g.Params()[1].Value

	// conv1, by the definition (HWIO weights, SAME padding of 1 on each side).
	conv := outs[0].Values
	for y := range 4 {
		for xx := range 4 {
			for f := range 2 {
				sum := float64(b[f])
				for ky := range 3 {
					for kx := range 3 {
						iy, ix := y+ky-1, xx+kx-1
						if iy < 0 || iy >= 4 || ix < 0 || ix >= 4 {
							continue
						}
						sum += float64(x[iy*4+ix]) * float64(w[(ky*3+kx)*2+f])
					}
				}
				if got := conv[(y*4+xx)*2+f]; math.Abs(float64(got)-sum) > 1e-5 {
					t.Errorf("conv1[%d,%d,%d] = %g, want %g", y, xx, f, got, sum)
				}
			}
		}
	}
	relu := outs[1].Values
	for i, v := range conv {
		if relu[i] != max(v, 0) {
			t.Errorf("relu1[%d] = %g, want max(%g, 0)", i, relu[i], v)
		}
	}
	pool := outs[2].Values
	for py := range 2 {
		for px := range 2 {
			for c := range 2 {
				m := float32(math.Inf(-1))
				for dy := range 2 {
					for dx := range 2 {
						m = max(m, relu[((2*py+dy)*4+2*px+dx)*2+c])
					}
				}
				if got := pool[(py*2+px)*2+c]; got != m {
					t.Errorf("pool1[%d,%d,%d] = %g, want %g", py, px, c, got, m)
				}
			}
		}
	}
	for i, v := range outs[3].Values {
		if v != pool[i] {
			t.Fatalf("flatten1 = %v, want pool1's values %v", outs[3].Values, pool)
		}
	}
	dw, db := g.Params()[2].Value, g.Params()[3].Value
	logits := make([]float32, 3)
	for u := range 3 {
		sum := float64(db[u])
		for i, v := range pool {
			sum += float64(v) * float64(dw[i*3+u])
		}
		if got := outs[4].Values[u]; math.Abs(float64(got)-sum) > 1e-5 {
			t.Errorf("dense1[%d] = %g, want %g", u, got, sum)
		}
		logits[u] = outs[4].Values[u]
	}
	var total float64
	for u, p := range outs[5].Values {
		total += float64(p)
		var denom float64
		for _, z := range logits {
			denom += math.Exp(float64(z - logits[u]))
		}
		if want := 1 / denom; math.Abs(float64(p)-want) > 1e-6 {
			t.Errorf("softmax1[%d] = %g, want %g", u, p, want)
		}
	}
	if math.Abs(total-1) > 1e-6 {
		t.Errorf("probabilities sum to %g", total)
	}

	// The copies are the caller's: a later forward pass does not change them.
	before := outs[0].Values[0]
	g.Forward(make([]float32, 16), make([]float32, 3))
	if outs[0].Values[0] != before {
		t.Error("LayerOutputs returned a slice that aliases the engine's buffers")
	}
}

func TestLayerOutputsWrongSize(t *testing.T) {
	g, err := NewGeneric(inspectArch())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.LayerOutputs(make([]float32, 15)); err == nil || !strings.Contains(err.Error(), "15 values, want one sample of 4x4x1 (16 values)") {
		t.Errorf("err = %v", err)
	}
}

func TestProbabilities(t *testing.T) {
	p := make([]float32, 3)
	// Large logits would overflow exp without the shift by the maximum.
	Probabilities(p, []float32{1000, 1001, 0})
	if math.Abs(float64(p[0])-1/(1+math.E)) > 1e-7 || math.Abs(float64(p[1])-math.E/(1+math.E)) > 1e-7 || p[2] != 0 {
		t.Errorf("Probabilities = %v, want [1/(1+e) e/(1+e) 0]", p)
	}
}
