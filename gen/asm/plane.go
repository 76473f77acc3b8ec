package asm

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// PlaneConv2DForward (see Op) is a stride-1 convolution of a one-channel
// input, vectorised across the pixels of an output row rather than across
// the filters. A network's first layer on a grey image has one input
// channel and few filters (LeNet-5: 6): as a GEMM on the im2col matrix it
// fills 6 of a vector's 8 lanes and first copies 25 floats per output
// pixel, runs of 5 that no vector fits, and the copy cost as much as the
// GEMM. Here each vector holds 8 output pixels of one filter: per tap, one
// unaligned load of the input row (the window's pixels are consecutive
// floats) serves every filter's broadcast weight, so there is no im2col and
// every lane does useful work but in a row's last vector. The
// accumulators of a vector's filters are then transposed in registers
// (VUNPCKLPS/VUNPCKHPS, VSHUFPS) into the HWC layout, each pixel's F
// values stored in pieces of 4, 2 and 1 floats, so that no store reaches
// another pixel or past the output.
//
// The input is the zero-bordered copy of the layer's input that the im2col
// path keeps (Conv's InH×InW is its size, without padding), with PlaneSlack
// floats after it: a row's last vector reads up to 7 floats past the
// window, into the next row or the slack, for lanes that are never stored.
// The shape is constant: one TEXT per layer (AVX2 only: its vectors are
// the pixels, but its width is the filters', at most 8, which the
// narrow-kernel rule of runsOn reads).

// MaxPlaneFilters is the most filters PlaneConv2DForward takes: one
// vector's accumulators per filter, with the input vectors and the
// broadcast, in AVX2's 16 registers.
const MaxPlaneFilters = 8

// planeLanes is the pixels per vector (AVX2's lanes).
const planeLanes = 8

// PlaneSlack is the number of floats that PlaneConv2DForward may read after
// the input plane of shape c (InH×InW floats): the input array it takes
// holds them (their values are never stored).
func PlaneSlack(c ConvShape) int {
	vecs := (c.OutW + planeLanes - 1) / planeLanes
	last := (c.OutH-1+c.KernelH-1)*c.InW + planeLanes*(vecs-1) + c.KernelW - 1 + planeLanes - 1
	return max(0, last+1-c.InH*c.InW)
}

func (c ConvShape) validatePlane() error {
	for _, v := range []int{c.InH, c.InW, c.KernelH, c.KernelW, c.OutH, c.OutW, c.Filters} {
		if v < 1 {
			return fmt.Errorf("sizes must be ≥ 1: %+v", c)
		}
	}
	if c.InC != 1 || c.StrideH != 1 || c.StrideW != 1 || c.PadTop != 0 || c.PadLeft != 0 {
		return fmt.Errorf("needs one input channel, stride 1 and no padding (the input is already padded): %+v", c)
	}
	if c.Filters > MaxPlaneFilters {
		return fmt.Errorf("supports at most %d filters, got %d", MaxPlaneFilters, c.Filters)
	}
	if c.OutH+c.KernelH-1 > c.InH || c.OutW+c.KernelW-1 > c.InW {
		return fmt.Errorf("the %dx%d output's windows reach past the %dx%d input", c.OutH, c.OutW, c.InH, c.InW)
	}
	if int64(c.InH)*int64(c.InW) > 1<<24 || int64(c.OutH)*int64(c.OutW)*int64(c.Filters) > 1<<24 {
		return fmt.Errorf("the input or the output is too large")
	}
	return nil
}

// planeSpec is one PlaneConv2DForward kernel.
type planeSpec struct {
	symbol    string
	shape     ConvShape
	relu      bool
	what      []string
	reference string
}

// planeArgs are the TEXT symbol's arguments, the dispatcher's parameters.
var planeArgs = []string{"y", "x", "w", "b"}

func (p planeSpec) asm() asmFunc { return asmFunc{symbol: p.symbol, args: planeArgs} }

// planes lists the PlaneConv2DForward kernels that implement k.
func (k Kernel) planes() []planeSpec {
	if k.Op != PlaneConv2DForward {
		return nil
	}
	c := k.Conv
	act, end := "", ""
	if k.ReLU {
		act, end = "max(0, ", ")"
	}
	return []planeSpec{{
		symbol: k.Name, shape: c, relu: k.ReLU, reference: k.Name + "Go",
		what: []string{
			fmt.Sprintf("y[oh][ow][f] = %sb[f] + Σ_{kh,kw} x[oh+kh][ow+kw]·w[kh][kw][f]%s   (%dx%d input plane, %dx%d kernel, %dx%dx%d output)",
				act, end, c.InH, c.InW, c.KernelH, c.KernelW, c.OutH, c.OutW, c.Filters),
			"Vectorised across the pixels of an output row (8 per vector, the filters'",
			"accumulators side by side), transposed in registers into HWC.",
		},
	}}
}

// planeBlocks is the register blocking of a PlaneConv2DForward kernel of
// shape c: the pixel vectors of an output row in blocks, as even as
// possible (partition), of at most perBlock vectors, a block holding
// perBlock·F accumulators, perBlock input vectors and the broadcast in
// AVX2's 16 registers.
func planeBlocks(c ConvShape) []int {
	vecs := (c.OutW + planeLanes - 1) / planeLanes
	perBlock := max(1, (isas[0].regs-1)/(c.Filters+1))
	return partition(vecs, perBlock, func(int, bool) bool { return true })
}

// planPlane makes every decision of PlaneConv2DForward kernel p for isa
// (AVX2: the only TEXT, see textISAs).
func planPlane(p planeSpec, isa isaParams) *flatCtx {
	c := p.shape
	F := c.Filters
	arg := func(name string) string { return argAt(planeArgs, name) }
	ctx := &flatCtx{
		Symbol:    p.symbol + isa.suffix,
		GoDecl:    p.asm().goDecl(isa),
		Requires:  isa.requires,
		Reference: p.reference,
		What:      p.what,
		ArgSize:   8 * len(planeArgs),
		Defines: []define{
			{"pl_y", "AX", "y: current output row"}, {"pl_x", "BX", "x: current output row's first input row"},
			{"pl_w", "CX", "w"}, {"pl_b", "DX", "b"}, {"pl_rows", "SI", "output rows left"},
			{"pl_xp", "DI", "x: current kernel row"}, {"pl_wp", "R8", "w: current kernel row"}, {"pl_kh", "R9", "kernel rows left"},
		},
	}
	reg := isa.reg
	xreg := func(r string) string { return "X" + r[1:] }
	blocks := planeBlocks(c)
	b := []poolWindow{{Insns: []insn{
		in("MOVQ", arg("y"), "pl_y"), in("MOVQ", arg("x"), "pl_x"), in("MOVQ", arg("w"), "pl_w"), in("MOVQ", arg("b"), "pl_b"),
		in("MOVQ", fmt.Sprintf("$%d", c.OutH), "pl_rows"),
	}}}
	rowL := p.symbol + "_row"
	v0 := 0
	for bi, pv := range blocks {
		// Registers: accumulators acc(i, f) from 0, the input vectors,
		// then the broadcast.
		acc := func(i, f int) string { return reg(i*F + f) }
		input := func(i int) string { return reg(pv*F + i) }
		bcast := reg(pv*F + pv)
		ox := func(i int) int { return planeLanes * (v0 + i) }
		head := poolWindow{Comment: fmt.Sprintf("pixels %d to %d of the row: %d vector(s) × %d filter(s)", ox(0), min(c.OutW, ox(pv-1)+planeLanes)-1, pv, F)}
		if bi == 0 {
			head.Label = rowL
		}
		for f := range F {
			head.Insns = append(head.Insns, in("VBROADCASTSS", fmt.Sprintf("%d(pl_b)", 4*f), acc(0, f)))
			for i := 1; i < pv; i++ {
				head.Insns = append(head.Insns, in("VMOVAPS", acc(0, f), acc(i, f)))
			}
		}
		head.Insns = append(head.Insns, in("MOVQ", "pl_x", "pl_xp"), in("MOVQ", "pl_w", "pl_wp"), in("MOVQ", fmt.Sprintf("$%d", c.KernelH), "pl_kh"))
		b = append(b, head)
		loop := poolWindow{Label: fmt.Sprintf("%s_b%d_kh", p.symbol, bi)}
		for kw := range c.KernelW {
			for i := range pv {
				loop.Insns = append(loop.Insns, in("VMOVUPS", fmt.Sprintf("%d(pl_xp)", 4*(ox(i)+kw)), input(i)))
			}
			for f := range F {
				loop.Insns = append(loop.Insns, in("VBROADCASTSS", fmt.Sprintf("%d(pl_wp)", 4*(kw*F+f)), bcast))
				for i := range pv {
					loop.Insns = append(loop.Insns, in("VFMADD231PS", input(i), bcast, acc(i, f)))
				}
			}
		}
		loop.Insns = append(loop.Insns,
			in("ADDQ", fmt.Sprintf("$%d", 4*c.InW), "pl_xp"), in("ADDQ", fmt.Sprintf("$%d", 4*c.KernelW*F), "pl_wp"),
			in("DECQ", "pl_kh"), in("JNZ", loop.Label))
		b = append(b, loop)
		tail := poolWindow{}
		if p.relu {
			zero := bcast
			tail.Insns = append(tail.Insns, insn{Op: "VXORPS", Args: zero + ", " + zero + ", " + zero, Comment: "ReLU: Go's max(x, 0), NaN kept, −0 made +0"})
			for i := range pv {
				for f := range F {
					tail.Insns = append(tail.Insns, in("VMAXPS", acc(i, f), zero, acc(i, f)), in("VADDPS", zero, acc(i, f), acc(i, f)))
				}
			}
		}
		// The transposes: temporaries are the input registers and the
		// broadcast, free after the loop (at least two).
		t0, t1 := input(0), bcast
		for i := range pv {
			px := min(planeLanes, c.OutW-ox(i)) // pixels stored
			at := func(pix, f int) string { return fmt.Sprintf("%d(pl_y)", 4*((ox(i)+pix)*F+f)) }
			for g := 0; g < F; {
				switch {
				case F-g >= 4:
					a, bb, cc, d := acc(i, g), acc(i, g+1), acc(i, g+2), acc(i, g+3)
					tail.Insns = append(tail.Insns,
						insn{Op: "VUNPCKLPS", Args: bb + ", " + a + ", " + t0, Comment: fmt.Sprintf("filters %d to %d: 4×8 transpose", g, g+3)},
						in("VUNPCKHPS", bb, a, a), in("VUNPCKLPS", d, cc, bb), in("VUNPCKHPS", d, cc, cc),
						in("VSHUFPS", "$0x44", bb, t0, d), in("VSHUFPS", "$0xEE", bb, t0, t0),
						in("VSHUFPS", "$0x44", cc, a, bb), in("VSHUFPS", "$0xEE", cc, a, a))
					// Pixel j (and j+4 in the upper half) is in rows[j].
					rows := []string{d, t0, bb, a}
					for j := range 4 {
						if j < px {
							tail.Insns = append(tail.Insns, in("VMOVUPS", xreg(rows[j]), at(j, g)))
						}
						if j+4 < px {
							tail.Insns = append(tail.Insns, in("VEXTRACTF128", "$1", rows[j], at(j+4, g)))
						}
					}
					g += 4
				case F-g >= 2:
					a, bb := acc(i, g), acc(i, g+1)
					tail.Insns = append(tail.Insns,
						insn{Op: "VUNPCKLPS", Args: bb + ", " + a + ", " + t0, Comment: fmt.Sprintf("filters %d and %d: 2×8 transpose", g, g+1)},
						in("VUNPCKHPS", bb, a, bb))
					// Pixels 0, 1 (4, 5 above) in t0; 2, 3 (6, 7) in bb.
					for half := range 2 {
						lo, hi := t0, bb
						if half == 1 {
							if px <= 4 {
								break
							}
							tail.Insns = append(tail.Insns, in("VEXTRACTF128", "$1", t0, xreg(a)), in("VEXTRACTF128", "$1", bb, xreg(t1)))
							lo, hi = a, t1
						}
						for j, r := range []string{lo, lo, hi, hi} {
							pix := 4*half + j
							if pix >= px {
								break
							}
							op := "VMOVSD"
							if j%2 == 1 {
								op = "VMOVHPS"
							}
							tail.Insns = append(tail.Insns, in(op, xreg(r), at(pix, g)))
						}
					}
					g += 2
				default:
					a := acc(i, g)
					tail.Insns = append(tail.Insns, insn{Op: "VMOVSS", Args: xreg(a) + ", " + at(0, g), Comment: fmt.Sprintf("filter %d: one float per pixel", g)})
					for j := 1; j < min(4, px); j++ {
						tail.Insns = append(tail.Insns, in("VEXTRACTPS", fmt.Sprintf("$%d", j), xreg(a), at(j, g)))
					}
					if px > 4 {
						tail.Insns = append(tail.Insns, in("VEXTRACTF128", "$1", a, xreg(t0)), in("VMOVSS", xreg(t0), at(4, g)))
						for j := 5; j < px; j++ {
							tail.Insns = append(tail.Insns, in("VEXTRACTPS", fmt.Sprintf("$%d", j-4), xreg(t0), at(j, g)))
						}
					}
					g++
				}
			}
		}
		b = append(b, tail)
		v0 += pv
	}
	b = append(b, poolWindow{Insns: []insn{
		in("ADDQ", fmt.Sprintf("$%d", 4*c.InW), "pl_x"), in("ADDQ", fmt.Sprintf("$%d", 4*c.OutW*F), "pl_y"),
		in("DECQ", "pl_rows"), in("JNZ", rowL),
	}})
	ctx.Blocks = b
	return ctx
}

// planeRefBody is the reference of PlaneConv2DForward: per output pixel,
// the bias, then the taps in row-major order.
func (k Kernel) planeRefBody() []jen.Code {
	c := k.Conv
	F := c.Filters
	body := []jen.Code{
		jen.Id("acc").Op(":=").Op("*").Id("b"),
		jen.For(jen.Id("kh").Op(":=").Range().Lit(c.KernelH)).Block(
			jen.For(jen.Id("kw").Op(":=").Range().Lit(c.KernelW)).Block(
				jen.Id("v").Op(":=").Id("x").Index(jen.Parens(jen.Id("oh").Op("+").Id("kh")).Op("*").Lit(c.InW).Op("+").Id("ow").Op("+").Id("kw")),
				jen.Id("wt").Op(":=").Parens(jen.Op("*").Index(jen.Lit(F)).Float32()).Call(jen.Id("w").Index(jen.Parens(jen.Id("kh").Op("*").Lit(c.KernelW).Op("+").Id("kw")).Op("*").Lit(F).Op(":"))),
				jen.For(jen.Id("f").Op(":=").Range().Id("acc")).Block(jen.Id("acc").Index(jen.Id("f")).Op("+=").Id("v").Op("*").Id("wt").Index(jen.Id("f"))),
			),
		),
	}
	if k.ReLU {
		body = append(body, jen.For(jen.List(jen.Id("f"), jen.Id("a")).Op(":=").Range().Id("acc")).Block(
			jen.Id("acc").Index(jen.Id("f")).Op("=").Max(jen.Id("a"), jen.Lit(0))))
	}
	body = append(body, jen.Op("*").Parens(jen.Op("*").Index(jen.Lit(F)).Float32()).Call(
		jen.Id("y").Index(jen.Parens(jen.Id("oh").Op("*").Lit(c.OutW).Op("+").Id("ow")).Op("*").Lit(F).Op(":"))).Op("=").Id("acc"))
	return []jen.Code{
		jen.For(jen.Id("oh").Op(":=").Range().Lit(c.OutH)).Block(
			jen.For(jen.Id("ow").Op(":=").Range().Lit(c.OutW)).Block(body...),
		),
	}
}
