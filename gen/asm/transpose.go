package asm

import "fmt"

// The vector transpose of DenseBackwardInput's weights (NameTranspose):
//
//	wt[j][i] = w[i][j]   i < In, j < Units;  wt[j][i] = 0   In ≤ i < InP
//
// Backward runs it once per call, so at small batches it weighs as much as
// the input-gradient GEMM itself: the scalar Go loop, whose stores go
// InP·4 bytes apart, took ≈120 µs for digits' 512×300 here. The kernel
// reads a column slice of a block of rows with one gather (VGATHERDPS)
// per output vector: lanes k read w[i0+k][j] at byte offsets k·Units·4
// from w[i0][j], so each gather fills wt[j][i0 : i0+lanes] with one full
// store; the last block masks its rows past In (zeros stay in those
// lanes) and the columns of wt past the last block are stored as zeros.
// Measured on the 512×300 matrix: ≈25–40 µs with AVX-512, ≈43 µs with
// AVX2.

// transposeUnroll is the number of independent gathers in flight per loop
// iteration (columns j at a time).
const transposeUnroll = 4

// transposeCtx is the context of the "transpose" template.
type transposeCtx struct {
	// Serves lists the symbols that call this one instead (same kernel).
	Serves                              []string
	Symbol, GoDecl, Requires, Reference string
	What                                []string
	Setup                               []insn
	Blocks                              []transposeBlock
}

// transposeBlock is one loop over the columns j of wt, with the
// instructions before it (pointers, masks), the body of one iteration
// (Unroll columns) and the columns left after the loop; with Outer, all
// of it is the body of a loop over row blocks, closed by Post.
type transposeBlock struct {
	Comment string
	Pre     []insn
	Outer   string // label of a loop over row blocks, or ""
	Label   string
	Iters   int
	Body    []insn
	Rest    []insn
	Post    []insn
}

// transposeSymbol is the TEXT symbol (without ISA suffix) of the transpose
// of DenseBackwardInput kernel k.
func (k Kernel) transposeSymbol() string { return k.Name + "Transpose" }

// transposeGoDecl is the Go declaration of the transpose's TEXT symbol.
func (k Kernel) transposeGoDecl(isa isaParams) string {
	return fmt.Sprintf("func %s%s(wt, w *float32)", k.transposeSymbol(), isa.suffix)
}

// planTranspose makes every decision of DenseBackwardInput kernel k's
// transpose for one ISA.
func planTranspose(k Kernel, isa isaParams) *transposeCtx {
	inN, units, inP, lanes := k.In, k.Units, PaddedStride(k.In), isa.lanes
	z := isa.suffix == "AVX512"
	idx, tmpVec, zero := isa.reg(isa.regs-1), isa.reg(isa.regs-2), isa.reg(isa.regs-3)
	savedMask := isa.reg(isa.regs - 4) // AVX2: the tail block's mask
	requires := "AVX, AVX2"
	if z {
		requires = isa.requires
	}
	ctx := &transposeCtx{
		Symbol:    k.transposeSymbol() + isa.suffix,
		GoDecl:    k.transposeGoDecl(isa),
		Requires:  requires,
		Reference: k.Name + "TransposeGo",
		What: []string{
			fmt.Sprintf("wt[j][i] = w[i][j]   i < %d, j < %d; wt[j][i] = 0 for %d ≤ i < %d", inN, units, inN, inP),
			fmt.Sprintf("Blocks of %d rows of w; one gather per column j of a block reads", lanes),
			fmt.Sprintf("w[i0..i0+%d][j] (byte offsets k·%d) and one store writes wt[j][i0..].", lanes, 4*units),
		},
	}
	// The gather offsets: lane k is k·Units·4 bytes from the block's row
	// i0.
	ctx.Setup = append(ctx.Setup,
		in("MOVQ", "wt+0(FP)", "b_k"),
		in("MOVQ", "w+8(FP)", "a_k"),
		insn{Op: "MOVL", Args: fmt.Sprintf("$%d, tmp", 4*units), Comment: "w's row stride, bytes"},
	)
	if z {
		ctx.Setup = append(ctx.Setup,
			in("VMOVDQU32", "iota<>(SB)", idx),
			in("VPBROADCASTD", "tmp", tmpVec),
		)
	} else {
		ctx.Setup = append(ctx.Setup,
			in("VMOVDQU", "iota<>(SB)", idx),
			in("VMOVD", "tmp", "X"+tmpVec[1:]),
			in("VPBROADCASTD", "X"+tmpVec[1:], tmpVec),
		)
	}
	ctx.Setup = append(ctx.Setup,
		insn{Op: "VPMULLD", Args: tmpVec + ", " + idx + ", " + idx, Comment: "gather offsets: lane k reads row i0+k"},
		in("VPXOR", zero, zero, zero),
	)
	if z {
		ctx.Setup[len(ctx.Setup)-1] = in("VPXORD", zero, zero, zero)
	}

	data := func(u int) string { return isa.reg(u) }
	mask := func(u int) string {
		if z {
			return fmt.Sprintf("K%d", u+1)
		}
		return isa.reg(transposeUnroll + u)
	}
	// column emits the instructions of column j = (loop start) + u of a
	// block: a fresh mask (the gather clears it), the gather and the store.
	column := func(u int, tail bool) []insn {
		var out []insn
		switch {
		case z && tail:
			out = append(out, in("KMOVW", "K5", mask(u)), in("VPXORD", data(u), data(u), data(u)))
		case z:
			out = append(out, in("KXNORW", mask(u), mask(u), mask(u)))
		case tail:
			out = append(out, in("VMOVDQU", savedMask, mask(u)), in("VPXOR", data(u), data(u), data(u)))
		default:
			out = append(out, in("VPCMPEQD", mask(u), mask(u), mask(u)))
		}
		src := fmt.Sprintf("%d(a_row)(%s*1)", 4*u, idx)
		if z {
			out = append(out, in("VGATHERDPS", src, mask(u), data(u)))
		} else {
			out = append(out, in("VGATHERDPS", mask(u), src, data(u)))
		}
		return append(out, in("VMOVUPS", data(u), fmt.Sprintf("%d(c_row)", 4*u*inP)))
	}
	loop := func(b *transposeBlock, each func(u int) []insn, aStep int) {
		b.Iters = units / transposeUnroll
		for u := range transposeUnroll {
			b.Body = append(b.Body, each(u)...)
		}
		if aStep != 0 {
			b.Body = append(b.Body, in("ADDQ", fmt.Sprintf("$%d", aStep), "a_row"))
		}
		b.Body = append(b.Body, in("ADDQ", fmt.Sprintf("$%d", 4*transposeUnroll*inP), "c_row"))
		for u := range units % transposeUnroll {
			b.Rest = append(b.Rest, each(u)...)
		}
	}
	// The full blocks of rows: one loop over them (the gather offsets are
	// the same for each), then the last, partial block.
	if full := inN / lanes; full > 0 {
		b := transposeBlock{
			Comment: fmt.Sprintf("rows 0 to %d of w, %d at a time", full*lanes-1, lanes),
			Pre:     []insn{in("MOVQ", fmt.Sprintf("$%d", full), "kleft")},
			Outer:   ctx.Symbol + "_blocks",
		}
		b.Label = b.Outer + "_cols"
		loop(&b, func(u int) []insn { return column(u, false) }, 4*transposeUnroll)
		b.Post = []insn{
			in("ADDQ", fmt.Sprintf("$%d", 4*lanes*units), "a_k"),
			in("ADDQ", fmt.Sprintf("$%d", 4*lanes), "b_k"),
			in("DECQ", "kleft"),
			in("JNZ", b.Outer),
			in("MOVQ", "wt+0(FP)", "b_k"),
			in("MOVQ", "w+8(FP)", "a_k"),
		}
		ctx.Blocks = append(ctx.Blocks, b)
	}
	if i0 := inN / lanes * lanes; i0 < inN {
		rows := inN - i0
		b := transposeBlock{
			Comment: fmt.Sprintf("rows %d to %d of w (%d of %d lanes)", i0, inN-1, rows, lanes),
			Label:   fmt.Sprintf("%s_rows%d", ctx.Symbol, i0),
			Pre: []insn{
				in("LEAQ", fmt.Sprintf("%d(a_k)", 4*i0*units), "a_row"),
				in("LEAQ", fmt.Sprintf("%d(b_k)", 4*i0), "c_row"),
			},
		}
		if z {
			b.Pre = append(b.Pre, in("MOVL", fmt.Sprintf("$0x%04x", 1<<rows-1), "tmp"), in("KMOVW", "tmp", "K5"))
		} else {
			b.Pre = append(b.Pre, in("VMOVDQU", fmt.Sprintf("tailmask<>+%d(SB)", 4*(lanes-rows)), savedMask))
		}
		loop(&b, func(u int) []insn { return column(u, true) }, 4*transposeUnroll)
		ctx.Blocks = append(ctx.Blocks, b)
	}
	// The padding columns past the last block: zeros.
	if start := (inN + lanes - 1) / lanes * lanes; start < inP {
		b := transposeBlock{
			Comment: fmt.Sprintf("zeros in columns %d to %d of wt", start, inP-1),
			Label:   fmt.Sprintf("%s_pad", ctx.Symbol),
			Pre:     []insn{in("LEAQ", fmt.Sprintf("%d(b_k)", 4*start), "c_row")},
		}
		loop(&b, func(u int) []insn {
			var out []insn
			for off := 0; start+off < inP; off += lanes {
				out = append(out, in("VMOVUPS", zero, fmt.Sprintf("%d(c_row)", 4*(u*inP+off))))
			}
			return out
		}, 0)
		ctx.Blocks = append(ctx.Blocks, b)
	}
	return ctx
}
