package digits_test

// Non-finite inputs on every path. The semantics, the same on the pure-Go,
// AVX2 and AVX-512 paths of every generated package and on the generic
// engine: ReLU is Go's max(x, 0) (NaN stays NaN, as in PyTorch); a max
// pooling window holding a NaN has a NaN maximum (PyTorch's), which passes
// no gradient back; everything else is IEEE arithmetic. Finite results are
// rounded differently by each path, so only the class of each value (NaN,
// +Inf, −Inf, finite) is compared.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cnngen/cnngen/benchmarks/scaling/gen/conv2"
	"github.com/cnngen/cnngen/benchmarks/scaling/gen/digits64"
	lenet "github.com/cnngen/cnngen/benchmarks/suite/gen/lenet5"
	"github.com/cnngen/cnngen/generated/digits"
	"github.com/cnngen/cnngen/runtime"
)

// initModel is a generated Model: a runtime.Model with Init.
type initModel interface {
	runtime.Model
	Init(seed uint64)
}

// nets are the generated networks checked here: digits (conv, ReLU, max
// pool, dense), and the scaling study's networks (two conv stages, LeNet).
var nets = []struct {
	name string
	arch runtime.Arch
	new  func() initModel
}{
	{"digits", digits.Arch(), func() initModel { return digits.New() }},
	{"digits64", digits64.Arch(), func() initModel { return digits64.New() }},
	{"lenet", lenet.Arch(), func() initModel { return lenet.New() }},
	{"conv2", conv2.Arch(), func() initModel { return conv2.New() }},
}

// class names the kind of v: N for NaN, + and − for the infinities, f for
// a finite number.
func class(v float32) byte {
	switch {
	case v != v:
		return 'N'
	case math.IsInf(float64(v), 1):
		return '+'
	case math.IsInf(float64(v), -1):
		return '-'
	}
	return 'f'
}

func classes(vs []float32) string {
	b := make([]byte, len(vs))
	for i, v := range vs {
		b[i] = class(v)
	}
	return string(b)
}

// pathResult is what one path made of a batch, value classes only.
type pathResult struct {
	forward string   // Forward's logits
	loss    byte     // Backward's loss
	grads   []string // Backward's gradient, per parameter
}

// run computes the forward logits and, when labels is not nil, the loss
// and the gradients of m on x, from the weights of seed.
func run(m runtime.Model, x []float32, labels []int32) pathResult {
	logits := make([]float32, len(x)/m.InputShape().Size()*m.Classes())
	m.Forward(x, logits)
	r := pathResult{forward: classes(logits)}
	if labels != nil {
		loss, _ := m.Backward(x, labels, 1)
		r.loss = class(float32(loss))
		for _, p := range m.Params() {
			r.grads = append(r.grads, classes(p.Grad))
		}
	}
	return r
}

// diff describes the first difference between got and want, or "".
func diff(got, want pathResult, params []runtime.Param) string {
	if i := firstDiff(got.forward, want.forward); i >= 0 {
		return fmt.Sprintf("logit %d is %c, want %c", i, got.forward[i], want.forward[i])
	}
	if got.loss != want.loss {
		return fmt.Sprintf("loss is %c, want %c", got.loss, want.loss)
	}
	for k := range want.grads {
		if i := firstDiff(got.grads[k], want.grads[k]); i >= 0 {
			return fmt.Sprintf("gradient %d of %s is %c, want %c", i, params[k].Name, got.grads[k][i], want.grads[k][i])
		}
	}
	return ""
}

func firstDiff(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// paths holds a model of one network per ISA path, and its generic
// engine, all with the weights of seed 1.
type paths struct {
	isas    []runtime.ISA
	models  []initModel
	generic *runtime.Generic
}

func newPaths(t testing.TB, arch runtime.Arch, newModel func() initModel) *paths {
	p := &paths{isas: runtime.AvailableISAs()}
	for range p.isas {
		m := newModel()
		m.Init(1)
		p.models = append(p.models, m)
	}
	g, err := runtime.NewGeneric(arch)
	if err != nil {
		t.Fatal(err)
	}
	runtime.InitParams(g.Params(), 1)
	p.generic = g
	return p
}

// check runs x on every ISA path and on the generic engine, and fails t
// when any of them disagrees with the pure-Go path on the class of a logit,
// of the loss or of a gradient (labels nil: the logits only).
func (p *paths) check(t *testing.T, what string, x []float32, labels []int32) {
	t.Helper()
	var want pathResult
	params := p.models[0].Params()
	for i, isa := range p.isas {
		restore, err := runtime.ForceISA(isa)
		if err != nil {
			t.Fatal(err)
		}
		got := run(p.models[i], x, labels)
		restore()
		if i == 0 {
			want = got
			continue
		}
		if d := diff(got, want, params); d != "" {
			t.Errorf("%s: %v path against purego: %s", what, isa, d)
		}
	}
	if d := diff(run(p.generic, x, labels), want, params); d != "" {
		t.Errorf("%s: generic engine against purego: %s", what, d)
	}
}

// specialSamples returns named samples of size values: a seeded [0, 1)
// sample with one NaN, +Inf or −Inf pixel, or with every pixel huge.
func specialSamples(size int) (names []string, samples [][]float32) {
	r := rand.New(rand.NewPCG(7, 8))
	base := func() []float32 {
		s := make([]float32, size)
		for i := range s {
			s[i] = r.Float32()
		}
		return s
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	add := func(name string, s []float32) {
		names, samples = append(names, name), append(samples, s)
	}
	add("finite", base())
	for _, v := range []float32{nan, inf, -inf} {
		for _, at := range []int{0, size / 2, size - 1} {
			s := base()
			s[at] = v
			add(fmt.Sprintf("%v at pixel %d", v, at), s)
		}
	}
	s := base()
	s[1], s[size-2] = inf, -inf
	add("+Inf and -Inf", s)
	s = base()
	s[3], s[size-4] = nan, inf
	add("NaN and +Inf", s)
	for _, v := range []float32{3e38, -3e38} {
		s := make([]float32, size)
		for i := range s {
			s[i] = v
		}
		add(fmt.Sprintf("every pixel %g", v), s)
	}
	s = make([]float32, size)
	for i := range s {
		s[i] = nan
	}
	add("every pixel NaN", s)
	return names, samples
}

// TestNonFinitePaths checks that NaN, ±Inf and huge inputs give the same
// classes of logits, loss and gradients on every ISA path and on the
// generic engine, for several networks: one special sample beside a finite
// one (Backward), and every sample in one batch large enough for the
// packed forward kernels.
func TestNonFinitePaths(t *testing.T) {
	for _, n := range nets {
		if raceEnabled && n.name != "digits" {
			continue // slow under the race detector, and no concurrency to check
		}
		t.Run(n.name, func(t *testing.T) {
			size := n.arch.Input.Size()
			names, samples := specialSamples(size)
			p := newPaths(t, n.arch, n.new)
			var all []float32
			for i, s := range samples {
				x := append(append([]float32(nil), s...), samples[0]...)
				p.check(t, names[i], x, []int32{int32(i % 10), 3})
				all = append(all, s...)
			}
			for len(all) < 4*digits.Tile*size {
				all = append(all, all...)
			}
			p.check(t, "one batch of every sample (forward)", all, nil)
		})
	}
}

// TestNonFiniteLogits checks the one-sample calls of digits (Model.Logits,
// Frozen.Logits and Frozen.Forward, with their own kernels) against the
// batch Forward of the pure-Go path, class by class.
func TestNonFiniteLogits(t *testing.T) {
	names, samples := specialSamples(digits.InputSize)
	o := newOnes()
	for i, s := range samples {
		o.check(t, names[i], s)
	}
}

// ones holds a digits model per ISA path and its frozen copy.
type ones struct {
	isas   []runtime.ISA
	models []*digits.Model
	frozen []*digits.Frozen
}

func newOnes() *ones {
	o := &ones{isas: runtime.AvailableISAs()}
	for range o.isas {
		m := digits.New()
		m.Init(1)
		o.models, o.frozen = append(o.models, m), append(o.frozen, m.Freeze())
	}
	return o
}

// check compares, on every path, the logits' classes of Logits and of the
// frozen model on sample s with the pure-Go batch Forward's.
func (o *ones) check(t *testing.T, what string, s []float32) {
	t.Helper()
	var want string
	for i, isa := range o.isas {
		restore, err := runtime.ForceISA(isa)
		if err != nil {
			t.Fatal(err)
		}
		var batch, one, frozenOne, frozenBatch [digits.Classes]float32
		x := (*[digits.InputSize]float32)(s)
		o.models[i].Forward(s, batch[:])
		o.models[i].Logits(x, &one)
		o.frozen[i].Logits(x, &frozenOne)
		o.frozen[i].Forward(s, frozenBatch[:])
		restore()
		if i == 0 {
			want = classes(batch[:])
		}
		for name, got := range map[string][]float32{"Forward": batch[:], "Logits": one[:], "Frozen.Logits": frozenOne[:], "Frozen.Forward": frozenBatch[:]} {
			if c := classes(got); c != want {
				t.Errorf("%s: %v %s gives logits of classes %s (%v), want %s as purego Forward", what, isa, name, c, got, want)
			}
		}
	}
}

// FuzzISAPaths checks every ISA path and the generic engine against the
// pure-Go path on arbitrary inputs of the digits network: data is read as
// float32 bits (repeated to fill two samples), so NaNs with any payload,
// infinities, zeros of either sign and subnormals all occur. A finite value
// of magnitude above 1e6 is replaced by the infinity of its sign: sums of
// huge finite values overflow or not depending on their order, which
// differs between the paths by design (rounding, not semantics).
func FuzzISAPaths(f *testing.F) {
	bits := func(vs ...float32) []byte {
		var b []byte
		for _, v := range vs {
			u := math.Float32bits(v)
			b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
		}
		return b
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	f.Add(bits(0.5, 0.25, 1, 0, 0.75), byte(3))
	f.Add(bits(0.5, nan, 0.25, 1), byte(0))
	f.Add(bits(inf, 0.5, 0.5, -inf, 0), byte(9))
	f.Add(bits(-1, -2, nan, 3e38), byte(5))
	f.Add(bits(float32(math.Copysign(0, -1)), 1e-40, 2), byte(1))
	p := newPaths(f, digits.Arch(), func() initModel { return digits.New() })
	o := newOnes()
	f.Fuzz(func(t *testing.T, data []byte, label byte) {
		if len(data) < 4 {
			return
		}
		n := 2
		x := make([]float32, n*digits.InputSize)
		words := len(data) / 4
		for i := range x {
			j := 4 * (i % words)
			v := math.Float32frombits(uint32(data[j]) | uint32(data[j+1])<<8 | uint32(data[j+2])<<16 | uint32(data[j+3])<<24)
			if v == v && math.Abs(float64(v)) > 1e6 {
				v = float32(math.Inf(int(math.Copysign(1, float64(v)))))
			}
			x[i] = v
		}
		labels := []int32{int32(label % digits.Classes), int32(label/digits.Classes) % digits.Classes}
		p.check(t, "fuzz input", x, labels)
		o.check(t, "fuzz input (first sample)", x[:digits.InputSize])
	})
}

// setParams applies set to the parameters of every model of p, the generic
// engine's included.
func (p *paths) setParams(set func(name string, v []float32)) {
	for _, m := range p.models {
		for _, q := range m.Params() {
			set(q.Name, q.Value)
		}
	}
	for _, q := range p.generic.Params() {
		set(q.Name, q.Value)
	}
}

// TestNonFiniteSparse makes a NaN loss gradient meet zero activations:
// conv1's centre tap of filter 0 is 10 and every other weight 0.001, so a
// pixel of 3e38 overflows to +Inf in filter 0 only (a zero weight would make
// 0·Inf = NaN everywhere). Then dense1's outputs are ±Inf, 0 after the
// ReLU, and the logits NaN. The weight gradient of a zero input times a NaN
// gradient is NaN on every path: the pure-Go dense backward, which skips the
// zero inputs of a sample to save time, must not skip them then.
func TestNonFiniteSparse(t *testing.T) {
	p := newPaths(t, digits.Arch(), func() initModel { return digits.New() })
	p.setParams(func(name string, v []float32) {
		switch name {
		case "conv1.weight": // [3][3][1][32]
			for i := range v {
				v[i] = 0.001
			}
			v[(1*3+1)*32] = 10
		case "conv1.bias":
			clear(v)
		}
	})
	x := make([]float32, 2*digits.InputSize)
	for i := range x {
		x[i] = 0.5
	}
	x[27] = 3e38
	p.check(t, "one huge pixel through a network with zero activations", x, []int32{4, 7})
}
