package asm

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// ReLUInPlace (see Op) is one loop over a slice of any length, four
// vectors at a time, then single vectors, then the tail (masked on
// AVX-512, element by element on AVX2). It computes Go's max(v, 0): VMAXPS
// returns its second source when either is NaN, which the operand order
// makes the value (NaN kept), and the sum with +0 turns a −0 into +0.

// reluArgs are the TEXT symbol's arguments.
var reluArgs = []string{"y", "n"}

// reluSpec is one ReLUInPlace kernel.
type reluSpec struct {
	symbol    string
	reference string
}

func (r reluSpec) asm() asmFunc {
	return asmFunc{symbol: r.symbol, args: reluArgs, counts: reluArgs[1:], values: map[string]jen.Code{"n": jen.Len(jen.Id("y"))}}
}

// relus lists the ReLU kernels that implement k.
func (k Kernel) relus() []reluSpec {
	if k.Op != ReLUInPlace {
		return nil
	}
	return []reluSpec{{symbol: k.Name, reference: k.Name + "Go"}}
}

// planReLU plans the loop for one ISA.
func planReLU(r reluSpec, isa isaParams) *flatCtx {
	z := isa.suffix == "AVX512"
	vb := 4 * isa.lanes
	zero := isa.reg(isa.regs - 1)
	ctx := &flatCtx{
		shared:    true,
		Symbol:    r.symbol + isa.suffix,
		GoDecl:    r.asm().goDecl(isa),
		Requires:  isa.requires,
		Reference: r.reference,
		What: []string{
			"y[i] = max(y[i], 0)   i < n (NaN kept, −0 made +0)",
			"Four vectors at a time, then one, then the tail.",
		},
		ArgSize: 8 * len(reluArgs),
		Defines: []define{{"relu_y", "DI", "y: next value"}, {"relu_n", "CX", "values left"}},
	}
	relu := func(reg string) []insn {
		return []insn{in("VMAXPS", reg, zero, reg), in("VADDPS", zero, reg, reg)}
	}
	four, one, tail, done := r.symbol+"_four", r.symbol+"_one", r.symbol+"_tail", r.symbol+"_done"
	b := []poolWindow{{Insns: []insn{
		in("MOVQ", "y+0(FP)", "relu_y"), in("MOVQ", "n+8(FP)", "relu_n"),
		insn{Op: "VXORPS", Args: joinArgs(zero, zero, zero), Comment: "+0"},
	}}}
	loop := poolWindow{Label: four, Insns: []insn{in("CMPQ", "relu_n", fmt.Sprintf("$%d", 4*isa.lanes)), in("JLT", one)}}
	for v := range 4 {
		reg := isa.reg(v)
		loop.Insns = append(loop.Insns, in("VMOVUPS", fmt.Sprintf("%d(relu_y)", v*vb), reg))
		loop.Insns = append(loop.Insns, relu(reg)...)
		loop.Insns = append(loop.Insns, in("VMOVUPS", reg, fmt.Sprintf("%d(relu_y)", v*vb)))
	}
	loop.Insns = append(loop.Insns, in("ADDQ", fmt.Sprintf("$%d", 4*vb), "relu_y"), in("SUBQ", fmt.Sprintf("$%d", 4*isa.lanes), "relu_n"), in("JMP", four))
	single := poolWindow{Label: one, Insns: []insn{in("CMPQ", "relu_n", fmt.Sprintf("$%d", isa.lanes)), in("JLT", tail), in("VMOVUPS", "(relu_y)", isa.reg(0))}}
	single.Insns = append(single.Insns, relu(isa.reg(0))...)
	single.Insns = append(single.Insns, in("VMOVUPS", isa.reg(0), "(relu_y)"), in("ADDQ", fmt.Sprintf("$%d", vb), "relu_y"), in("SUBQ", fmt.Sprintf("$%d", isa.lanes), "relu_n"), in("JMP", one))
	last := poolWindow{Label: tail, Insns: []insn{in("TESTQ", "relu_n", "relu_n"), in("JZ", done)}}
	if z {
		last.Comment = "K1: the last n < 16 lanes"
		last.Insns = append(last.Insns,
			in("MOVL", "$1", "AX"), in("SHLL", "CX", "AX"), in("DECL", "AX"), in("KMOVW", "AX", "K1"),
			in("VMOVUPS.Z", "(relu_y)", "K1", isa.reg(0)))
		last.Insns = append(last.Insns, relu(isa.reg(0))...)
		last.Insns = append(last.Insns, in("VMOVUPS", isa.reg(0), "K1", "(relu_y)"))
		b = append(b, loop, single, last, poolWindow{Label: done})
	} else {
		last.Comment = "the last n < 8 values, one at a time"
		x0, xz := "X0", "X"+zero[1:]
		elem := poolWindow{Label: r.symbol + "_elem", Insns: []insn{
			in("VMOVSS", "(relu_y)", x0), in("VMAXSS", x0, xz, x0), in("VADDSS", xz, x0, x0), in("VMOVSS", x0, "(relu_y)"),
			in("ADDQ", "$4", "relu_y"), in("DECQ", "relu_n"), in("JNZ", r.symbol+"_elem"),
		}}
		b = append(b, loop, single, last, elem, poolWindow{Label: done})
	}
	ctx.Blocks = b
	return ctx
}
