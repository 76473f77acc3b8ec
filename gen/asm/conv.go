package asm

import (
	"fmt"
	"math"
)

// ConvShape is the constant geometry of a 2-D convolution over HWC samples
// with HWIO weights ([KernelH][KernelW][InC][Filters]); gen/emit copies it
// from the IR layer (input shape, kernel, stride, TensorFlow padding, output
// shape).
type ConvShape struct {
	InH, InW, InC    int
	KernelH, KernelW int
	StrideH, StrideW int
	PadTop, PadLeft  int
	OutH, OutW       int
	Filters          int
}

// taps is the number of weights per filter.
func (c ConvShape) taps() int { return c.KernelH * c.KernelW * c.InC }

// maxConvTerms bounds the fully unrolled kernels: output pixels × valid
// taps × input channels per sample. Beyond it Render refuses the kernel
// and the emitter keeps its pure-Go code.
const maxConvTerms = 8192

// maxConvFilters bounds Conv2DForward: one output pixel's accumulators (12
// YMM registers on AVX2) must fit beside the broadcast, mask and zero.
const maxConvFilters = 96

func (c ConvShape) validate() error {
	for _, v := range []int{c.InH, c.InW, c.InC, c.KernelH, c.KernelW, c.StrideH, c.StrideW, c.OutH, c.OutW, c.Filters} {
		if v < 1 {
			return fmt.Errorf("sizes and strides must be ≥ 1: %+v", c)
		}
	}
	if c.PadTop < 0 || c.PadLeft < 0 || c.PadTop >= c.KernelH || c.PadLeft >= c.KernelW {
		return fmt.Errorf("padding %d,%d does not fit a %dx%d kernel", c.PadTop, c.PadLeft, c.KernelH, c.KernelW)
	}
	if (c.OutH-1)*c.StrideH-c.PadTop >= c.InH || (c.OutW-1)*c.StrideW-c.PadLeft >= c.InW {
		return fmt.Errorf("output %dx%d does not fit input %dx%d", c.OutH, c.OutW, c.InH, c.InW)
	}
	if terms := c.forwardTerms(); terms > maxConvTerms {
		return fmt.Errorf("%d unrolled terms per sample exceed the limit of %d", terms, maxConvTerms)
	}
	return nil
}

// validTaps is the number of (output position, kernel offset) pairs along
// one axis whose input position o·stride − pad + k falls inside [0, in):
// the taps of that axis that the padding does not swallow, summed over the
// outputs. It takes O(out) time, not O(out·kernel).
func validTaps(in, kernel, stride, pad, out int) int {
	n := 0
	for o := range out {
		first := o*stride - pad // input position of k = 0
		lo := max(0, -first)
		hi := min(kernel, in-first)
		if hi > lo {
			n += hi - lo
		}
	}
	return n
}

// forwardTerms is the unrolled size of Conv2DForward and
// Conv2DBackwardWeights per sample: Σ over output pixels of their valid
// taps, len(pixelTaps) summed, computed without listing them (the rows and
// columns are independent). It saturates at math.MaxInt rather than
// overflow.
func (c ConvShape) forwardTerms() int {
	return saturatingProduct(validTaps(c.InH, c.KernelH, c.StrideH, c.PadTop, c.OutH), validTaps(c.InW, c.KernelW, c.StrideW, c.PadLeft, c.OutW), c.InC)
}

// saturatingProduct is the product of non-negative factors, or
// math.MaxInt when it would overflow.
func saturatingProduct(factors ...int) int {
	p := 1
	for _, f := range factors {
		if f == 0 {
			return 0
		}
		if p > math.MaxInt/f {
			p = math.MaxInt
		} else {
			p *= f
		}
	}
	return p
}

// convTap is one input value that feeds an output pixel: weight row
// (kh·KernelW+kw)·InC+c and the input's float index within a sample.
type convTap struct{ row, in int }

// pixelTaps lists the taps of output pixel (oh, ow) that fall inside the
// input (the padding contributes nothing), in weight-row order.
func (c ConvShape) pixelTaps(oh, ow int) []convTap {
	var taps []convTap
	for kh := range c.KernelH {
		ih := oh*c.StrideH - c.PadTop + kh
		if ih < 0 || ih >= c.InH {
			continue
		}
		for kw := range c.KernelW {
			iw := ow*c.StrideW - c.PadLeft + kw
			if iw < 0 || iw >= c.InW {
				continue
			}
			for ch := range c.InC {
				taps = append(taps, convTap{row: (kh*c.KernelW+kw)*c.InC + ch, in: (ih*c.InW+iw)*c.InC + ch})
			}
		}
	}
	return taps
}

// convSpec is a direct convolution kernel, vectorised across filters and
// fully unrolled over the output pixels of one sample, looping over samples.
type convSpec struct {
	symbol    string
	args      []string
	counts    []string
	shape     ConvShape
	backward  bool // dw, db += (else forward y = act(b + conv))
	input     bool // the input gradient (planConvInput)
	relu      bool // forward: ReLU; input gradient: gate on h
	what      []string
	reference string
}

// convCtx is the context of the "conv" template.
type convCtx struct {
	// Serves lists the symbols that call this one instead (same kernel).
	Serves                              []string
	Symbol, GoDecl, Requires, Reference string
	What                                []string
	ArgSize                             int
	Loads                               []argLoad
	Defines                             []define
	Bcast, MaskReg, MaskSrc             string
	KMask                               string
	Setup                               []vecOp
	Count                               string
	Advance                             []advance // per-sample pointer steps
	Passes                              []convPass
	Prefix                              string
}

type define struct{ Name, Reg, Comment string }

// convPass is one loop over the samples with a set of accumulators.
type convPass struct {
	Label   string
	Comment string
	Inits   []vecOp
	Groups  []convGroup
	Stores  []vecOp
	Reset   []argLoad // rewinds the sample pointers for the next pass
}

// convGroup is a few output pixels computed together.
type convGroup struct {
	Comment string
	Inits   []vecOp
	Loads   []vecOp
	Steps   []convStep
	Gate    []insn // zeroes lanes where the gate ≤ 0 (backward input)
	Zero    string
	Stores  []vecOp
}

// convStep optionally loads (Pre) and broadcasts (Addr) one input value, then
// applies Ops.
type convStep struct {
	Pre  []vecOp
	Addr string
	Ops  []vec3
}

// vec3 is a three-operand vector instruction: Op Src, Mid, [Mask,] Dst.
type vec3 struct{ Op, Src, Mid, Mask, Dst string }

func (g gemmSpec) asm() asmFunc { return asmFunc{g.symbol, g.args, g.counts} }
func (c convSpec) asm() asmFunc { return asmFunc{c.symbol, c.args, c.counts} }

// asmFunc is one TEXT symbol (per ISA) as the Go stubs see it.
type asmFunc struct {
	symbol       string
	args, counts []string
}

func (f asmFunc) goDecl(isa isaParams) string {
	return gemmSpec{symbol: f.symbol, args: f.args, counts: f.counts}.goDecl(isa)
}

// planConv makes every register, offset and unrolling decision of one
// convolution kernel for one ISA.
func planConv(cs convSpec, isa isaParams) *convCtx {
	s := cs.shape
	fvecs := (s.Filters + isa.lanes - 1) / isa.lanes
	tail := s.Filters % isa.lanes
	maskReg := tail != 0 && isa.maskInReg
	masked := func(v int) bool { return tail != 0 && v == fvecs-1 }
	F := 4 * s.Filters // bytes per weight row / output pixel
	ctx := &convCtx{
		Symbol:    cs.symbol + isa.suffix,
		GoDecl:    asmFunc{cs.symbol, cs.args, cs.counts}.goDecl(isa),
		Requires:  isa.requires,
		Reference: cs.reference,
		What:      cs.what,
		ArgSize:   8 * len(cs.args),
		Bcast:     isa.reg(isa.regs - 1),
		Prefix:    cs.symbol,
	}
	free := isa.regs - 1 // below the broadcast register
	if maskReg {
		ctx.MaskReg = isa.reg(isa.regs - 2)
		ctx.MaskSrc = fmt.Sprintf("tailmask<>+%d(SB)", 4*(isa.lanes-tail))
		free--
	}
	if tail != 0 && !isa.maskInReg {
		ctx.KMask = fmt.Sprintf("0x%04x", 1<<tail-1)
	}
	argOff := func(name string) string {
		for i, a := range cs.args {
			if a == name {
				return fmt.Sprintf("%s+%d(FP)", a, 8*i)
			}
		}
		panic("asm: no argument " + name)
	}
	ctx.Count = argOff("n")
	load := func(v int, addr, reg string) vecOp {
		switch {
		case !masked(v):
			return vecOp{Op: "VMOVUPS", Addr: addr, Reg: reg}
		case isa.maskInReg:
			return vecOp{Op: "VMASKMOVPS", Addr: addr, Mask: "mask", Reg: reg}
		}
		return vecOp{Op: "VMOVUPS.Z", Addr: addr, Mask: "K1", Reg: reg}
	}
	store := func(v int, addr, reg string) vecOp {
		switch {
		case !masked(v):
			return vecOp{Op: "VMOVUPS", Addr: addr, Reg: reg}
		case isa.maskInReg:
			return vecOp{Op: "VMASKMOVPS", Addr: addr, Mask: "mask", Reg: reg}
		}
		return vecOp{Op: "VMOVUPS", Addr: addr, Mask: "K1", Reg: reg}
	}
	var pixels [][2]int
	for oh := range s.OutH {
		for ow := range s.OutW {
			pixels = append(pixels, [2]int{oh, ow})
		}
	}
	pixName := func(p [2]int) string { return fmt.Sprintf("(%d,%d)", p[0], p[1]) }

	if !cs.backward {
		ctx.Loads = []argLoad{
			{"MOVQ", argOff("x"), "x_s"}, {"MOVQ", argOff("w"), "w_base"},
			{"MOVQ", argOff("y"), "y_s"}, {"MOVQ", argOff("b"), "bias"},
		}
		ctx.Defines = []define{
			{"x_s", "AX", "x: current sample"}, {"w_base", "BX", "w"},
			{"y_s", "CX", "y: current sample"},
		}
		// Weights and bias live in registers when they leave room for at
		// least two pixels of accumulators (and the ReLU zero).
		zeroRegs := 0
		if cs.relu {
			zeroRegs = 1
		}
		wRegs := s.taps() * fvecs
		inRegs := wRegs+fvecs+zeroRegs+2*fvecs <= free && !maskReg
		avail := free - zeroRegs
		if inRegs {
			avail -= wRegs + fvecs
		} else if maskReg {
			avail-- // temporary for the masked tail of w
		}
		P := max(1, min(8, avail/fvecs))
		wSrc := func(row, v int) string { return fmt.Sprintf("%d(w_base)", row*F+4*v*isa.lanes) }
		next := 0
		wReg := func(row, v int) string { return isa.reg(row*fvecs + v) }
		bReg := func(v int) string { return isa.reg(wRegs + v) }
		if inRegs {
			for row := range s.taps() {
				for v := range fvecs {
					ctx.Setup = append(ctx.Setup, load(v, wSrc(row, v), wReg(row, v)))
				}
			}
			for v := range fvecs {
				ctx.Setup = append(ctx.Setup, load(v, fmt.Sprintf("%d(bias)", 4*v*isa.lanes), bReg(v)))
			}
			next = wRegs + fvecs
		}
		acc := func(p, v int) string { return isa.reg(next + p*fvecs + v) }
		tmpW := isa.reg(next + P*fvecs)
		zero := isa.reg(isa.regs - 2)
		if maskReg {
			zero = isa.reg(isa.regs - 3)
		}
		pass := convPass{Label: cs.symbol + "_sample"}
		for g0 := 0; g0 < len(pixels); g0 += P {
			grp := pixels[g0:min(g0+P, len(pixels))]
			cg := convGroup{Comment: fmt.Sprintf("pixels %s..%s", pixName(grp[0]), pixName(grp[len(grp)-1]))}
			for p := range grp {
				for v := range fvecs {
					if inRegs {
						cg.Inits = append(cg.Inits, vecOp{Op: "VMOVAPS", Addr: bReg(v), Reg: acc(p, v)})
					} else {
						cg.Inits = append(cg.Inits, load(v, fmt.Sprintf("%d(bias)", 4*v*isa.lanes), acc(p, v)))
					}
				}
			}
			// Tap-major: each weight row is used by every pixel of the
			// group before the next.
			type use struct{ p, in int }
			uses := map[int][]use{}
			var rows []int
			for p, px := range grp {
				for _, t := range s.pixelTaps(px[0], px[1]) {
					if uses[t.row] == nil {
						rows = append(rows, t.row)
					}
					uses[t.row] = append(uses[t.row], use{p, t.in})
				}
			}
			sortInts(rows)
			for _, row := range rows {
				var pre []vecOp
				src := make([]string, fvecs)
				mask := make([]string, fvecs)
				for v := range fvecs {
					switch {
					case inRegs:
						src[v] = wReg(row, v)
					case masked(v) && isa.maskInReg:
						src[v] = tmpW
						pre = append(pre, load(v, wSrc(row, v), tmpW))
					case masked(v):
						src[v], mask[v] = wSrc(row, v), "K1"
					default:
						src[v] = wSrc(row, v)
					}
				}
				for i, u := range uses[row] {
					st := convStep{Addr: fmt.Sprintf("%d(x_s)", 4*u.in)}
					if i == 0 {
						st.Pre = pre
					}
					for v := range fvecs {
						st.Ops = append(st.Ops, vec3{Op: "VFMADD231PS", Src: src[v], Mid: "bcast", Mask: mask[v], Dst: acc(u.p, v)})
					}
					cg.Steps = append(cg.Steps, st)
				}
			}
			if cs.relu {
				cg.Zero = zero
			}
			for p, px := range grp {
				for v := range fvecs {
					cg.Stores = append(cg.Stores, store(v, fmt.Sprintf("%d(y_s)", (px[0]*s.OutW+px[1])*F+4*v*isa.lanes), acc(p, v)))
				}
			}
			pass.Groups = append(pass.Groups, cg)
		}
		ctx.Passes = []convPass{pass}
		ctx.Advance = []advance{{"x_s", 4 * s.InH * s.InW * s.InC}, {"y_s", 4 * s.OutH * s.OutW * s.Filters}}
		return ctx
	}

	// Backward: dw and db accumulate in registers over every sample, in
	// passes over groups of filter vectors and chunks of weight rows.
	ctx.Loads = []argLoad{
		{"MOVQ", argOff("x"), "x_s"}, {"MOVQ", argOff("dy"), "dy_s"},
		{"MOVQ", argOff("dw"), "dw_base"}, {"MOVQ", argOff("db"), "db_base"},
	}
	ctx.Defines = []define{
		{"x_s", "AX", "x: current sample"}, {"dy_s", "BX", "dy: current sample"},
		{"dw_base", "CX", "dw"}, {"db_base", "DX", "db"},
	}
	taps := s.taps()
	bestPasses, G, T := 0, 0, 0
	for g := fvecs; g >= 1; g-- {
		t := min(taps, (free-2*g)/g)
		if t < 1 {
			continue
		}
		passes := ((fvecs + g - 1) / g) * ((taps + t - 1) / t)
		if bestPasses == 0 || passes < bestPasses {
			bestPasses, G, T = passes, g, t
		}
	}
	for v0 := 0; v0 < fvecs; v0 += G {
		gv := min(G, fvecs-v0)
		for r0 := 0; r0 < taps; r0 += T {
			tr := min(T, taps-r0)
			withBias := r0 == 0
			pass := convPass{
				Label:   fmt.Sprintf("%s_pass%d", cs.symbol, len(ctx.Passes)),
				Comment: fmt.Sprintf("filters %d..%d, weight rows %d..%d", v0*isa.lanes, min(s.Filters, (v0+gv)*isa.lanes)-1, r0, r0+tr-1),
			}
			acc := func(row, v int) string { return isa.reg((row-r0)*gv + v) }
			dbAcc := func(v int) string { return isa.reg(tr*gv + v) }
			dyReg := func(v int) string { return isa.reg(tr*gv + gv + v) }
			for row := r0; row < r0+tr; row++ {
				for j := range gv {
					v := v0 + j
					pass.Inits = append(pass.Inits, load(v, fmt.Sprintf("%d(dw_base)", row*F+4*v*isa.lanes), acc(row, j)))
				}
			}
			if withBias {
				for j := range gv {
					v := v0 + j
					pass.Inits = append(pass.Inits, load(v, fmt.Sprintf("%d(db_base)", 4*v*isa.lanes), dbAcc(j)))
				}
			}
			for _, px := range pixels {
				cg := convGroup{Comment: "pixel " + pixName(px)}
				for j := range gv {
					v := v0 + j
					cg.Loads = append(cg.Loads, load(v, fmt.Sprintf("%d(dy_s)", (px[0]*s.OutW+px[1])*F+4*v*isa.lanes), dyReg(j)))
				}
				if withBias {
					st := convStep{}
					for j := range gv {
						st.Ops = append(st.Ops, vec3{Op: "VADDPS", Src: dyReg(j), Mid: dbAcc(j), Dst: dbAcc(j)})
					}
					cg.Steps = append(cg.Steps, st)
				}
				for _, t := range s.pixelTaps(px[0], px[1]) {
					if t.row < r0 || t.row >= r0+tr {
						continue
					}
					st := convStep{Addr: fmt.Sprintf("%d(x_s)", 4*t.in)}
					for j := range gv {
						st.Ops = append(st.Ops, vec3{Op: "VFMADD231PS", Src: dyReg(j), Mid: "bcast", Dst: acc(t.row, j)})
					}
					cg.Steps = append(cg.Steps, st)
				}
				pass.Groups = append(pass.Groups, cg)
			}
			for row := r0; row < r0+tr; row++ {
				for j := range gv {
					v := v0 + j
					pass.Stores = append(pass.Stores, store(v, fmt.Sprintf("%d(dw_base)", row*F+4*v*isa.lanes), acc(row, j)))
				}
			}
			if withBias {
				for j := range gv {
					v := v0 + j
					pass.Stores = append(pass.Stores, store(v, fmt.Sprintf("%d(db_base)", 4*v*isa.lanes), dbAcc(j)))
				}
			}
			ctx.Passes = append(ctx.Passes, pass)
		}
	}
	for i := range len(ctx.Passes) - 1 {
		ctx.Passes[i].Reset = ctx.Loads[:2]
	}
	ctx.Advance = []advance{{"x_s", 4 * s.InH * s.InW * s.InC}, {"dy_s", 4 * s.OutH * s.OutW * s.Filters}}
	return ctx
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
