package asm

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// Add (see Op) is one loop over slices of any length, four vectors at a
// time, then single vectors, then the tail (masked on AVX-512, element by
// element on AVX2). VADDPS adds b to a with a as its first source, as Go
// computes a + b: the same bits, the same NaN when both are NaN.

// addArgs are the TEXT symbol's arguments.
var addArgs = []string{"y", "a", "b", "n"}

// addSpec is one Add kernel.
type addSpec struct {
	symbol    string
	reference string
}

func (r addSpec) asm() asmFunc {
	return asmFunc{symbol: r.symbol, args: addArgs, counts: addArgs[3:], values: map[string]jen.Code{"n": jen.Len(jen.Id("y"))}}
}

// adds lists the Add kernels that implement k.
func (k Kernel) adds() []addSpec {
	if k.Op != Add {
		return nil
	}
	return []addSpec{{symbol: k.Name, reference: k.Name + "Go"}}
}

// planAdd plans the loop for one ISA.
func planAdd(r addSpec, isa isaParams) *flatCtx {
	z := isa.suffix == "AVX512"
	vb := 4 * isa.lanes
	ctx := sharedCtx(r.asm(), isa, r.reference, []string{
		"y[i] = a[i] + b[i]   i < n (y may be a or b)",
		"Four vectors at a time, then one, then the tail.",
	}, []define{{"add_y", "DI", "y: next value"}, {"add_a", "SI", "a"}, {"add_b", "BX", "b"}, {"add_n", "CX", "values left"}})

	// sum adds the vectors at byte offset off into reg.
	sum := func(off int, reg string) []insn {
		return []insn{
			in("VMOVUPS", fmt.Sprintf("%d(add_a)", off), reg), in("VADDPS", fmt.Sprintf("%d(add_b)", off), reg, reg),
			in("VMOVUPS", reg, fmt.Sprintf("%d(add_y)", off)),
		}
	}
	adv := func(values int) []insn {
		return []insn{
			in("ADDQ", fmt.Sprintf("$%d", 4*values), "add_y"), in("ADDQ", fmt.Sprintf("$%d", 4*values), "add_a"),
			in("ADDQ", fmt.Sprintf("$%d", 4*values), "add_b"), in("SUBQ", fmt.Sprintf("$%d", values), "add_n"),
		}
	}
	four, one, tail, done := r.symbol+"_four", r.symbol+"_one", r.symbol+"_tail", r.symbol+"_done"
	b := []poolWindow{{Insns: []insn{
		in("MOVQ", argAt(addArgs, "y"), "add_y"), in("MOVQ", argAt(addArgs, "a"), "add_a"),
		in("MOVQ", argAt(addArgs, "b"), "add_b"), in("MOVQ", argAt(addArgs, "n"), "add_n"),
	}}}
	loop := poolWindow{Label: four, Insns: []insn{in("CMPQ", "add_n", fmt.Sprintf("$%d", 4*isa.lanes)), in("JLT", one)}}
	for v := range 4 {
		loop.Insns = append(loop.Insns, sum(v*vb, isa.reg(v))...)
	}
	loop.Insns = append(append(loop.Insns, adv(4*isa.lanes)...), in("JMP", four))
	single := poolWindow{Label: one, Insns: []insn{in("CMPQ", "add_n", fmt.Sprintf("$%d", isa.lanes)), in("JLT", tail)}}
	single.Insns = append(append(append(single.Insns, sum(0, isa.reg(0))...), adv(isa.lanes)...), in("JMP", one))
	last := poolWindow{Label: tail, Insns: []insn{in("TESTQ", "add_n", "add_n"), in("JZ", done)}}
	if z {
		last.Comment = "K1: the last n < 16 lanes"
		last.Insns = append(last.Insns,
			in("MOVL", "$1", "AX"), in("SHLL", "CX", "AX"), in("DECL", "AX"), in("KMOVW", "AX", "K1"),
			in("VMOVUPS.Z", "(add_a)", "K1", isa.reg(0)), in("VADDPS.Z", "(add_b)", isa.reg(0), "K1", isa.reg(0)),
			in("VMOVUPS", isa.reg(0), "K1", "(add_y)"))
		ctx.Blocks = append(b, loop, single, last, poolWindow{Label: done})
		return ctx
	}
	last.Comment = "the last n < 8 values, one at a time"
	elem := poolWindow{Label: r.symbol + "_elem", Insns: []insn{
		in("VMOVSS", "(add_a)", "X0"), in("VADDSS", "(add_b)", "X0", "X0"), in("VMOVSS", "X0", "(add_y)"),
		in("ADDQ", "$4", "add_y"), in("ADDQ", "$4", "add_a"), in("ADDQ", "$4", "add_b"), in("DECQ", "add_n"), in("JNZ", r.symbol+"_elem"),
	}}
	ctx.Blocks = append(b, loop, single, last, elem, poolWindow{Label: done})
	return ctx
}
