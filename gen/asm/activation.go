package asm

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// ReLUForward (see Op) is one loop over slices of any length, four
// vectors at a time, then single vectors, then the tail (masked on
// AVX-512, element by element on AVX2). It computes Go's max(v, 0): VMAXPS
// returns its second source when either is NaN, which the operand order
// makes the value (NaN kept), and the sum with +0 turns a −0 into +0.

// reluArgs are the TEXT symbol's arguments.
var reluArgs = []string{"y", "x", "n"}

// reluSpec is one ReLUForward kernel.
type reluSpec struct {
	symbol    string
	reference string
}

func (r reluSpec) asm() asmFunc {
	return asmFunc{symbol: r.symbol, args: reluArgs, counts: reluArgs[2:], values: map[string]jen.Code{"n": jen.Len(jen.Id("y"))}}
}

// relus lists the ReLU kernels that implement k.
func (k Kernel) relus() []reluSpec {
	if k.Op != ReLUForward {
		return nil
	}
	return []reluSpec{{symbol: k.Name, reference: k.Name + "Go"}}
}

// planReLU plans the loop for one ISA.
func planReLU(r reluSpec, isa isaParams) *flatCtx {
	z := isa.suffix == "AVX512"
	vb := 4 * isa.lanes
	zero := isa.reg(isa.regs - 1)
	ctx := sharedCtx(r.asm(), isa, r.reference, []string{
		"y[i] = max(x[i], 0)   i < n (NaN kept, −0 made +0; y may be x)",
		"Four vectors at a time, then one, then the tail.",
	}, []define{{"relu_y", "DI", "y: next value"}, {"relu_x", "SI", "x: next value"}, {"relu_n", "CX", "values left"}})

	relu := func(reg string) []insn {
		return []insn{in("VMAXPS", reg, zero, reg), in("VADDPS", zero, reg, reg)}
	}
	four, one, tail, done := r.symbol+"_four", r.symbol+"_one", r.symbol+"_tail", r.symbol+"_done"
	b := []poolWindow{{Insns: []insn{
		in("MOVQ", "y+0(FP)", "relu_y"), in("MOVQ", "x+8(FP)", "relu_x"), in("MOVQ", "n+16(FP)", "relu_n"),
		insn{Op: "VXORPS", Args: joinArgs(zero, zero, zero), Comment: "+0"},
	}}}
	loop := poolWindow{Label: four, Insns: []insn{in("CMPQ", "relu_n", fmt.Sprintf("$%d", 4*isa.lanes)), in("JLT", one)}}
	for v := range 4 {
		reg := isa.reg(v)
		loop.Insns = append(loop.Insns, in("VMOVUPS", fmt.Sprintf("%d(relu_x)", v*vb), reg))
		loop.Insns = append(loop.Insns, relu(reg)...)
		loop.Insns = append(loop.Insns, in("VMOVUPS", reg, fmt.Sprintf("%d(relu_y)", v*vb)))
	}
	loop.Insns = append(loop.Insns, in("ADDQ", fmt.Sprintf("$%d", 4*vb), "relu_y"), in("ADDQ", fmt.Sprintf("$%d", 4*vb), "relu_x"), in("SUBQ", fmt.Sprintf("$%d", 4*isa.lanes), "relu_n"), in("JMP", four))
	single := poolWindow{Label: one, Insns: []insn{in("CMPQ", "relu_n", fmt.Sprintf("$%d", isa.lanes)), in("JLT", tail), in("VMOVUPS", "(relu_x)", isa.reg(0))}}
	single.Insns = append(single.Insns, relu(isa.reg(0))...)
	single.Insns = append(single.Insns, in("VMOVUPS", isa.reg(0), "(relu_y)"), in("ADDQ", fmt.Sprintf("$%d", vb), "relu_y"), in("ADDQ", fmt.Sprintf("$%d", vb), "relu_x"), in("SUBQ", fmt.Sprintf("$%d", isa.lanes), "relu_n"), in("JMP", one))
	last := poolWindow{Label: tail, Insns: []insn{in("TESTQ", "relu_n", "relu_n"), in("JZ", done)}}
	if z {
		last.Comment = "K1: the last n < 16 lanes"
		last.Insns = append(last.Insns,
			in("MOVL", "$1", "AX"), in("SHLL", "CX", "AX"), in("DECL", "AX"), in("KMOVW", "AX", "K1"),
			in("VMOVUPS.Z", "(relu_x)", "K1", isa.reg(0)))
		last.Insns = append(last.Insns, relu(isa.reg(0))...)
		last.Insns = append(last.Insns, in("VMOVUPS", isa.reg(0), "K1", "(relu_y)"))
		b = append(b, loop, single, last, poolWindow{Label: done})
	} else {
		last.Comment = "the last n < 8 values, one at a time"
		x0, xz := "X0", "X"+zero[1:]
		elem := poolWindow{Label: r.symbol + "_elem", Insns: []insn{
			in("VMOVSS", "(relu_x)", x0), in("VMAXSS", x0, xz, x0), in("VADDSS", xz, x0, x0), in("VMOVSS", x0, "(relu_y)"),
			in("ADDQ", "$4", "relu_y"), in("ADDQ", "$4", "relu_x"), in("DECQ", "relu_n"), in("JNZ", r.symbol+"_elem"),
		}}
		b = append(b, loop, single, last, elem, poolWindow{Label: done})
	}
	ctx.Blocks = b
	return ctx
}

// reluBackArgs are ReLUBackward's TEXT arguments.
var reluBackArgs = []string{"dx", "dy", "y", "n"}

// reluBackSpec is one ReLUBackward kernel.
type reluBackSpec struct {
	symbol    string
	reference string
}

func (r reluBackSpec) asm() asmFunc {
	return asmFunc{symbol: r.symbol, args: reluBackArgs, counts: reluBackArgs[3:], values: map[string]jen.Code{"n": jen.Len(jen.Id("dx"))}}
}

// reluBacks lists the ReLU gradient kernels that implement k.
func (k Kernel) reluBacks() []reluBackSpec {
	if k.Op != ReLUBackward {
		return nil
	}
	return []reluBackSpec{{symbol: k.Name, reference: k.Name + "Go"}}
}

// planReLUBack plans ReLUBackward for one ISA: a compare with +0 per
// vector (false for NaN), which keeps dy's bits or gives +0.
func planReLUBack(r reluBackSpec, isa isaParams) *flatCtx {
	z := isa.suffix == "AVX512"
	vb := 4 * isa.lanes
	zero := isa.reg(isa.regs - 1)
	ctx := sharedCtx(r.asm(), isa, r.reference, []string{"dx[i] = dy[i] where y[i] > 0, +0 elsewhere (NaN y included)   i < n", "Two vectors at a time, then one, then the tail."}, []define{{"rb_dx", "DI", "dx: next value"}, {"rb_dy", "SI", "dy"}, {"rb_y", "BX", "y"}, {"rb_n", "CX", "values left"}})

	// gate gates the vector at offset off (bytes) with registers v, m.
	gate := func(off int, v, m string, masked bool) []insn {
		addr := func(base string) string { return fmt.Sprintf("%d(%s)", off, base) }
		if z {
			// K2: the lanes with 0 < y ($1, LT_OS: false for NaN).
			k := "K2"
			if masked {
				return []insn{in("VMOVUPS.Z", addr("rb_y"), "K1", v), in("VCMPPS", "$1", v, zero, "K1", k), in("VMOVUPS.Z", addr("rb_dy"), k, v), in("VMOVUPS", v, "K1", addr("rb_dx"))}
			}
			return []insn{in("VCMPPS", "$1", addr("rb_y"), zero, k), in("VMOVUPS.Z", addr("rb_dy"), k, v), in("VMOVUPS", v, addr("rb_dx"))}
		}
		return []insn{in("VCMPPS", "$1", addr("rb_y"), zero, m), in("VANDPS", addr("rb_dy"), m, v), in("VMOVUPS", v, addr("rb_dx"))}
	}
	two, one, tail, done := r.symbol+"_two", r.symbol+"_one", r.symbol+"_tail", r.symbol+"_done"
	adv := func(bytes int) []insn {
		return []insn{in("ADDQ", fmt.Sprintf("$%d", bytes), "rb_dx"), in("ADDQ", fmt.Sprintf("$%d", bytes), "rb_dy"), in("ADDQ", fmt.Sprintf("$%d", bytes), "rb_y")}
	}
	b := []poolWindow{{Insns: []insn{
		in("MOVQ", "dx+0(FP)", "rb_dx"), in("MOVQ", "dy+8(FP)", "rb_dy"), in("MOVQ", "y+16(FP)", "rb_y"), in("MOVQ", "n+24(FP)", "rb_n"),
		insn{Op: "VXORPS", Args: joinArgs(zero, zero, zero), Comment: "+0"},
	}}}
	loop := poolWindow{Label: two, Insns: []insn{in("CMPQ", "rb_n", fmt.Sprintf("$%d", 2*isa.lanes)), in("JLT", one)}}
	loop.Insns = append(loop.Insns, gate(0, isa.reg(0), isa.reg(1), false)...)
	loop.Insns = append(loop.Insns, gate(vb, isa.reg(2), isa.reg(3), false)...)
	loop.Insns = append(loop.Insns, adv(2*vb)...)
	loop.Insns = append(loop.Insns, in("SUBQ", fmt.Sprintf("$%d", 2*isa.lanes), "rb_n"), in("JMP", two))
	single := poolWindow{Label: one, Insns: []insn{in("CMPQ", "rb_n", fmt.Sprintf("$%d", isa.lanes)), in("JLT", tail)}}
	single.Insns = append(single.Insns, gate(0, isa.reg(0), isa.reg(1), false)...)
	single.Insns = append(single.Insns, adv(vb)...)
	single.Insns = append(single.Insns, in("SUBQ", fmt.Sprintf("$%d", isa.lanes), "rb_n"))
	last := poolWindow{Label: tail, Insns: []insn{in("TESTQ", "rb_n", "rb_n"), in("JZ", done)}}
	if z {
		last.Comment = "K1: the last n < 16 lanes"
		last.Insns = append(last.Insns, in("MOVL", "$1", "AX"), in("SHLL", "CX", "AX"), in("DECL", "AX"), in("KMOVW", "AX", "K1"))
		last.Insns = append(last.Insns, gate(0, isa.reg(0), "", true)...)
		ctx.Blocks = append(b, loop, single, last, poolWindow{Label: done})
		return ctx
	}
	last.Comment = "the last n < 8 values, one at a time"
	x0, x1, xz := "X0", "X1", "X"+zero[1:]
	elem := poolWindow{Label: r.symbol + "_elem", Insns: []insn{
		in("VMOVSS", "(rb_dy)", x0), in("VCMPSS", "$1", "(rb_y)", xz, x1), in("VANDPS", x1, x0, x0), in("VMOVSS", x0, "(rb_dx)"),
		in("ADDQ", "$4", "rb_dx"), in("ADDQ", "$4", "rb_dy"), in("ADDQ", "$4", "rb_y"), in("DECQ", "rb_n"), in("JNZ", r.symbol+"_elem"),
	}}
	ctx.Blocks = append(b, loop, single, last, elem, poolWindow{Label: done})
	return ctx
}
