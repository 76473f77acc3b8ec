package asm

import "fmt"

// inputTerm is one (output pixel, tap) pair that reads an input pixel.
type inputTerm struct{ out, tap int }

// inputTerms lists, for input pixel (ih, iw), the output pixels and kernel
// taps (kh·KernelW+kw) whose windows read it, in tap order.
func (c ConvShape) inputTerms(ih, iw int) []inputTerm {
	var terms []inputTerm
	for kh := range c.KernelH {
		t := ih + c.PadTop - kh
		if t < 0 || t%c.StrideH != 0 || t/c.StrideH >= c.OutH {
			continue
		}
		for kw := range c.KernelW {
			u := iw + c.PadLeft - kw
			if u < 0 || u%c.StrideW != 0 || u/c.StrideW >= c.OutW {
				continue
			}
			terms = append(terms, inputTerm{out: (t/c.StrideH)*c.OutW + u/c.StrideW, tap: kh*c.KernelW + kw})
		}
	}
	return terms
}

// inputGradTerms is the unrolled size of Conv2DBackwardInput per sample:
// len(inputTerms)·Filters summed over the input pixels. Every (output
// pixel, tap) pair that reads an input pixel is one of forwardTerms'
// valid taps, so the count is computed the same way, without listing the
// pairs; like forwardTerms it saturates at math.MaxInt.
func (c ConvShape) inputGradTerms() int {
	return saturatingProduct(validTaps(c.InH, c.KernelH, c.StrideH, c.PadTop, c.OutH), validTaps(c.InW, c.KernelW, c.StrideW, c.PadLeft, c.OutW), c.Filters)
}

// planConvInput plans Conv2DBackwardInput: accumulators for a few input
// pixels × the channel vectors; each term broadcasts one dy value and
// multiplies the transposed weight row (padded, so never masked) into them.
// The pixels' terms are interleaved so that their FMA chains overlap.
func planConvInput(cs convSpec, isa isaParams) *convCtx {
	s := cs.shape
	cvecs := (s.InC + isa.lanes - 1) / isa.lanes
	tail := s.InC % isa.lanes
	masked := func(v int) bool { return tail != 0 && v == cvecs-1 }
	maskReg := tail != 0 && isa.maskInReg
	C, CP, F := 4*s.InC, 4*PaddedStride(s.InC), 4*s.Filters
	ctx := &convCtx{
		Symbol:    cs.symbol + isa.suffix,
		GoDecl:    cs.asm().goDecl(isa),
		Requires:  isa.requires,
		Reference: cs.reference,
		What:      cs.what,
		ArgSize:   8 * len(cs.args),
		Bcast:     isa.reg(isa.regs - 1),
		Prefix:    cs.symbol,
	}
	free := isa.regs - 1
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
	ctx.Loads = []argLoad{{"MOVQ", argOff("dx"), "dx_s"}, {"MOVQ", argOff("dy"), "dy_s"}, {"MOVQ", argOff("wt"), "wt_base"}}
	ctx.Defines = []define{{"dx_s", "CX", "dx: current sample"}, {"dy_s", "AX", "dy: current sample"}, {"wt_base", "BX", "wt"}}
	inStep, outStep := 4*s.InH*s.InW*s.InC, 4*s.OutH*s.OutW*s.Filters
	ctx.Advance = []advance{{"dx_s", inStep}, {"dy_s", outStep}}
	zero := isa.reg(free - 1)
	if cs.relu {
		ctx.Loads = append(ctx.Loads, argLoad{"MOVQ", argOff("h"), "h_s"})
		ctx.Defines = append(ctx.Defines, define{"h_s", "DX", "h (the gate): current sample"})
		ctx.Advance = append(ctx.Advance, advance{"h_s", inStep})
		ctx.Setup = append(ctx.Setup, vecOp{Op: "VXORPS", Addr: zero + ", " + zero, Reg: zero})
		free--
	}
	P := max(1, min(8, free/cvecs))
	acc := func(p, v int) string { return isa.reg(p*cvecs + v) }
	vOff := func(v int) int { return 4 * v * isa.lanes }
	store := func(v int, reg, addr string) vecOp {
		switch {
		case !masked(v):
			return vecOp{Op: "VMOVUPS", Addr: addr, Reg: reg}
		case isa.maskInReg:
			return vecOp{Op: "VMASKMOVPS", Addr: addr, Mask: "mask", Reg: reg}
		}
		return vecOp{Op: "VMOVUPS", Addr: addr, Mask: "K1", Reg: reg}
	}
	pass := convPass{Label: cs.symbol + "_sample"}
	var pixels [][2]int
	for ih := range s.InH {
		for iw := range s.InW {
			pixels = append(pixels, [2]int{ih, iw})
		}
	}
	for g0 := 0; g0 < len(pixels); g0 += P {
		grp := pixels[g0:min(g0+P, len(pixels))]
		cg := convGroup{Comment: fmt.Sprintf("input pixels (%d,%d)..(%d,%d)", grp[0][0], grp[0][1], grp[len(grp)-1][0], grp[len(grp)-1][1])}
		terms := make([][]convStep, len(grp))
		for p, px := range grp {
			for v := range cvecs {
				cg.Inits = append(cg.Inits, vecOp{Op: "VXORPS", Addr: acc(p, v) + ", " + acc(p, v), Reg: acc(p, v)})
			}
			for _, t := range s.inputTerms(px[0], px[1]) {
				for f := range s.Filters {
					st := convStep{Addr: fmt.Sprintf("%d(dy_s)", t.out*F+4*f)}
					for v := range cvecs {
						st.Ops = append(st.Ops, vec3{Op: "VFMADD231PS", Src: fmt.Sprintf("%d(wt_base)", (t.tap*s.Filters+f)*CP+vOff(v)), Mid: "bcast", Dst: acc(p, v)})
					}
					terms[p] = append(terms[p], st)
				}
			}
		}
		for i := 0; ; i++ {
			any := false
			for p := range grp {
				if i < len(terms[p]) {
					cg.Steps = append(cg.Steps, terms[p][i])
					any = true
				}
			}
			if !any {
				break
			}
		}
		for p, px := range grp {
			for v := range cvecs {
				a := acc(p, v)
				addr := fmt.Sprintf("%d(dx_s)", (px[0]*s.InW+px[1])*C+vOff(v))
				if cs.relu {
					hAddr := fmt.Sprintf("%d(h_s)", (px[0]*s.InW+px[1])*C+vOff(v))
					tmp := ctx.Bcast // free once the terms are done
					switch {
					case isa.maskInReg && masked(v):
						cg.Gate = append(cg.Gate, in("VMASKMOVPS", hAddr, "mask", tmp), in("VCMPPS", "$1", tmp, zero, tmp), in("VANDPS", tmp, a, a))
					case isa.maskInReg:
						cg.Gate = append(cg.Gate, in("VCMPPS", "$1", hAddr, zero, tmp), in("VANDPS", tmp, a, a))
					case masked(v):
						cg.Gate = append(cg.Gate, in("VCMPPS", "$1", hAddr, zero, "K1", "K2"), in("VMOVAPS.Z", a, "K2", a))
					default:
						cg.Gate = append(cg.Gate, in("VCMPPS", "$1", hAddr, zero, "K2"), in("VMOVAPS.Z", a, "K2", a))
					}
				}
				cg.Stores = append(cg.Stores, store(v, a, addr))
			}
		}
		pass.Groups = append(pass.Groups, cg)
	}
	ctx.Passes = []convPass{pass}
	return ctx
}
