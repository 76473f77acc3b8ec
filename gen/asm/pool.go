package asm

import (
	"fmt"
	"strings"
)

// PoolShape is the constant geometry of a max pooling over HWC samples;
// gen/emit copies it from the IR layer (input shape, window, stride,
// TensorFlow padding, output shape). Padding taps count as −∞.
type PoolShape struct {
	InH, InW, Channels int
	KernelH, KernelW   int
	StrideH, StrideW   int
	PadTop, PadLeft    int
	OutH, OutW         int
}

func (p PoolShape) validate() error {
	for _, v := range []int{p.InH, p.InW, p.Channels, p.KernelH, p.KernelW, p.StrideH, p.StrideW, p.OutH, p.OutW} {
		if v < 1 {
			return fmt.Errorf("sizes and strides must be ≥ 1: %+v", p)
		}
	}
	if p.PadTop < 0 || p.PadLeft < 0 || p.PadTop >= p.KernelH || p.PadLeft >= p.KernelW {
		return fmt.Errorf("padding %d,%d does not fit a %dx%d window", p.PadTop, p.PadLeft, p.KernelH, p.KernelW)
	}
	if (p.OutH-1)*p.StrideH-p.PadTop >= p.InH || (p.OutW-1)*p.StrideW-p.PadLeft >= p.InW {
		return fmt.Errorf("output %dx%d does not fit input %dx%d", p.OutH, p.OutW, p.InH, p.InW)
	}
	if terms := p.OutH * p.OutW * p.KernelH * p.KernelW * ((p.Channels + 7) / 8); terms > maxConvTerms {
		return fmt.Errorf("%d unrolled terms per sample exceed the limit of %d", terms, maxConvTerms)
	}
	return nil
}

// windowTaps lists the input pixels (h·InW+w) of output pixel (oh, ow)'s
// window that fall inside the input, in row-major order.
func (p PoolShape) windowTaps(oh, ow int) []int {
	var taps []int
	for kh := range p.KernelH {
		ih := oh*p.StrideH - p.PadTop + kh
		if ih < 0 || ih >= p.InH {
			continue
		}
		for kw := range p.KernelW {
			iw := ow*p.StrideW - p.PadLeft + kw
			if iw >= 0 && iw < p.InW {
				taps = append(taps, ih*p.InW+iw)
			}
		}
	}
	return taps
}

// tiled reports whether the windows cover every input exactly once, so the
// backward pass can store each input gradient instead of accumulating.
func (p PoolShape) tiled() bool {
	return p.StrideH == p.KernelH && p.StrideW == p.KernelW && p.PadTop == 0 && p.PadLeft == 0 &&
		p.OutH*p.KernelH == p.InH && p.OutW*p.KernelW == p.InW
}

// poolSpec is a max-pooling kernel, forward or backward.
type poolSpec struct {
	symbol    string
	args      []string
	counts    []string
	shape     PoolShape
	backward  bool
	relu      bool // backward: route gradient only where y > 0
	what      []string
	reference string
}

func (p poolSpec) asm() asmFunc { return asmFunc{symbol: p.symbol, args: p.args, counts: p.counts} }

// poolCtx is the context of the "pool" template.
type poolCtx struct {
	// Serves lists the symbols that call this one instead (same kernel).
	Serves                              []string
	Symbol, GoDecl, Requires, Reference string
	What                                []string
	ArgSize                             int
	Loads                               []argLoad
	Defines                             []define
	Setup                               []insn
	Count                               string
	Label                               string
	Windows                             []poolWindow
	Advance                             []advance
}

// insn is one instruction with its operands in Go assembler order.
type insn struct{ Op, Args, Comment string }

func in(op string, args ...string) insn { return insn{Op: op, Args: strings.Join(args, ", ")} }

// poolWindow is a run of instructions: at Label (a loop's target) when set,
// under Comment when set.
type poolWindow struct {
	Label   string
	Comment string
	Insns   []insn
}

type advance struct {
	Reg  string
	Step int
}

// planPool makes every decision of one pooling kernel for one ISA.
func planPool(ps poolSpec, isa isaParams) *poolCtx {
	p := ps.shape
	cvecs := (p.Channels + isa.lanes - 1) / isa.lanes
	tail := p.Channels % isa.lanes
	z := isa.suffix == "AVX512"
	masked := func(v int) bool { return tail != 0 && v == cvecs-1 }
	C := 4 * p.Channels
	ctx := &poolCtx{
		Symbol:    ps.symbol + isa.suffix,
		GoDecl:    ps.asm().goDecl(isa),
		Requires:  isa.requires,
		Reference: ps.reference,
		What:      ps.what,
		ArgSize:   8 * len(ps.args),
		Label:     ps.symbol + "_sample",
	}
	argOff := func(name string) string {
		for i, a := range ps.args {
			if a == name {
				return fmt.Sprintf("%s+%d(FP)", a, 8*i)
			}
		}
		panic("asm: no argument " + name)
	}
	ctx.Count = argOff("n")
	inStep, outStep := 4*p.InH*p.InW*p.Channels, 4*p.OutH*p.OutW*p.Channels
	maskReg := isa.reg(isa.regs - 1) // AVX2 tail mask
	zero := isa.reg(isa.regs - 2)
	if tail != 0 {
		if z {
			ctx.Setup = append(ctx.Setup, in("MOVQ", fmt.Sprintf("$0x%04x", 1<<tail-1), "tmp"), insn{Op: "KMOVW", Args: "tmp, K1", Comment: "K1: tail lanes of the last channel vector"})
		} else {
			ctx.Setup = append(ctx.Setup, insn{Op: "VMOVUPS", Args: fmt.Sprintf("tailmask<>+%d(SB), %s", 4*(isa.lanes-tail), maskReg), Comment: "tail lanes of the last channel vector"})
		}
	}
	load := func(v int, addr, reg string) insn {
		switch {
		case !masked(v):
			return in("VMOVUPS", addr, reg)
		case z:
			return in("VMOVUPS.Z", addr, "K1", reg)
		}
		return in("VMASKMOVPS", addr, maskReg, reg)
	}
	store := func(v int, reg, addr string) insn {
		switch {
		case !masked(v):
			return in("VMOVUPS", reg, addr)
		case z:
			return in("VMOVUPS", reg, "K1", addr)
		}
		return in("VMASKMOVPS", reg, maskReg, addr)
	}
	vOff := func(v int) int { return 4 * v * isa.lanes }

	if !ps.backward {
		ctx.Loads = []argLoad{{"MOVQ", argOff("x"), "x_s"}, {"MOVQ", argOff("y"), "y_s"}}
		ctx.Defines = append([]define{{"x_s", "AX", "x: current sample"}, {"y_s", "CX", "y: current sample"}}, walkDefines...)
		ctx.Advance = []advance{{"x_s", inStep}, {"y_s", outStep}}
		// A masked AVX2 store is microcoded on Zen 2 (see Im2colInterior):
		// a window but in the last row stores its last vector whole, the
		// lanes past it falling on windows that are stored after it (the
		// rows and windows go in order, and every window is stored).
		whole := !z && tail != 0 && isa.lanes-tail <= p.OutW*p.Channels
		for _, ss := range [][]segment{segments(p.InH, p.KernelH, p.StrideH, p.PadTop, p.OutH), segments(p.InW, p.KernelW, p.StrideW, p.PadLeft, p.OutW)} {
			for _, sg := range ss {
				whole = whole && sg.k1 > sg.k0
			}
		}
		ctx.Windows = p.walk(ps.symbol, whole, func(taps []int, lastRow bool, di int) []insn {
			var out []insn
			for v := range cvecs {
				i := v
				acc := isa.reg(i % 8) // rotate, so windows overlap in flight
				tmp := isa.reg(8 + i%4)
				nan := isa.reg(12 + i%2) // AVX2: all ones in the lanes that saw a NaN
				addr := func(t int) string { return fmt.Sprintf("%d(x_s)(ioff*1)", di+t*C+vOff(v)) }
				out = append(out, load(v, addr(taps[0]), acc))
				// A NaN tap makes the maximum NaN (as Go's max and
				// PyTorch do). VMAXPS alone cannot: it returns its
				// second source whenever either is NaN, so a NaN is
				// lost as soon as a later tap is a number (and
				// VRANGEPS returns the number). So the kernel also
				// tracks, per lane, whether a NaN was seen: AVX2 in
				// a vector, nan = unord(tap, nan), sticky because
				// all ones is itself a NaN, ORed into the maximum at
				// the end; AVX-512 in a mask, ok = ok ∧ ord(tap, acc),
				// whose clear lanes are set to all ones at the end.
				ok := fmt.Sprintf("K%d", 2+i%4)
				if len(taps) > 1 {
					switch {
					case z && masked(v):
						out = append(out, insn{Op: "VCMPPS", Args: strings.Join([]string{"$7", acc, acc, "K1", ok}, ", "), Comment: "ok: the lanes without a NaN"})
					case z:
						out = append(out, insn{Op: "VCMPPS", Args: strings.Join([]string{"$7", acc, acc, ok}, ", "), Comment: "ok: the lanes without a NaN"})
					default:
						out = append(out, insn{Op: "VCMPPS", Args: strings.Join([]string{"$3", acc, acc, nan}, ", "), Comment: "nan: the lanes with a NaN"})
					}
				}
				for _, t := range taps[1:] {
					a := addr(t)
					switch {
					case !masked(v) && z:
						out = append(out, in("VCMPPS", "$7", a, acc, ok, ok), in("VMAXPS", a, acc, acc))
					case z:
						out = append(out, in("VCMPPS", "$7", a, acc, ok, ok), in("VMAXPS", a, acc, "K1", acc))
					case !masked(v):
						out = append(out, in("VMAXPS", a, acc, acc), in("VCMPPS", "$3", a, nan, nan))
					default:
						out = append(out, in("VMASKMOVPS", a, maskReg, tmp), in("VMAXPS", tmp, acc, acc), in("VCMPPS", "$3", tmp, nan, nan))
					}
				}
				if len(taps) > 1 {
					if z {
						out = append(out, in("KNOTW", ok, ok), insn{Op: "VPTERNLOGD", Args: strings.Join([]string{"$0xff", acc, acc, ok, acc}, ", "), Comment: "NaN (all ones) where a tap was NaN"})
					} else {
						out = append(out, insn{Op: "VORPS", Args: strings.Join([]string{nan, acc, acc}, ", "), Comment: "NaN (all ones) where a tap was NaN"})
					}
				}
				if whole && !lastRow {
					out = append(out, in("VMOVUPS", acc, fmt.Sprintf("%d(y_s)(ooff*1)", vOff(v))))
				} else {
					out = append(out, store(v, acc, fmt.Sprintf("%d(y_s)(ooff*1)", vOff(v))))
				}
			}
			return out
		})
		return ctx
	}

	ctx.Loads = []argLoad{
		{"MOVQ", argOff("dx"), "dx_s"}, {"MOVQ", argOff("dy"), "dy_s"},
		{"MOVQ", argOff("x"), "x_s"}, {"MOVQ", argOff("y"), "y_s"},
	}
	ctx.Defines = []define{
		{"x_s", "AX", "x: current sample (pool input)"}, {"y_s", "DX", "y: current sample (pool output)"},
		{"dx_s", "CX", "dx: current sample"}, {"dy_s", "BX", "dy: current sample"},
	}
	ctx.Defines = append(ctx.Defines, walkDefines...)
	ctx.Advance = []advance{{"x_s", inStep}, {"dx_s", inStep}, {"y_s", outStep}, {"dy_s", outStep}}
	ctx.Setup = append(ctx.Setup, in("VXORPS", zero, zero, zero))
	tiled := p.tiled()
	if !tiled {
		// Inputs outside every window, or under several, need dx zeroed
		// first and the gradients added.
		zeroing := poolWindow{Comment: "dx = 0", Insns: []insn{in("MOVQ", fmt.Sprintf("$%d", p.InH*p.InW), "ocol"), in("XORQ", "ioff", "ioff")}}
		body := poolWindow{Label: ps.symbol + "_zero"}
		for v := range cvecs {
			body.Insns = append(body.Insns, store(v, zero, fmt.Sprintf("%d(dx_s)(ioff*1)", vOff(v))))
		}
		body.Insns = append(body.Insns, in("ADDQ", fmt.Sprintf("$%d", C), "ioff"), in("DECQ", "ocol"), in("JNZ", body.Label))
		ctx.Windows = append(ctx.Windows, zeroing, body)
	}
	ctx.Windows = append(ctx.Windows, p.walk(ps.symbol, false, func(taps []int, _ bool, di int) []insn {
		var out []insn
		for v := range cvecs {
			set := v % 2
			pix := vOff(v)
			yAddr, dyAddr := fmt.Sprintf("%d(y_s)(ooff*1)", pix), fmt.Sprintf("%d(dy_s)(ooff*1)", pix)
			if z {
				y, g, t := isa.reg(3*set), isa.reg(3*set+1), isa.reg(3*set+2)
				free, hit := fmt.Sprintf("K%d", 2+2*set), fmt.Sprintf("K%d", 3+2*set)
				out = append(out, load(v, yAddr, y), load(v, dyAddr, g))
				switch {
				case ps.relu && masked(v):
					out = append(out, insn{Op: "VCMPPS", Args: strings.Join([]string{"$14", zero, y, "K1", free}, ", "), Comment: "free: lanes with y > 0 (ReLU)"})
				case ps.relu:
					out = append(out, insn{Op: "VCMPPS", Args: strings.Join([]string{"$14", zero, y, free}, ", "), Comment: "free: lanes with y > 0 (ReLU)"})
				case masked(v):
					out = append(out, in("KMOVW", "K1", free))
				default:
					out = append(out, insn{Op: "KXNORW", Args: strings.Join([]string{"K0", "K0", free}, ", "), Comment: "free: every lane"})
				}
				for ti, tp := range taps {
					addr := fmt.Sprintf("%d(x_s)(ioff*1)", di+tp*C+vOff(v))
					dxAddr := fmt.Sprintf("%d(dx_s)(ioff*1)", di+tp*C+vOff(v))
					out = append(out, insn{Op: "VCMPPS", Args: strings.Join([]string{"$0", addr, y, free, hit}, ", "), Comment: "hit: free lanes where x == y"})
					if ti < len(taps)-1 {
						out = append(out, in("KANDNW", free, hit, free))
					}
					if tiled {
						out = append(out, in("VMOVUPS.Z", g, hit, t), store(v, t, dxAddr))
					} else {
						out = append(out, in("VADDPS.Z", dxAddr, g, hit, t), in("VMOVUPS", t, hit, dxAddr))
					}
				}
				continue
			}
			y, g, f, h, t, d := isa.reg(6*set), isa.reg(6*set+1), isa.reg(6*set+2), isa.reg(6*set+3), isa.reg(6*set+4), isa.reg(6*set+5)
			out = append(out, load(v, yAddr, y), load(v, dyAddr, g))
			if ps.relu {
				out = append(out, insn{Op: "VCMPPS", Args: strings.Join([]string{"$14", zero, y, f}, ", "), Comment: "free: lanes with y > 0 (ReLU)"})
			} else {
				out = append(out, insn{Op: "VCMPPS", Args: strings.Join([]string{"$0", y, y, f}, ", "), Comment: "free: every lane"})
			}
			for ti, tp := range taps {
				addr := fmt.Sprintf("%d(x_s)(ioff*1)", di+tp*C+vOff(v))
				dxAddr := fmt.Sprintf("%d(dx_s)(ioff*1)", di+tp*C+vOff(v))
				if masked(v) {
					out = append(out, load(v, addr, t), in("VCMPPS", "$0", t, y, h))
				} else {
					out = append(out, in("VCMPPS", "$0", addr, y, h))
				}
				out = append(out, insn{Op: "VANDPS", Args: strings.Join([]string{f, h, h}, ", "), Comment: "hit: free lanes where x == y"})
				if ti < len(taps)-1 {
					out = append(out, in("VANDNPS", f, h, f))
				}
				out = append(out, in("VANDPS", g, h, t))
				if !tiled {
					out = append(out, load(v, dxAddr, d), in("VADDPS", t, d, t))
				}
				out = append(out, store(v, t, dxAddr))
			}
		}
		return out
	})...)
	return ctx
}

// walkDefines are the registers of walk's loops.
var walkDefines = []define{
	{"ioff", "R12", "input byte offset of the current window (row of windows) in the sample"},
	{"ooff", "R13", "output byte offset of the current window (row of windows)"},
	{"orow", "R9", "rows of windows left"},
	{"ocol", "R10", "windows left in the row"},
}

// segment is a run [lo, hi) of output positions along one axis whose
// windows have the same kernel offsets [k0, k1) inside the input.
type segment struct{ lo, hi, k0, k1 int }

// segments splits the out positions of one axis into runs of windows with
// the same taps inside the input: the borders (padding) and the interior.
func segments(in, kernel, stride, pad, out int) []segment {
	var segs []segment
	for o := range out {
		first := o*stride - pad // input position of offset 0
		k0, k1 := max(0, -first), min(kernel, in-first)
		if n := len(segs); n > 0 && segs[n-1].k0 == k0 && segs[n-1].k1 == k1 {
			segs[n-1].hi++
			continue
		}
		segs = append(segs, segment{o, o + 1, k0, k1})
	}
	return segs
}

// walk is the loop nest over the windows of one sample: rows of windows in
// segments (a loop over each run of equal rows), and in each row the
// windows in segments likewise. ioff and ooff step through the input and
// the output; body gets the window's taps inside the input (pixel offsets
// kh·InW + kw from the window's origin) and the byte displacement di of
// the origin from ioff (the output window is at 0(…)(ooff*1)).
//
// With splitLast the last row of windows is a segment of its own, and body
// learns whether its windows are in it.
func (p PoolShape) walk(prefix string, splitLast bool, body func(taps []int, lastRow bool, di int) []insn) []poolWindow {
	C := 4 * p.Channels
	hs := segments(p.InH, p.KernelH, p.StrideH, p.PadTop, p.OutH)
	if last := hs[len(hs)-1]; splitLast && last.hi-last.lo > 1 {
		hs[len(hs)-1].hi--
		hs = append(hs, segment{last.hi - 1, last.hi, last.k0, last.k1})
	}
	g := walkGeom{
		hs:   hs,
		ws:   segments(p.InW, p.KernelW, p.StrideW, p.PadLeft, p.OutW),
		iRow: p.StrideH * p.InW * C, iCol: p.StrideW * C, oRow: p.OutW * C, oCol: C,
		shift: (p.PadTop*p.InW + p.PadLeft) * C,
	}
	return g.walk(prefix, func(h, w segment, di int) []insn {
		var taps []int
		for kh := h.k0; kh < h.k1; kh++ {
			for kw := w.k0; kw < w.k1; kw++ {
				taps = append(taps, kh*p.InW+kw)
			}
		}
		return body(taps, h.hi == p.OutH, di)
	})
}

// walkGeom is the geometry of a loop nest over the output pixels of one
// sample (see walk).
type walkGeom struct {
	hs, ws     []segment // rows and columns; a segment with k1 ≤ k0 is skipped
	iRow, iCol int       // ioff steps per output row and column, bytes
	oRow, oCol int       // ooff steps
	shift      int       // the origin of window (0, 0) is at ioff − shift
}

// walk emits the loops over the output pixels: rows in segments (a loop
// over each run of equal rows), and in each row the columns in segments
// likewise. ioff and ooff step through the input and the output; body gets
// the pixel's row and column segments and the byte displacement di of its
// window's origin from ioff (its output is at 0(…)(ooff*1)); it may return
// nil to skip the pixels (nothing to do there).
func (g walkGeom) walk(prefix string, body func(h, w segment, di int) []insn) []poolWindow {
	iRow, iCol, oRow, oCol, shift := g.iRow, g.iCol, g.oRow, g.oCol, g.shift
	add := func(out []insn, n int, reg string) []insn {
		if n != 0 {
			out = append(out, in("ADDQ", fmt.Sprintf("$%d", n), reg))
		}
		return out
	}
	span := func(s segment) string {
		if s.hi-s.lo == 1 {
			return fmt.Sprint(s.lo)
		}
		return fmt.Sprintf("%d..%d", s.lo, s.hi-1)
	}
	out := []poolWindow{{Insns: []insn{in("XORQ", "ioff", "ioff"), in("XORQ", "ooff", "ooff")}}}
	// pendI, pendO: row steps not yet added to ioff and ooff.
	pendI, pendO := 0, 0
	for hi, h := range g.hs {
		rowLabel := fmt.Sprintf("%s_row%d", prefix, hi)
		n := h.hi - h.lo
		if h.k1 <= h.k0 {
			pendI, pendO = pendI+n*iRow, pendO+n*oRow
			continue
		}
		// One row of pixels, ioff and ooff at the row's start (ow = 0).
		var row []poolWindow
		dI, dO := 0, 0 // ioff, ooff minus the row's start
		for wi, w := range g.ws {
			if w.k1 <= w.k0 {
				continue
			}
			what := fmt.Sprintf("pixels (%s, %s)", span(h), span(w))
			if w.hi-w.lo == 1 {
				code := body(h, w, w.lo*iCol-shift-dI)
				if code == nil {
					continue
				}
				var ins []insn
				ins = add(ins, w.lo*oCol-dO, "ooff")
				dO = w.lo * oCol
				row = append(row, poolWindow{Comment: what, Insns: append(ins, code...)})
				continue
			}
			code := body(h, w, -shift)
			if code == nil {
				continue
			}
			var pre []insn
			pre = add(pre, w.lo*iCol-dI, "ioff")
			pre = add(pre, w.lo*oCol-dO, "ooff")
			pre = append(pre, in("MOVQ", fmt.Sprintf("$%d", w.hi-w.lo), "ocol"))
			row = append(row, poolWindow{Comment: what, Insns: pre})
			label := fmt.Sprintf("%s_cols%d", rowLabel, wi)
			loop := append(code, in("ADDQ", fmt.Sprintf("$%d", iCol), "ioff"), in("ADDQ", fmt.Sprintf("$%d", oCol), "ooff"), in("DECQ", "ocol"), in("JNZ", label))
			row = append(row, poolWindow{Label: label, Insns: loop})
			dI, dO = w.hi*iCol, w.hi*oCol
		}
		if len(row) == 0 {
			pendI, pendO = pendI+n*iRow, pendO+n*oRow
			continue
		}
		// Catch up with the rows skipped before.
		var catch []insn
		catch = add(catch, pendI, "ioff")
		catch = add(catch, pendO, "ooff")
		if len(catch) > 0 {
			out = append(out, poolWindow{Insns: catch})
		}
		// On to the next row.
		var next []insn
		next = add(next, iRow-dI, "ioff")
		next = add(next, oRow-dO, "ooff")
		if n == 1 {
			out = append(out, row...)
			if hi < len(g.hs)-1 {
				out = append(out, poolWindow{Insns: next})
			}
			pendI, pendO = 0, 0
			continue
		}
		out = append(out, poolWindow{Insns: []insn{in("MOVQ", fmt.Sprintf("$%d", n), "orow")}})
		row[0].Label = rowLabel
		out = append(out, row...)
		out = append(out, poolWindow{Insns: append(next, in("DECQ", "orow"), in("JNZ", rowLabel))})
		pendI, pendO = 0, 0
	}
	return out
}
