// Package gorgonia is the Gorgonia baseline of cnngen's benchmarks: the
// tutorial digits network and training recipe written with
// gorgonia.org/gorgonia v0.9.18 (gorgonia.org/tensor v0.9.24, float32).
//
// It lives in its own Go module so that cnngen's main module never depends on
// Gorgonia. The network is the one in the brief:
//
//	input 8×8×1 → conv 3×3, 32 filters, SAME (pad 1), +bias, ReLU
//	→ max pool 2×2 stride 2 → flatten 512 → dense 300 +bias, ReLU
//	→ dense 10 +bias → softmax
//
// trained with the cross-entropy summed over the batch and plain gradient
// descent (gorgonia.NewVanillaSolver, learning rate 1e-4, batch size 1 so the
// summed gradient is not rescaled). Gorgonia works in NCHW layout, so the
// convolution filters are 32×1×3×3 and the flattened pool output is ordered
// channel, row, column; that changes nothing the benchmarks measure.
package gorgonia

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Sizes of the digits network.
const (
	ImageSide    = 8   // input height and width
	Pixels       = 64  // ImageSide²
	ConvFilters  = 32  // filters of the 3×3 convolution
	PooledSide   = 4   // side of the pool output
	FlatFeatures = 512 // ConvFilters·PooledSide²
	HiddenUnits  = 300 // units of the first dense layer
	Classes      = 10  // digit classes
)

// LearningRate is the tutorial's plain gradient-descent step size.
const LearningRate = 1e-4

// Dataset holds images scaled to [0,1] (Pixels values each, row-major) and
// their labels.
type Dataset struct {
	Images []float32
	Labels []int
}

// Len returns the number of samples.
func (d Dataset) Len() int { return len(d.Labels) }

// Slice returns samples [from, to) sharing d's storage.
func (d Dataset) Slice(from, to int) Dataset {
	return Dataset{Images: d.Images[from*Pixels : to*Pixels], Labels: d.Labels[from:to]}
}

// LoadDigits reads the digits CSV (gzip; 64 pixel columns 0..16, then the
// label) and divides the pixels by 16.
func LoadDigits(path string) (Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return Dataset{}, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return Dataset{}, fmt.Errorf("%s: %w", path, err)
	}
	var d Dataset
	sc := bufio.NewScanner(zr)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		fields := strings.Split(text, ",")
		if len(fields) != Pixels+1 {
			return Dataset{}, fmt.Errorf("%s:%d: %d fields, want %d", path, line, len(fields), Pixels+1)
		}
		for _, s := range fields[:Pixels] {
			v, err := strconv.ParseFloat(s, 32)
			if err != nil {
				return Dataset{}, fmt.Errorf("%s:%d: %w", path, line, err)
			}
			d.Images = append(d.Images, float32(v)/16)
		}
		label, err := strconv.Atoi(fields[Pixels])
		if err != nil || label < 0 || label >= Classes {
			return Dataset{}, fmt.Errorf("%s:%d: bad label %q", path, line, fields[Pixels])
		}
		d.Labels = append(d.Labels, label)
	}
	if err := sc.Err(); err != nil {
		return Dataset{}, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// Split shuffles d with the given seed and returns the first 90 % (rounded
// down, 1617 of 1797) as the training set and the rest as the test set.
func Split(d Dataset, seed uint64) (train, test Dataset) {
	n := d.Len()
	perm := rand.New(rand.NewPCG(seed, 0)).Perm(n)
	shuffled := Dataset{Images: make([]float32, 0, len(d.Images)), Labels: make([]int, 0, n)}
	for _, i := range perm {
		shuffled.Images = append(shuffled.Images, d.Images[i*Pixels:(i+1)*Pixels]...)
		shuffled.Labels = append(shuffled.Labels, d.Labels[i])
	}
	nTrain := n * 9 / 10
	return shuffled.Slice(0, nTrain), shuffled.Slice(nTrain, n)
}

// Params are the network's weights and biases as Gorgonia tensors. Graphs
// built by NewNet bind these very tensors, so a solver step through one graph
// is seen by every other graph built from the same Params.
type Params struct {
	ConvW, ConvB     *tensor.Dense // 32×1×3×3, 32
	DenseW, DenseB   *tensor.Dense // 512×300, 300
	OutputW, OutputB *tensor.Dense // 300×10, 10
}

// NewParams draws every weight and bias from Normal(0, σ) with σ = 1/√64 for
// the convolution, 1/√512 for the hidden dense layer and 1/√300 for the
// output layer, as the tutorial does.
func NewParams(seed uint64) *Params {
	rng := rand.New(rand.NewPCG(seed, 1))
	normal := func(sigma float64, shape ...int) *tensor.Dense {
		size := 1
		for _, s := range shape {
			size *= s
		}
		data := make([]float32, size)
		for i := range data {
			data[i] = float32(rng.NormFloat64() * sigma)
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
	}
	return &Params{
		ConvW:   normal(1/math.Sqrt(64), ConvFilters, 1, 3, 3),
		ConvB:   normal(1/math.Sqrt(64), ConvFilters),
		DenseW:  normal(1/math.Sqrt(512), FlatFeatures, HiddenUnits),
		DenseB:  normal(1/math.Sqrt(512), HiddenUnits),
		OutputW: normal(1/math.Sqrt(300), HiddenUnits, Classes),
		OutputB: normal(1/math.Sqrt(300), Classes),
	}
}

// Net is one compiled Gorgonia graph of the digits network for a fixed batch
// size: forward only, or forward, summed cross-entropy and its gradient.
type Net struct {
	Batch     int
	graph     *G.ExprGraph
	x, y      *G.Node // input batch×1×8×8, one-hot labels batch×10
	logits    *G.Node // batch×10
	loss      *G.Node // scalar summed cross-entropy (training nets only)
	learnable G.Nodes
	machine   G.VM
	solver    G.Solver
	xData     []float32
	yData     []float32
}

// NewNet builds the graph for batch samples on p. With train set it adds the
// summed cross-entropy, its symbolic gradient with respect to every
// parameter and a vanilla SGD solver with the tutorial's learning rate.
func NewNet(p *Params, batch int, train bool) (*Net, error) {
	n := &Net{Batch: batch, graph: G.NewGraph()}
	g := n.graph
	param := func(name string, t *tensor.Dense) *G.Node {
		node := G.NodeFromAny(g, t, G.WithName(name))
		n.learnable = append(n.learnable, node)
		return node
	}
	convW := param("convW", p.ConvW)
	convB := param("convB", p.ConvB)
	denseW := param("denseW", p.DenseW)
	denseB := param("denseB", p.DenseB)
	outW := param("outW", p.OutputW)
	outB := param("outB", p.OutputB)

	n.xData = make([]float32, batch*Pixels)
	n.x = G.NewTensor(g, tensor.Float32, 4, G.WithShape(batch, 1, ImageSide, ImageSide), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(batch, 1, ImageSide, ImageSide), tensor.WithBacking(n.xData))))

	var err error
	must := func(node *G.Node, e error) *G.Node {
		if err == nil && e != nil {
			err = e
		}
		return node
	}
	conv := must(G.Conv2d(n.x, convW, tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}))
	if err != nil {
		return nil, fmt.Errorf("conv: %w", err)
	}
	conv = must(G.BroadcastAdd(conv, convB, nil, []byte{0, 2, 3}))
	conv = must(G.Rectify(conv))
	if err != nil {
		return nil, fmt.Errorf("conv bias/relu: %w", err)
	}
	pool := must(G.MaxPool2D(conv, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}))
	flat := must(G.Reshape(pool, tensor.Shape{batch, FlatFeatures}))
	hidden := must(G.Mul(flat, denseW))
	if err != nil {
		return nil, fmt.Errorf("pool/flatten/dense: %w", err)
	}
	hidden = must(G.BroadcastAdd(hidden, denseB, nil, []byte{0}))
	hidden = must(G.Rectify(hidden))
	logits := must(G.Mul(hidden, outW))
	if err != nil {
		return nil, fmt.Errorf("dense: %w", err)
	}
	n.logits = must(G.BroadcastAdd(logits, outB, nil, []byte{0}))
	if err != nil {
		return nil, fmt.Errorf("output bias: %w", err)
	}

	if !train {
		n.machine = G.NewTapeMachine(g)
		return n, nil
	}
	n.yData = make([]float32, batch*Classes)
	n.y = G.NewMatrix(g, tensor.Float32, G.WithShape(batch, Classes), G.WithName("y"),
		G.WithValue(tensor.New(tensor.WithShape(batch, Classes), tensor.WithBacking(n.yData))))
	logProb := must(G.LogSoftMax(n.logits))
	picked := must(G.HadamardProd(logProb, n.y))
	n.loss = must(G.Neg(must(G.Sum(picked))))
	if err != nil {
		return nil, fmt.Errorf("loss: %w", err)
	}
	if _, err := G.Grad(n.loss, n.learnable...); err != nil {
		return nil, fmt.Errorf("gradient: %w", err)
	}
	n.machine = G.NewTapeMachine(g, G.BindDualValues(n.learnable...))
	n.solver = G.NewVanillaSolver(G.WithLearnRate(LearningRate))
	return n, nil
}

// Load copies the first Batch samples of d into the graph's input (and its
// one-hot labels, for training nets).
func (n *Net) Load(d Dataset) error {
	if d.Len() < n.Batch {
		return fmt.Errorf("load: %d samples for a batch of %d", d.Len(), n.Batch)
	}
	copy(n.xData, d.Images[:n.Batch*Pixels])
	if n.yData != nil {
		clear(n.yData)
		for i, label := range d.Labels[:n.Batch] {
			n.yData[i*Classes+label] = 1
		}
	}
	return nil
}

// Forward runs the graph once on the loaded batch and returns the logits
// (Batch×10, row-major; valid until the next run).
func (n *Net) Forward() ([]float32, error) {
	defer n.machine.Reset()
	if err := n.machine.RunAll(); err != nil {
		return nil, err
	}
	return n.logits.Value().Data().([]float32), nil
}

// TrainStep runs forward and backward on the loaded batch, applies one SGD
// step to the parameters and returns the summed loss before the step.
func (n *Net) TrainStep() (float32, error) {
	if n.solver == nil {
		return 0, fmt.Errorf("train step on an inference-only net")
	}
	defer n.machine.Reset()
	if err := n.machine.RunAll(); err != nil {
		return 0, err
	}
	loss := n.loss.Value().Data().(float32)
	if err := n.solver.Step(G.NodesToValueGrads(n.learnable)); err != nil {
		return 0, err
	}
	return loss, nil
}

// Gradients runs forward and backward on the loaded batch without updating
// the parameters and returns the loss and a copy of each parameter's gradient
// in Params order.
func (n *Net) Gradients() (float32, [][]float32, error) {
	if n.solver == nil {
		return 0, nil, fmt.Errorf("gradients of an inference-only net")
	}
	defer n.machine.Reset()
	if err := n.machine.RunAll(); err != nil {
		return 0, nil, err
	}
	grads := make([][]float32, len(n.learnable))
	for i, node := range n.learnable {
		gv, err := node.Grad()
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", node.Name(), err)
		}
		grads[i] = append([]float32(nil), gv.Data().([]float32)...)
		// BindDualValues accumulates into the gradient; clear it as the
		// solver would.
		if t, ok := gv.(tensor.Tensor); ok {
			t.Zero()
		}
	}
	return n.loss.Value().Data().(float32), grads, nil
}

// Close releases the graph's machine.
func (n *Net) Close() error { return n.machine.Close() }

// Accuracy returns the fraction of d classified correctly by forward passes
// of n (d's length must be a multiple of n.Batch; the rest is ignored).
func (n *Net) Accuracy(d Dataset) (float64, error) {
	correct, seen := 0, 0
	for from := 0; from+n.Batch <= d.Len(); from += n.Batch {
		part := d.Slice(from, from+n.Batch)
		if err := n.Load(part); err != nil {
			return 0, err
		}
		logits, err := n.Forward()
		if err != nil {
			return 0, err
		}
		for i, label := range part.Labels {
			row := logits[i*Classes : (i+1)*Classes]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			if best == label {
				correct++
			}
			seen++
		}
	}
	if seen == 0 {
		return 0, fmt.Errorf("accuracy: no complete batch of %d in %d samples", n.Batch, d.Len())
	}
	return float64(correct) / float64(seen), nil
}
