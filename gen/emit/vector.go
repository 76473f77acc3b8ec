package emit

import (
	"strings"

	"github.com/cnngen/cnngen/gen/asm"
	"github.com/cnngen/cnngen/runtime"
	"github.com/dave/jennifer/jen"
)

// vecStage is a stage's vector path: the gen/asm kernels that replace its
// pure-Go kernels when the active ISA is AVX2 or AVX-512. A stage gets one
// only when every kernel it needs renders; otherwise it runs its Go kernels
// on every path. gen/asm refuses convolutions and poolings with too many
// terms per sample, and more than 96 conv filters: such a convolution
// (ReLU or no activation) takes the im2col path instead, gen/asm's dense
// GEMMs around the emitter's im2col and col2im (im2col, convgemm.go), and
// such a pooling stays on its Go kernels; so does a convolution whose
// direct kernels exceed maxUnrolledConvAsm. The direct conv kernels are
// kept wherever gen/asm renders them within it: for digits' 8×8×1 →
// 32-filter 3×3 convolution they are faster (AVX-512, one worker: a
// forward batch of 256 took 630 µs of CPU time with them and 780 µs on
// im2col; the training step on 1617 samples 14.9 ms and 16.6–17.1 ms).
//
// Kernel names are the layer's base plus a suffix that ends no other
// suffix the emitter uses (ForwardVec, ForwardOneVec, PackedVec,
// PackedOneVec, WeightGradVec, InputGradVec, InteriorVec, WindowVec,
// WindowGradVec, and gen/asm's derived Go, AVX2, AVX512, Pack, Transpose,
// Weights…, Bias…; the im2col path adds
// Im2col, Col2im, Dy2col, Flip, ForwardGemm, BackwardGemm and the buffer
// Cols, whose kernels are Im2colVec, Dy2colVec and Col2imVec), so distinct
// layers never collide.
type vecStage struct {
	// forward is the batch forward kernel (conv, dense, max pool);
	// forwardOne the one-sample dense GEMV used by Model.Logits.
	forward, forwardOne string
	// packed and packedOne are the dense forward kernels of Frozen: the
	// batch GEMM and the one-sample GEMV on the weights in the padded
	// layout (rows of asm.PaddedStride(Units) floats) that packed's Pack
	// function fills.
	packed, packedOne string
	// weightGrad accumulates dw and db (conv, dense); inputGrad writes the
	// input gradient (conv and dense with inGrad, max pool), reading the
	// transposed weights (conv, dense) of size transposedSize.
	weightGrad, inputGrad string
	transposedSize        int
	// inputReLU says that inputGrad also applies the backward of the ReLU
	// fused into the producing stage (dx = 0 where its output ≤ 0), so
	// that stage need not mask its own gradient.
	inputReLU bool
	// actGrad says that the vector path must scale the stage's output
	// gradient by its fused activation's derivative itself (<base>ActGrad)
	// before the kernels run: the consumer did not fuse it.
	actGrad bool
	// im2col says that a convolution runs as GEMMs on gen/asm's dense
	// kernels (forward, weightGrad, inputGrad are then DenseForward,
	// DenseBackwardWeights, DenseBackwardInput with In = KernelH·KernelW·InC
	// and Units = Filters) around the emitter's <layer>Im2col and
	// <layer>Col2im, group samples per GEMM call (see convgemm.go).
	im2col bool
	group  int
	// transposedConv says that an im2col stage computes its input
	// gradient as a convolution of the output gradient with the flipped
	// weights (<layer>Dy2col and inputGrad, a DenseBackwardInput that
	// reads <layer>Flip's layout and applies the gate itself) rather than
	// through <layer>Col2im; colsSize is the size of <layer>Cols.
	transposedConv bool
	colsSize       int
	// depthwise is the kernel of a depthwise convolution's interior
	// (gen/asm's DepthwiseConv2DInterior), which <layer>ForwardVec calls
	// before it computes the border in Go; such a stage has no other
	// vector kernel (its backward runs in Go on every path).
	depthwise string
	// depthwiseWeightGrad and depthwiseInputGrad are the kernels of a
	// depthwise convolution's backward over the interior, which
	// <layer>BackwardVec calls before it adds the border's terms.
	depthwiseWeightGrad, depthwiseInputGrad string
	// depthwiseWindowGrad is the kernel of one border pixel's backward
	// (gen/asm's DepthwiseConv2DWindowGrad: its db, dw and dx terms),
	// which <layer>PixelGradVec calls; "" when the layer has no border or
	// no input gradient (<layer>BackwardVec then adds the border's terms
	// with the Go <layer>PixelGrad).
	depthwiseWindowGrad string
	// depthwiseWindow is the kernel of one border pixel of a depthwise
	// convolution (gen/asm's DepthwiseConv2DWindow), which
	// <layer>PixelVec calls; "" when the layer has no border.
	depthwiseWindow string
	// im2colKernel and dy2colKernel are the gen/asm Im2colInterior
	// kernels of an im2col stage's <layer>Im2col and <layer>Dy2col (see
	// padded).
	im2colKernel, dy2colKernel string
	// chunkRows, when positive, is the output rows per chunk of the
	// forward's im2col matrix (im2colChunk), and chunkKernel its
	// Im2colInterior kernel.
	chunkRows   int
	chunkKernel string
	// chunkTailKernel is the Im2colInterior kernel of the output's last
	// chunk when chunkRows does not divide its rows, "" otherwise.
	chunkTailKernel string
	// partRows maps the heights of the split one-sample forward's parts
	// (rowPartHeights) to the Im2colInterior kernels that gather their
	// rows of the im2col matrix; nil when the forward does not split.
	partRows map[int]string
	// plane is the gen/asm PlaneConv2DForward kernel that computes the
	// forward of a padded one-channel stride-1 convolution straight from
	// the padded copy of its input (no im2col), "" for none; planeSlack
	// is the floats after the padded copy, at the end of <layer>Cols,
	// that the kernel may read.
	plane      string
	planeSlack int
	// col2imKernel is the gen/asm Col2imInterior kernel of an im2col
	// stage's <layer>Col2im (the input gradient through dcols), "" for
	// a transposed-convolution input gradient or none.
	col2imKernel string
}

// Vector kernel name suffixes (see vecStage).
const (
	sufForwardVec    = "ForwardVec"
	sufForwardOneVec = "ForwardOneVec"
	sufPackedVec     = "PackedVec"
	sufPackedOneVec  = "PackedOneVec"
	sufWeightGradVec = "WeightGradVec"
	sufInputGradVec  = "InputGradVec"
	sufInteriorVec   = "InteriorVec"
	sufWindowVec     = "WindowVec"
	sufWindowGradVec = "WindowGradVec"
	sufBackwardVec   = "BackwardVec"
	// The batch-norm kernels (batchNormKernels).
	sufAffineVec = "AffineVec"
	// sufAffineReLUVec is the affine map and the ReLU of fusedReLU.
	sufAffineReLUVec = "AffineReLUVec"
	sufMomentsVec    = "MomentsVec"
	sufSumsVec       = "SumsVec"
	sufBNBackwardVec = "NormGradVec"
	// The channel sums of average pooling over a whole map.
	sufSumVec = "SumVec"
	// reluVec is the one ReLUForward kernel of a package (no layer
	// identifier ends in Vec alone).
	reluVec     = "reluVec"
	reluGradVec = "reluGradVec"
	// addVec is the one Add kernel of a package: the add layers' sums and
	// addInto's (the gradient shares of a layer's output).
	addVec = "addVec"
)

// planVector chooses the vector kernels of every stage and returns the
// list to render. A kernel that gen/asm refuses (on its own) leaves its
// stage on the Go kernels, or, for a convolution, on the im2col path; the
// error says only that the shape is beyond the templates' limits, which is
// not an error of the network.
func (p *plan) planVector(pkg string) []asm.Kernel {
	var all []asm.Kernel
	// budget is what is left of maxVectorAsm: the stages take their
	// vector kernels in network order while they fit, and the rest keep
	// their Go kernels, so that a deep network's package stays within
	// the size limit and is generated in seconds.
	budget := maxVectorAsm
	for _, s := range p.stages {
		l := s.layer
		var ks []asm.Kernel
		v := &vecStage{}
		// The producer's fused ReLU can be applied by this stage's
		// input-gradient kernel when this stage is its only consumer.
		prev := s.in.producer
		reluIn := prev != nil && prev.act == runtime.ReLU && p.singleConsumer(s.in) == s
		switch l.Kind {
		case runtime.Conv2D:
			if isDepthwise(s) {
				shape := asm.ConvShape{
					InH: l.In.Height, InW: l.In.Width, InC: l.In.Channels,
					KernelH: l.KernelH, KernelW: l.KernelW, StrideH: l.StrideH, StrideW: l.StrideW,
					PadTop: l.PadTop, PadLeft: l.PadLeft, OutH: l.Out.Height, OutW: l.Out.Width, Filters: l.Filters,
				}
				v.depthwise = s.base + sufInteriorVec
				ks = append(ks, asm.Kernel{Op: asm.DepthwiseConv2DInterior, Name: v.depthwise, Conv: shape})
				if s.backward {
					v.depthwiseWeightGrad = s.base + sufWeightGradVec
					ks = append(ks, asm.Kernel{Op: asm.DepthwiseConv2DWeightGradInterior, Name: v.depthwiseWeightGrad, Conv: shape})
				}
				if s.inGrad {
					v.depthwiseInputGrad = s.base + sufInputGradVec
					ks = append(ks, asm.Kernel{Op: asm.DepthwiseConv2DInputGradInterior, Name: v.depthwiseInputGrad, Conv: shape})
				}
				if hasBorder(windowOf(l)) {
					v.depthwiseWindow = s.base + sufWindowVec
					ks = append(ks, asm.Kernel{Op: asm.DepthwiseConv2DWindow, Name: v.depthwiseWindow, Conv: shape})
				}
				if s.backward && s.inGrad && hasBorder(windowOf(l)) {
					v.depthwiseWindowGrad = s.base + sufWindowGradVec
					ks = append(ks, asm.Kernel{Op: asm.DepthwiseConv2DWindowGrad, Name: v.depthwiseWindowGrad, Conv: shape})
				}
				break
			}
			if (s.act != "" && s.act != runtime.ReLU) || s.groups() > 1 {
				break
			}
			shape := asm.ConvShape{
				InH: l.In.Height, InW: l.In.Width, InC: l.In.Channels,
				KernelH: l.KernelH, KernelW: l.KernelW, StrideH: l.StrideH, StrideW: l.StrideW,
				PadTop: l.PadTop, PadLeft: l.PadLeft, OutH: l.Out.Height, OutW: l.Out.Width, Filters: l.Filters,
			}
			v.forward = s.base + sufForwardVec
			v.weightGrad = s.base + sufWeightGradVec
			ks = append(ks,
				asm.Kernel{Op: asm.Conv2DForward, Name: v.forward, ReLU: s.act == runtime.ReLU, Conv: shape},
				asm.Kernel{Op: asm.Conv2DBackwardWeights, Name: v.weightGrad, Conv: shape})
			if s.inGrad {
				v.inputGrad = s.base + sufInputGradVec
				v.inputReLU = reluIn
				v.transposedSize = l.KernelH * l.KernelW * l.Filters * asm.PaddedStride(l.In.Channels)
				ks = append(ks, asm.Kernel{Op: asm.Conv2DBackwardInput, Name: v.inputGrad, ReLU: reluIn, Conv: shape})
			}
		case runtime.Dense:
			if s.act != "" && s.act != runtime.ReLU {
				break
			}
			in, units := l.In.Size(), l.Units
			v.forward = s.base + sufForwardVec
			v.forwardOne = s.base + sufForwardOneVec
			v.packed = s.base + sufPackedVec
			v.packedOne = s.base + sufPackedOneVec
			v.weightGrad = s.base + sufWeightGradVec
			relu := s.act == runtime.ReLU
			ks = append(ks,
				asm.Kernel{Op: asm.DenseForward, Name: v.forward, In: in, Units: units, ReLU: relu},
				asm.Kernel{Op: asm.DenseForwardOne, Name: v.forwardOne, In: in, Units: units, ReLU: relu},
				asm.Kernel{Op: asm.DenseForward, Name: v.packed, In: in, Units: units, ReLU: relu, Padded: true},
				asm.Kernel{Op: asm.DenseForwardOne, Name: v.packedOne, In: in, Units: units, ReLU: relu, Padded: true},
				asm.Kernel{Op: asm.DenseBackwardWeights, Name: v.weightGrad, In: in, Units: units})
			if s.inGrad {
				v.inputGrad = s.base + sufInputGradVec
				v.inputReLU = reluIn
				v.transposedSize = units * asm.PaddedStride(in)
				ks = append(ks, asm.Kernel{Op: asm.DenseBackwardInput, Name: v.inputGrad, In: in, Units: units, ReLU: reluIn})
			}
		case runtime.MaxPool:
			shape := asm.PoolShape{
				InH: l.In.Height, InW: l.In.Width, Channels: l.In.Channels,
				KernelH: l.KernelH, KernelW: l.KernelW, StrideH: l.StrideH, StrideW: l.StrideW,
				PadTop: l.PadTop, PadLeft: l.PadLeft, OutH: l.Out.Height, OutW: l.Out.Width,
			}
			v.forward = s.base + sufForwardVec
			ks = append(ks, asm.Kernel{Op: asm.MaxPool2DForward, Name: v.forward, Pool: shape})
			if s.backward {
				v.inputGrad = s.base + sufInputGradVec
				v.inputReLU = reluIn
				ks = append(ks, asm.Kernel{Op: asm.MaxPool2DBackward, Name: v.inputGrad, ReLU: reluIn, Pool: shape})
			}
		}
		if len(ks) == 0 {
			continue
		}
		// Unrolled kernels (conv, pool) are tried only while the budget
		// has room for the largest of them; the GEMMs only when their
		// smallest possible size fits.
		unrolled := l.Kind == runtime.Conv2D || l.Kind == runtime.MaxPool
		if unrolled && budget < maxUnrolledConvAsm {
			ks = nil
		}
		if ks != nil && budget >= minAsmBytes(ks) {
			files, err := asm.Render(pkg, ks)
			size := asmBytes(files)
			if err == nil && (l.Kind != runtime.Conv2D || size <= maxUnrolledConvAsm) && size <= budget {
				s.vec = v
				all = append(all, ks...)
				budget -= size
				continue
			}
		}
		if l.Kind == runtime.Conv2D && v.forward != "" {
			// Too large to unroll: im2col and the dense GEMMs.
			v = &vecStage{}
			ks = convGemmKernels(s, v, reluIn, p.splitsOne())
			if budget < minAsmBytes(ks) {
				continue
			}
			if files, err := asm.Render(pkg, ks); err == nil && asmBytes(files) <= budget {
				s.vec = v
				all = append(all, ks...)
				budget -= asmBytes(files)
			}
		}
	}
	// Batch norms over channels in whole vectors run their element loops
	// on gen/asm's kernels (one TEXT per op and ISA for all of them).
	p.bnVector = map[*stage]bool{}
	for _, s := range p.batchnorms() {
		C, _ := bnGeometry(s)
		if C%8 != 0 {
			continue
		}
		p.bnVector[s] = true
		all = append(all,
			asm.Kernel{Op: asm.ChannelAffine, Name: s.base + sufAffineVec, Units: C},
			asm.Kernel{Op: asm.BatchNormMoments, Name: s.base + sufMomentsVec, Units: C},
			asm.Kernel{Op: asm.BatchNormSums, Name: s.base + sufSumsVec, Units: C})
		if s.inGrad {
			all = append(all, asm.Kernel{Op: asm.BatchNormBackward, Name: s.base + sufBNBackwardVec, Units: C})
		}
		if p.fusedReLU(s) != nil {
			all = append(all, asm.Kernel{Op: asm.ChannelAffineReLU, Name: s.base + sufAffineReLUVec, Units: C})
		}
	}
	// Average poolings over a whole map sum each channel on gen/asm's
	// ChannelSum.
	p.sumVector = map[*stage]bool{}
	for _, s := range p.stages {
		if C := s.layer.In.Channels; wholeMapMean(s) && C%8 == 0 {
			p.sumVector[s] = true
			all = append(all, asm.Kernel{Op: asm.ChannelSum, Name: s.base + sufSumVec, Units: C})
		}
	}
	// Every standalone ReLU (training, Frozen's in place) shares one
	// vector kernel, and their gradients another.
	relu, grad := false, false
	for _, s := range p.stages {
		if s.layer.Kind == runtime.ReLU {
			relu, grad = true, grad || s.inGrad
		}
	}
	if relu {
		all = append(all, asm.Kernel{Op: asm.ReLUForward, Name: reluVec})
	}
	if grad {
		all = append(all, asm.Kernel{Op: asm.ReLUBackward, Name: reluGradVec})
	}
	if p.usesAddVec() {
		all = append(all, asm.Kernel{Op: asm.Add, Name: addVec})
	}
	// A vector stage with a fused activation masks its own output gradient
	// unless the stage after it does.
	for _, s := range p.stages {
		if s.vec == nil || s.act == "" {
			continue
		}
		next := p.singleConsumer(s.out)
		s.vec.actGrad = !(next != nil && next.vec != nil && next.vec.inputReLU)
	}
	return all
}

// usesAddVec says whether the package calls addVec: it has an add layer,
// or a gradient summed from shares (addInto).
func (p *plan) usesAddVec() bool {
	for _, s := range p.stages {
		if s.layer.Kind == runtime.Add {
			return true
		}
	}
	return p.hasPartial()
}

// maxUnrolledConvAsm bounds the assembly of one convolution's direct
// kernels (both ISAs, every direction); a larger one runs on the im2col
// path. gen/asm's own limit counts the terms of one kernel, yet its input
// gradient is still unrolled over the input pixels: a 1×1 convolution over
// a 16×16×16 map (ResNet-8's strided shortcuts) passes it with ≈1.6 MB of
// assembly per layer. Digits' conv1 renders ≈35 KB; the bound keeps every
// example's package within 200 KB of assembly (TestAsmSize) and sends the
// same convolutions of the examples and benchmarks to im2col as the
// unrolled kernels' bound of 2 MB did, except twoconv's conv2 (≈0.8 MB).
const maxUnrolledConvAsm = 64 << 10

// maxVectorAsm bounds the assembly of all the stages' vector kernels
// together. Every example renders less than 2 MB, yet a description of 252
// conv layers rendered ≈400 MB (80 s, 2.5 GB of memory) before Generate
// refused it; past this budget stages keep their Go kernels (a
// convolution first tries the smaller im2col path).
const maxVectorAsm = 16 << 20

// wholeMapMean reports whether stage s averages each channel over its
// whole input map: a global average pooling, or an average pooling
// whose one window is the map.
func wholeMapMean(s *stage) bool {
	l := s.layer
	switch l.Kind {
	case runtime.GlobalAvgPool:
		return true
	case runtime.AvgPool:
		g := windowOf(l)
		return g.oh == 1 && g.ow == 1 && g.kh == g.h && g.kw == g.w && g.pt == 0 && g.pl == 0
	}
	return false
}

// minAsmBytes is a lower bound on the assembly that gen/asm renders for
// ks, from the dense kernels' sizes, which grow with Units (measured: 194
// to 197 bytes per unit for DenseForward, 129 to 161 for
// DenseBackwardWeights) and In (291 to 318 bytes per input for
// DenseBackwardInput); other kernels count 0. It lets planVector skip
// rendering kernels that cannot fit (a 65536-filter convolution's GEMMs
// render 23 MB in seconds).
func minAsmBytes(ks []asm.Kernel) int {
	n := 0
	for _, k := range ks {
		switch k.Op {
		case asm.DenseForward:
			n += 180 * k.Units
		case asm.DenseBackwardWeights:
			n += 120 * k.Units
		case asm.DenseBackwardInput:
			n += 280 * k.In
		}
	}
	return n
}

// asmBytes is the size of the assembly among gen/asm's files.
func asmBytes(files []asm.File) int {
	total := 0
	for _, f := range files {
		if strings.HasSuffix(f.Name, ".s") {
			total += len(f.Data)
		}
	}
	return total
}

// noBiasWidth is the most outputs per pixel of a vector stage without a
// bias, or 0: the vector kernels all add a bias, so such stages pass a
// slice of zeroBias (shared, never written) and accumulate the bias
// gradient into their tile buffers' biasSink (never read).
func (p *plan) noBiasWidth() int {
	width := 0
	for _, s := range p.stages {
		if s.vec != nil && (s.layer.Kind == runtime.Conv2D || s.layer.Kind == runtime.Dense) && !s.hasBias() {
			width = max(width, s.layer.Out.Channels)
		}
	}
	return width
}

// hasVector reports whether any stage has a vector path.
func (p *plan) hasVector() bool {
	for _, s := range p.stages {
		if s.vec != nil {
			return true
		}
	}
	return false
}

// packedStages returns the stages whose dense kernels have packed
// variants (Frozen's padded layout, and Model.Forward on large batches).
func (p *plan) packedStages() []*stage {
	var out []*stage
	for _, s := range p.stages {
		if s.vec != nil && s.vec.packed != "" {
			out = append(out, s)
		}
	}
	return out
}

// hasPacked reports whether any stage has dense kernels on packed weights.
func (p *plan) hasPacked() bool { return len(p.packedStages()) > 0 }

// packCalls returns the statements that fill the packed weights of every
// packed stage, <into>.<weight>, from the parameters <from>.<weight>
// (into and from are expressions such as f.packed and f.params).
func (p *plan) packCalls(into, from func() *jen.Statement) []jen.Code {
	var calls []jen.Code
	for _, s := range p.packedStages() {
		w := p.params[s.weight]
		calls = append(calls, jen.Id(s.vec.packed+"Pack").Call(jen.Op("&").Add(into()).Dot(w), jen.Op("&").Add(from()).Dot(w)))
	}
	return calls
}

// hasTransposed reports whether any stage keeps transposed weights.
func (p *plan) hasTransposed() bool {
	for _, s := range p.stages {
		if s.vec != nil && s.vec.transposedSize > 0 {
			return true
		}
	}
	return false
}
