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

func (p poolSpec) asm() asmFunc { return asmFunc{p.symbol, p.args, p.counts} }

// poolCtx is the context of the "pool" template.
type poolCtx struct {
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

type poolWindow struct {
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
		ctx.Defines = []define{{"x_s", "AX", "x: current sample"}, {"y_s", "CX", "y: current sample"}}
		ctx.Advance = []advance{{"x_s", inStep}, {"y_s", outStep}}
		i := 0
		for oh := range p.OutH {
			for ow := range p.OutW {
				taps := p.windowTaps(oh, ow)
				w := poolWindow{Comment: fmt.Sprintf("window (%d,%d): %d taps", oh, ow, len(taps))}
				for v := range cvecs {
					acc := isa.reg(i % 8) // rotate, so windows overlap in flight
					tmp := isa.reg(8 + i%4)
					nan := isa.reg(12 + i%2) // AVX2: all ones in the lanes that saw a NaN
					w.Insns = append(w.Insns, load(v, fmt.Sprintf("%d(x_s)", taps[0]*C+vOff(v)), acc))
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
					i++
					if len(taps) > 1 {
						switch {
						case z && masked(v):
							w.Insns = append(w.Insns, insn{Op: "VCMPPS", Args: strings.Join([]string{"$7", acc, acc, "K1", ok}, ", "), Comment: "ok: the lanes without a NaN"})
						case z:
							w.Insns = append(w.Insns, insn{Op: "VCMPPS", Args: strings.Join([]string{"$7", acc, acc, ok}, ", "), Comment: "ok: the lanes without a NaN"})
						default:
							w.Insns = append(w.Insns, insn{Op: "VCMPPS", Args: strings.Join([]string{"$3", acc, acc, nan}, ", "), Comment: "nan: the lanes with a NaN"})
						}
					}
					for _, t := range taps[1:] {
						addr := fmt.Sprintf("%d(x_s)", t*C+vOff(v))
						switch {
						case !masked(v) && z:
							w.Insns = append(w.Insns, in("VCMPPS", "$7", addr, acc, ok, ok), in("VMAXPS", addr, acc, acc))
						case z:
							w.Insns = append(w.Insns, in("VCMPPS", "$7", addr, acc, ok, ok), in("VMAXPS", addr, acc, "K1", acc))
						case !masked(v):
							w.Insns = append(w.Insns, in("VMAXPS", addr, acc, acc), in("VCMPPS", "$3", addr, nan, nan))
						default:
							w.Insns = append(w.Insns, in("VMASKMOVPS", addr, maskReg, tmp), in("VMAXPS", tmp, acc, acc), in("VCMPPS", "$3", tmp, nan, nan))
						}
					}
					if len(taps) > 1 {
						if z {
							w.Insns = append(w.Insns, in("KNOTW", ok, ok), insn{Op: "VPTERNLOGD", Args: strings.Join([]string{"$0xff", acc, acc, ok, acc}, ", "), Comment: "NaN (all ones) where a tap was NaN"})
						} else {
							w.Insns = append(w.Insns, insn{Op: "VORPS", Args: strings.Join([]string{nan, acc, acc}, ", "), Comment: "NaN (all ones) where a tap was NaN"})
						}
					}
					w.Insns = append(w.Insns, store(v, acc, fmt.Sprintf("%d(y_s)", (oh*p.OutW+ow)*C+vOff(v))))
				}
				ctx.Windows = append(ctx.Windows, w)
			}
		}
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
	ctx.Advance = []advance{{"x_s", inStep}, {"dx_s", inStep}, {"y_s", outStep}, {"dy_s", outStep}}
	ctx.Setup = append(ctx.Setup, in("VXORPS", zero, zero, zero))
	tiled := p.tiled()
	if !tiled {
		// Inputs outside every window, or under several, need dx zeroed
		// first and the gradients added.
		w := poolWindow{Comment: "dx = 0"}
		for px := range p.InH * p.InW {
			for v := range cvecs {
				w.Insns = append(w.Insns, store(v, zero, fmt.Sprintf("%d(dx_s)", px*C+vOff(v))))
			}
		}
		ctx.Windows = append(ctx.Windows, w)
	}
	i := 0
	for oh := range p.OutH {
		for ow := range p.OutW {
			taps := p.windowTaps(oh, ow)
			w := poolWindow{Comment: fmt.Sprintf("window (%d,%d): the first maximum of %d taps takes dy", oh, ow, len(taps))}
			for v := range cvecs {
				set := i % 2
				i++
				pix := (oh*p.OutW+ow)*C + vOff(v)
				if z {
					y, g, t := isa.reg(3*set), isa.reg(3*set+1), isa.reg(3*set+2)
					free, hit := fmt.Sprintf("K%d", 2+2*set), fmt.Sprintf("K%d", 3+2*set)
					w.Insns = append(w.Insns, load(v, fmt.Sprintf("%d(y_s)", pix), y), load(v, fmt.Sprintf("%d(dy_s)", pix), g))
					switch {
					case ps.relu && masked(v):
						w.Insns = append(w.Insns, insn{Op: "VCMPPS", Args: strings.Join([]string{"$14", zero, y, "K1", free}, ", "), Comment: "free: lanes with y > 0 (ReLU)"})
					case ps.relu:
						w.Insns = append(w.Insns, insn{Op: "VCMPPS", Args: strings.Join([]string{"$14", zero, y, free}, ", "), Comment: "free: lanes with y > 0 (ReLU)"})
					case masked(v):
						w.Insns = append(w.Insns, in("KMOVW", "K1", free))
					default:
						w.Insns = append(w.Insns, insn{Op: "KXNORW", Args: strings.Join([]string{"K0", "K0", free}, ", "), Comment: "free: every lane"})
					}
					for ti, tp := range taps {
						addr := fmt.Sprintf("%d(x_s)", tp*C+vOff(v))
						dxAddr := fmt.Sprintf("%d(dx_s)", tp*C+vOff(v))
						w.Insns = append(w.Insns, insn{Op: "VCMPPS", Args: strings.Join([]string{"$0", addr, y, free, hit}, ", "), Comment: "hit: free lanes where x == y"})
						if ti < len(taps)-1 {
							w.Insns = append(w.Insns, in("KANDNW", free, hit, free))
						}
						if tiled {
							w.Insns = append(w.Insns, in("VMOVUPS.Z", g, hit, t), store(v, t, dxAddr))
						} else {
							w.Insns = append(w.Insns, in("VADDPS.Z", dxAddr, g, hit, t), in("VMOVUPS", t, hit, dxAddr))
						}
					}
					continue
				}
				y, g, f, h, t, d := isa.reg(6*set), isa.reg(6*set+1), isa.reg(6*set+2), isa.reg(6*set+3), isa.reg(6*set+4), isa.reg(6*set+5)
				w.Insns = append(w.Insns, load(v, fmt.Sprintf("%d(y_s)", pix), y), load(v, fmt.Sprintf("%d(dy_s)", pix), g))
				if ps.relu {
					w.Insns = append(w.Insns, insn{Op: "VCMPPS", Args: strings.Join([]string{"$14", zero, y, f}, ", "), Comment: "free: lanes with y > 0 (ReLU)"})
				} else {
					w.Insns = append(w.Insns, insn{Op: "VCMPPS", Args: strings.Join([]string{"$0", y, y, f}, ", "), Comment: "free: every lane"})
				}
				for ti, tp := range taps {
					addr := fmt.Sprintf("%d(x_s)", tp*C+vOff(v))
					dxAddr := fmt.Sprintf("%d(dx_s)", tp*C+vOff(v))
					if masked(v) {
						w.Insns = append(w.Insns, load(v, addr, t), in("VCMPPS", "$0", t, y, h))
					} else {
						w.Insns = append(w.Insns, in("VCMPPS", "$0", addr, y, h))
					}
					w.Insns = append(w.Insns, insn{Op: "VANDPS", Args: strings.Join([]string{f, h, h}, ", "), Comment: "hit: free lanes where x == y"})
					if ti < len(taps)-1 {
						w.Insns = append(w.Insns, in("VANDNPS", f, h, f))
					}
					w.Insns = append(w.Insns, in("VANDPS", g, h, t))
					if !tiled {
						w.Insns = append(w.Insns, load(v, dxAddr, d), in("VADDPS", t, d, t))
					}
					w.Insns = append(w.Insns, store(v, t, dxAddr))
				}
			}
			ctx.Windows = append(ctx.Windows, w)
		}
	}
	return ctx
}
