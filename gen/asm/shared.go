package asm

import "fmt"

// Helpers of the kernels that take their shape as arguments
// (flatCtx.shared): depthwise, window, im2col and col2im, batch norm,
// ReLU, add.

// sharedCtx starts the context of such a kernel for one ISA: its header,
// from f (the TEXT's arguments and Go declaration).
func sharedCtx(f asmFunc, isa isaParams, reference string, what []string, defines []define) *flatCtx {
	return &flatCtx{
		shared:    true,
		Symbol:    f.symbol + isa.suffix,
		GoDecl:    f.goDecl(isa),
		Requires:  isa.requires,
		Reference: reference,
		What:      what,
		ArgSize:   8 * len(f.args),
		Defines:   defines,
	}
}

// argAt is the FP operand of argument name among args.
func argAt(args []string, name string) string {
	return fmt.Sprintf("%s+%d(FP)", name, 8*argIndex(args, name))
}

// k1IO are the loads and stores of a channel vector: masked by K1 on
// AVX-512 (a last half vector), plain on AVX2, whose vectors the
// kernels' channel counts (multiples of 8) always fill.
type k1IO struct{ z bool }

func (m k1IO) load(addr, reg string) insn {
	if m.z {
		return in("VMOVUPS.Z", addr, "K1", reg)
	}
	return in("VMOVUPS", addr, reg)
}

func (m k1IO) store(reg, addr string) insn {
	if m.z {
		return in("VMOVUPS", reg, "K1", addr)
	}
	return in("VMOVUPS", reg, addr)
}

// laneMask sets K1 to the lanes of the channel vector at byte offset cv
// of c4 bytes: all 16, or 8 when half a vector is left. t0, t1 and t2 are
// scratch registers.
func laneMask(c4, cv, t0, t1, t2 string, vecBytes int) []insn {
	return []insn{
		in("MOVQ", c4, t0), in("SUBQ", cv, t0),
		in("MOVL", "$0xffff", t1), in("MOVL", "$0xff", t2),
		in("CMPQ", t0, fmt.Sprintf("$%d", vecBytes)), in("CMOVQLT", t2, t1),
		in("KMOVW", t1, "K1"),
	}
}
