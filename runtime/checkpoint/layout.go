package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint/safetensors"
)

// tensorLayout maps one parameter between the model's standard layout
// ([runtime.ParamInfo]) and PyTorch's, which the file uses:
//
//	conv weight   [KH, KW, Cin, F]  ↔  [F, Cin, KH, KW]  (Cin = C/groups
//	              for a grouped conv, in both layouts)
//	dense weight  [In, Units]       ↔  [Units, In], In reordered from the
//	              HWC flatten order to PyTorch's CHW order (InShape gives H, W, C)
//	bias          [N]               ↔  [N]  (also batch norm's weight and bias)
//
// The kind is read from the rank: 4 is a conv weight, 2 a dense weight, 1 a
// bias.
type tensorLayout struct {
	param    runtime.ParamInfo
	file     []int // the shape in the file
	toFileAt []int // file[k] = standard[toFileAt[k]]
}

// newLayout builds the layouts of a model's parameters, in order.
func newLayout(params []runtime.Param) ([]tensorLayout, error) {
	layouts := make([]tensorLayout, len(params))
	seen := make(map[string]bool, len(params))
	for i, p := range params {
		if seen[p.Name] || strings.HasPrefix(p.Name, optimPrefix) {
			return nil, fmt.Errorf("parameter name %q is used twice or starts with %q", p.Name, optimPrefix)
		}
		seen[p.Name] = true
		l, err := paramLayout(p.ParamInfo)
		if err != nil {
			return nil, err
		}
		if len(p.Value) != p.Size() {
			return nil, fmt.Errorf("parameter %s %s has %d values, want %d", p.Name, p.ShapeString(), len(p.Value), p.Size())
		}
		layouts[i] = l
	}
	return layouts, nil
}

func paramLayout(p runtime.ParamInfo) (tensorLayout, error) {
	l := tensorLayout{param: p, toFileAt: make([]int, p.Size())}
	s := p.Shape
	switch len(s) {
	case 1:
		l.file = []int{s[0]}
		for k := range l.toFileAt {
			l.toFileAt[k] = k
		}
	case 2:
		in, units := s[0], s[1]
		hw := p.InShape
		if hw.Size() != in || hw.Height < 1 || hw.Width < 1 || hw.Channels < 1 {
			return tensorLayout{}, fmt.Errorf("dense weight %s %s: its input shape %s does not hold its %d inputs (the engine must set ParamInfo.InShape)",
				p.Name, p.ShapeString(), hw, in)
		}
		l.file = []int{units, in}
		for u := range units {
			for c := range hw.Channels {
				for h := range hw.Height {
					for w := range hw.Width {
						chw := (c*hw.Height+h)*hw.Width + w
						hwc := (h*hw.Width+w)*hw.Channels + c
						l.toFileAt[u*in+chw] = hwc*units + u
					}
				}
			}
		}
	case 4:
		kh, kw, cin, f := s[0], s[1], s[2], s[3]
		l.file = []int{f, cin, kh, kw}
		for o := range f {
			for c := range cin {
				for y := range kh {
					for x := range kw {
						l.toFileAt[((o*cin+c)*kh+y)*kw+x] = ((y*kw+x)*cin+c)*f + o
					}
				}
			}
		}
	default:
		return tensorLayout{}, fmt.Errorf("parameter %s has shape %s: want a bias [N], a dense weight [In Units] or a conv weight [KH KW Cin F]",
			p.Name, p.ShapeString())
	}
	return l, nil
}

// toFile writes the standard-layout values std into file in PyTorch's layout.
func (l *tensorLayout) toFile(file, std []float32) {
	for k, at := range l.toFileAt {
		file[k] = std[at]
	}
}

// fromFile writes PyTorch-layout values file into std in the standard layout.
func (l *tensorLayout) fromFile(std, file []float32) {
	for k, at := range l.toFileAt {
		std[at] = file[k]
	}
}

// shapesHash is the SHA-256, in hex, of the parameters' names and file
// shapes in order, with each dense weight's input shape, then the buffers'
// names and shapes: two networks with the same hash load each other's
// checkpoints value for value. A network without buffers hashes as before
// buffers existed, so that its older checkpoints still load.
func shapesHash(layouts []tensorLayout, buffers []runtime.Buffer) string {
	var b strings.Builder
	for _, l := range layouts {
		fmt.Fprintf(&b, "%s %s", l.param.Name, safetensors.ShapeString(l.file))
		if len(l.file) == 2 {
			fmt.Fprintf(&b, " in %s", l.param.InShape)
		}
		b.WriteByte('\n')
	}
	for _, buf := range buffers {
		fmt.Fprintf(&b, "buffer %s %s\n", buf.Name, safetensors.ShapeString(buf.Shape))
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}
