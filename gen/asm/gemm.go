package asm

import (
	"fmt"
	"strings"
)

// isaParams describes one vector instruction set as the planner sees it.
type isaParams struct {
	suffix   string // appended to TEXT symbols: "AVX2", "AVX512"
	requires string // the // Requires: line
	lanes    int    // float32 lanes per vector
	regs     int    // vector registers
	prefix   string // register name prefix: "Y", "Z"
	// maskInReg: masked loads and stores take a vector register (AVX2
	// VMASKMOVPS) rather than a k-register (AVX-512 K1).
	maskInReg bool
	// rowsFor gives the row-block height for a given column-block width
	// (in vectors), chosen so that accumulators, B vectors and the
	// broadcast fill the register file.
	rowsFor map[int]int
}

// isas are the assembly paths, in the order their TEXTs appear.
var isas = []isaParams{
	{
		suffix: "AVX2", requires: "AVX, AVX2, FMA3", lanes: 8, regs: 16, prefix: "Y",
		maskInReg: true,
		// 4×3: 12 accumulators + 3 B + broadcast; the tail block (with the
		// mask register) is kept to 2 columns by the partition.
		rowsFor: map[int]int{3: 4, 2: 6, 1: 12},
	},
	{
		suffix: "AVX512", requires: "AVX512F", lanes: 16, regs: 32, prefix: "Z",
		// 6×4: 24 accumulators + 4 B + broadcast, 3 spare.
		rowsFor: map[int]int{4: 6, 3: 8, 2: 12, 1: 16},
	},
}

func (p isaParams) reg(i int) string { return fmt.Sprintf("%s%d", p.prefix, i) }

// initKind says how a GEMM's accumulators start.
type initKind int

const (
	initZero initKind = iota // C = A·B
	initBias                 // C = bias + A·B (bias broadcast down the rows)
	initLoad                 // C += A·B
)

// gemmSpec is one GEMM kernel before register planning:
//
//	C[r][j] = init + Σ_k A[r][k]·B[k][j]   for r < rows, j < width, k < K
//
// with A[r][k] at a + r·aRowStride + k·aKStride, B[k][j] at b + k·bKStride +
// 4j and C[r][j] at c + r·cRowStride + 4j (strides in bytes). Row and
// reduction counts are either constants or arguments.
type gemmSpec struct {
	symbol                                     string   // TEXT symbol without ISA suffix
	args                                       []string // argument names in order (pointers, then the count)
	counts                                     []string // the subset of args that are ints
	aArg                                       string   // "" for the constant 1.0 (column sums)
	bArg                                       string
	cArg                                       string
	biasArg                                    string
	rowsArg                                    string // when rowsImm == 0
	rowsImm                                    int
	kArg                                       string // when kImm == 0
	kImm                                       int
	width                                      int
	aRowStride, aKStride, bKStride, cRowStride int
	// gateArg names an array laid out like C: where it is ≤ 0, C is set
	// to 0 (the backward of a ReLU whose output is the gate).
	gateArg string
	init    initKind
	relu    bool
	// streamB makes B an FMA memory operand and uses one row per block
	// with as many column accumulators as fit: the GEMV form, which reads
	// each B element once.
	streamB bool
	// kStrided: A's rows are consecutive floats (aRowStride 4) and the
	// argument sa is its reduction stride (the weight gradient's
	// xᵀ); otherwise sa is A's row stride.
	kStrided bool
	// kChunk, when positive, makes the dispatcher call the TEXT on at most
	// kChunk reduction steps at a time (the kArg count, with A's and B's
	// pointers advanced). With kStrided the reduction runs over every
	// sample for each register block; past L2 the blocks would each stream
	// both operands from memory, while a chunk's rows of B stay in cache
	// for all the blocks. C is loaded and stored once per chunk, in the same
	// order of additions, so the result is bit for bit the same.
	kChunk    int
	what      []string // pseudocode lines for the comment
	reference string   // the pure-Go reference function
}

// shapeArgs are the int arguments that carry a GEMM's shape, appended to
// its own; the dispatchers pass constants (gemmCtx.ArgVals).
// They are the reduction steps ks; the strides in bytes sa (A's rows, or
// with kStrided its reduction steps), sb (B's rows) and sc (C's rows); the
// end of the column loop ce (bytes); the tail mask tm (AVX-512: K1's
// lanes; AVX2: the offset of the tail's lanes in tailmask<>); and the row
// count nr when the kernel's is constant.
var shapeArgs = []string{"ks", "sa", "sb", "sc", "ce", "tm", "nr"}

// withShape appends shapeArgs to g's arguments.
//
// The register-blocked GEMMs are thus specialised only on the structure of
// their register blocks (row height, column blocks, whether the last
// vector is masked), so layers of different sizes run the same TEXT
// symbol: the reduction count, the strides, the end of the column loop
// and the tail mask are arguments, and so are the row strides of A and C
// when a block has at most 6 rows (two base registers with an index reach
// them; taller blocks keep them as displacements). The one-row streaming
// GEMMs use only B's stride and the tail mask (so that the padded and
// unpadded layouts share them).
func (g gemmSpec) withShape() gemmSpec {
	g.args = append(append([]string(nil), g.args...), shapeArgs...)
	g.counts = append(append([]string(nil), g.counts...), shapeArgs...)
	return g
}

// goDecl is the Go declaration of the TEXT symbol for isa.
func (g gemmSpec) goDecl(isa isaParams) string {
	var ptrs, ints []string
	for _, a := range g.args {
		if contains(g.counts, a) {
			ints = append(ints, a)
		} else {
			ptrs = append(ptrs, a)
		}
	}
	decl := "func " + g.symbol + isa.suffix + "(" + strings.Join(ptrs, ", ") + " *float32"
	if len(ints) > 0 {
		decl += ", " + strings.Join(ints, ", ") + " int"
	}
	return decl + ")"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// gemmCtx is the context of the "gemm" template: one TEXT symbol.
type gemmCtx struct {
	// Serves lists the symbols that call this one instead (same kernel).
	Serves                              []string
	Symbol, GoDecl, Requires, Reference string
	What                                []string
	ArgSize                             int
	Loads                               []argLoad
	Bcast, MaskReg                      string
	KMask                               string // operand: AVX-512 tail mask for K1, or ""
	Rows                                string // operand: $imm or name+off(FP)
	AStep, BStep                        string // operands: the pointers' steps per reduction step
	Blocks                              []rowBlock
	Prefix                              string
	// ArgVals gives the values of the shape arguments (shapeArgs).
	ArgVals map[string]int
	Frame   int // bytes of locals (gemmShape's)
}

type argLoad struct{ Instr, Src, Dst string }

// rowBlock is a block of Rows rows: Guard (at Label) decides whether it
// runs, Entry (at Body, the target of its loop) starts it, Cols compute it
// and Exit advances the row pointers and loops (or jumps) on.
type rowBlock struct {
	Label, Body        string
	Rows               int
	Guard, Entry, Exit []insn
	Cols               []colBlock
}

// colBlock computes one register block: Rows × len(vectors) accumulators.
// With Label set it is the body of a loop over column blocks (Post steps
// the column offset and loops).
type colBlock struct {
	Label, KLabel, Comment string
	Inits                  []vecOp
	Start                  []insn // the reduction pointers and count
	Loads                  []vecOp
	Steps                  []kStep
	LoopEnd                []insn  // ends the reduction loop, if not DECQ kleft
	Tail                   []kStep // reduction steps left over by the unrolled loop
	Reduce                 []insn  // sums the interleaved accumulator sets
	Zero                   string  // ReLU's zero register, or ""
	Gate                   []insn  // zeroes the lanes where h ≤ 0 (gated kernels)
	StoreSetup             []insn  // the store pointers
	Stores                 []vecOp
	Post                   []insn
	Pre                    []insn // before the block (a loop's per-block setup)
}

// vecOp is a vector load or store: Op Addr, [Mask,] Reg (or the reverse).
type vecOp struct {
	Op, Addr, Mask, Reg string
	Zero                bool
}

// kStep broadcasts A[r][k] and multiplies it into a row of accumulators,
// after the loads in Pre (an AVX2 masked tail of B).
type kStep struct {
	Pre   []vecOp
	Addr  string
	FMAs  []fma
	After []insn
}

type fma struct{ Src, Mask, Acc string }

// partition splits n vectors into blocks of at most max, as even as
// possible, larger first, so that fits(size, last) holds for every block
// (the last block holds the tail vector).
func partition(n, max int, fits func(size int, last bool) bool) []int {
	for nb := (n + max - 1) / max; nb <= n; nb++ {
		sizes := make([]int, nb)
		ok := true
		for i := range sizes {
			sizes[i] = n / nb
			if i < n%nb {
				sizes[i]++
			}
			if !fits(sizes[i], i == nb-1) {
				ok = false
			}
		}
		if ok {
			return sizes
		}
	}
	panic("asm: no register partition") // unreachable: size 1 always fits
}

// colSpan is a run of column blocks of the same width: iters blocks of c
// vectors from vector v0, in a loop over the column offset when loop
// (iters ≥ 2, or full-width blocks of a kernel with the whole shape in
// its arguments).
type colSpan struct {
	v0, c, iters int
	loop         bool
}

// planGemm makes every register, offset and label decision of one GEMM for
// one ISA.
//
// The code is one register block per distinct shape, in loops. Columns:
// the blocks of full width in a loop over the column offset (col), then
// the last, narrower or masked, blocks. Rows: a loop of R rows. When the
// kernel overwrites C and the row count is an argument, the rows left over
// (fewer than R) are computed by running the R-row block once more on the
// last R rows, so one block serves every row count ≥ R; fewer than R rows
// in all take a one-row loop. A constant row count leaves at most one
// block of the remainder height.
func planGemm(g gemmSpec, isa isaParams) *gemmCtx {
	nvec := (g.width + isa.lanes - 1) / isa.lanes
	tail := g.width % isa.lanes // lanes used by the last vector, 0 = all
	maskReg := tail != 0 && isa.maskInReg
	// Registers at the top of the file: broadcast, then the AVX2 mask.
	bcastIdx := isa.regs - 1
	free := isa.regs - 1 // registers below the broadcast
	if maskReg {
		free--
	}

	var R, cmax int
	var fits func(c int, last bool) bool
	if g.streamB {
		R, cmax = 1, free
		// Accumulators only, plus (AVX2 tail) a register to load the
		// masked tail of B into.
		fits = func(c int, last bool) bool {
			if last && maskReg {
				return c+1 <= free
			}
			return c <= free
		}
	} else {
		// The widest block, unless a narrower one divides the vectors
		// (then one block serves every column: on AVX-512 a masked tail
		// vector can be the loop's last, its mask set per block).
		// Only the two widest blocks are candidates: narrower ones load
		// as many values as they multiply.
		widest := 0
		for c := range isa.rowsFor {
			widest = max(widest, c)
		}
		divides := func(c int) bool { return nvec%c == 0 && (tail == 0 || !isa.maskInReg) }
		for c := range isa.rowsFor {
			if c > nvec || c < widest-1 && c != nvec {
				continue
			}
			if cmax == 0 || divides(c) && (!divides(cmax) || c > cmax) || !divides(cmax) && c > cmax {
				cmax = c
			}
		}
		if cmax == 0 {
			// Fewer vectors than the candidates: one block of them all.
			cmax = nvec
		}
		R = isa.rowsFor[cmax]
		if g.rowsImm > 0 && g.rowsImm%R != 0 && R > 6 {
			// A constant row count that a tall block (one or two column
			// vectors) does not divide: a height of at least R/2 that
			// does, if there is one, serves every row with one block,
			// without a block for the rows left (half the code, and a
			// TEXT that the layers with that height share). The 6-row
			// blocks keep their height: 4 rows measured slower on the
			// digits network's dense layer.
			for h := R - 1; 2*h >= R; h-- {
				if g.rowsImm%h == 0 {
					R = h
					break
				}
			}
		}
		fits = func(c int, last bool) bool {
			n := R*c + c
			if last && maskReg {
				return n <= free
			}
			return n <= isa.regs-1
		}
	}
	var spans []colSpan
	dynMask := false
	switch {
	case !g.streamB && tail != 0 && !isa.maskInReg && nvec%cmax == 0:
		// One block in a loop whose last vector is masked by K1: all
		// lanes but in the last block.
		spans = append(spans, colSpan{0, cmax, nvec / cmax, true})
		dynMask = true
	case nvec <= cmax:
		// One block (or, for a masked AVX2 tail, the few that fit).
		v0 := 0
		for _, c := range partition(nvec, cmax, fits) {
			spans = append(spans, colSpan{v0, c, 1, false})
			v0 += c
		}
	default:
		// Full blocks of cmax unmasked vectors in a loop, then the rest
		// (with the masked vector last), split so that each block fits.
		// (Shifting the last block back over the one before, so that one
		// block serves every width, measured slower: it computes columns
		// twice, and its loads straddle cache lines.) The GEMV's blocks
		// are made as even as possible.
		if g.streamB {
			nb := (nvec + cmax - 1) / cmax
			cmax = (nvec + nb - 1) / nb
		}
		m := nvec / cmax
		if tail != 0 {
			m = (nvec - 1) / cmax
		}
		if m > 0 {
			spans = append(spans, colSpan{0, cmax, m, m > 1})
		}
		if rest := nvec - m*cmax; rest > 0 {
			v0 := m * cmax
			for _, c := range partition(rest, cmax, fits) {
				spans = append(spans, colSpan{v0, c, 1, false})
				v0 += c
			}
		}
	}
	full := !g.streamB // the whole shape is in the arguments
	if sp := spans[0]; full && sp.c == cmax && (sp.v0+sp.iters*sp.c < nvec || tail == 0 || dynMask) {
		// Full-width blocks loop even once, so that every width with the
		// same blocks after them runs this code.
		spans[0].loop = true
	}
	// With a loop over column blocks, every column address is relative to
	// the column offset col (which ends the loop at the first vector after
	// it).
	useCol := spans[0].loop
	loopEnd := 0 // bytes
	if useCol {
		loopEnd = 4 * spans[0].iters * spans[0].c * isa.lanes
	}

	// A one-row GEMM with few column vectors would be bound by the FMA
	// latency (one chain per accumulator): interleave S accumulator sets
	// over consecutive k (k mod S), summed at the end, so that about 8
	// chains are in flight. This reorders the sum (within tolerance).
	//
	// A one-row GEMM reads B's last vector unmasked but in the last
	// peel reduction steps: on the unpadded layout it reads into the next
	// rows of B then (lanes that no store keeps), and peel steps keep it
	// inside B.
	S, peel := 1, 0
	if g.streamB && g.kImm > 0 {
		if tail != 0 {
			if m := (isa.lanes - tail + g.width - 1) / g.width; m < g.kImm {
				peel = m
			}
		}
		cmax := 0
		for _, sp := range spans {
			cmax = max(cmax, sp.c)
		}
		S = max(1, min((8+cmax-1)/cmax, (free-1)/cmax, g.kImm-peel))
	}
	ctx := &gemmCtx{
		Symbol:    g.symbol + isa.suffix,
		GoDecl:    g.goDecl(isa),
		Requires:  isa.requires,
		Reference: g.reference,
		What:      g.what,
		ArgSize:   8 * len(g.args),
		Bcast:     isa.reg(bcastIdx),
		AStep:     fmt.Sprintf("$%d", S*g.aKStride),
		Prefix:    g.symbol,
	}
	if g.aArg == "" {
		ctx.AStep = ""
	}
	argOff := func(name string) string {
		for i, a := range g.args {
			if a == name {
				return fmt.Sprintf("%s+%d(FP)", a, 8*i)
			}
		}
		panic("asm: no argument " + name)
	}
	// The shape: which strides are in registers, the arguments' values.
	sh := gemmShape{
		aDyn: full && (g.kStrided || R <= 6), cDyn: full && R <= 6,
		arg: argOff,
	}
	ctx.ArgVals = map[string]int{
		"ks": g.kImm, "sa": g.aRowStride, "sb": g.bKStride, "sc": g.cRowStride,
		"ce": loopEnd, "nr": g.rowsImm,
	}
	if g.kStrided {
		ctx.ArgVals["sa"] = g.aKStride
		ctx.AStep = "astr"
	}
	switch {
	case tail == 0:
		ctx.ArgVals["tm"] = 0
	case isa.maskInReg:
		ctx.ArgVals["tm"] = 4 * (isa.lanes - tail)
	default:
		ctx.ArgVals["tm"] = 1<<tail - 1
	}
	ctx.BStep = "bstr"
	if g.streamB && S > 1 {
		// The sets' B rows are b_k + i·sb (i < S), from b_k and b_3
		// (row 3) with the indexes bstr and sb3 (3·sb); sbS is S·sb.
		ctx.BStep = "sbS"
		ctx.Loads = append(ctx.Loads, argLoad{"MOVQ", argOff("sb"), "sbS"}, argLoad{"IMULQ", fmt.Sprintf("$%d", S), "sbS"})
		if S > 6 {
			ctx.Loads = append(ctx.Loads, argLoad{"MOVQ", argOff("sb"), "sb3"}, argLoad{"IMULQ", "$3", "sb3"})
		}
	}
	if maskReg {
		ctx.MaskReg = isa.reg(bcastIdx - 1)
	}
	if tail != 0 && !isa.maskInReg {
		ctx.KMask = argOff("tm")
	}
	if g.aArg == "" {
		ctx.Loads = append(ctx.Loads, argLoad{"LEAQ", "one<>(SB)", "a_row"})
	} else {
		ctx.Loads = append(ctx.Loads, argLoad{"MOVQ", argOff(g.aArg), "a_row"})
	}
	ctx.Loads = append(ctx.Loads, argLoad{"MOVQ", argOff(g.bArg), "b_base"}, argLoad{"MOVQ", argOff(g.cArg), "c_row"})
	gated := g.gateArg != ""
	if gated {
		ctx.Loads = append(ctx.Loads, argLoad{"MOVQ", argOff(g.gateArg), "h_row"})
	}
	if full {
		ctx.Loads = append(ctx.Loads, argLoad{"MOVQ", argOff("sa"), "astr"})
	}
	ctx.Loads = append(ctx.Loads, argLoad{"MOVQ", argOff("sb"), "bstr"})
	if sh.cDyn {
		// The locals of gemmShape: as the strides say, but see the rows
		// fewer than R below.
		ctx.Frame = 48
		ctx.Loads = append(ctx.Loads, argLoad{"MOVQ", argOff("sc"), "tmp"}, argLoad{"MOVQ", "tmp", localCS},
			argLoad{"LEAQ", "(tmp)(tmp*2)", "tmp"}, argLoad{"MOVQ", "tmp", localC3},
			argLoad{"LEAQ", "(astr)(astr*2)", "tmp"}, argLoad{"MOVQ", "tmp", localA3},
			argLoad{"ADDQ", "astr", "tmp"}, argLoad{"MOVQ", "tmp", localA4},
			argLoad{"ADDQ", "astr", "tmp"}, argLoad{"MOVQ", "tmp", localA5})
	}
	switch {
	case full && g.rowsImm > 0:
		ctx.Rows = argOff("nr")
	case g.rowsImm > 0:
		ctx.Rows = fmt.Sprintf("$%d", g.rowsImm)
	default:
		ctx.Rows = argOff(g.rowsArg)
	}
	kOperand := fmt.Sprintf("$%d", (g.kImm-peel)/S)
	switch {
	case g.kImm == 0:
		kOperand = argOff(g.kArg)
	case full:
		kOperand = argOff("ks")
	}
	// Scratch besides tmp outside the reduction loops: kleft (tmp2's
	// register is a_o5).
	tmp2 := "kleft"

	done := g.symbol + "_done"
	label := func(h int, loop bool) string {
		l := fmt.Sprintf("%s_rows%d", g.symbol, h)
		if loop {
			l += "_loop"
		}
		return l
	}
	// advance steps the row pointers by h rows.
	advance := func(h int) []insn {
		var out []insn
		switch {
		case sh.aDyn && !g.kStrided && h == 1:
			out = append(out, in("ADDQ", "astr", "a_row"))
		case sh.aDyn && !g.kStrided:
			out = append(out, in("IMUL3Q", fmt.Sprintf("$%d", h), "astr", "tmp"), in("ADDQ", "tmp", "a_row"))
		default:
			out = append(out, in("ADDQ", fmt.Sprintf("$%d", h*g.aRowStride), "a_row"))
		}
		cStep := fmt.Sprintf("$%d", h*g.cRowStride)
		if sh.cDyn {
			out = append(out, in("MOVQ", argOff("sc"), "tmp"))
			if h > 1 {
				out = append(out, in("IMULQ", fmt.Sprintf("$%d", h), "tmp"))
			}
			cStep = "tmp"
		}
		out = append(out, in("ADDQ", cStep, "c_row"))
		if gated {
			out = append(out, in("ADDQ", cStep, "h_row"))
		}
		return out
	}
	// block plans a row block of height h.
	block := func(h int, lbl string) rowBlock {
		rb := rowBlock{Label: lbl, Rows: h}
		if useCol {
			rb.Entry = append(rb.Entry, in("XORQ", "col", "col"))
		}
		if sh.aDyn && !g.kStrided && h > 3 {
			// (planCols' rowsDyn)
			rb.Entry = append(rb.Entry, in("MOVQ", kOperand, "tmp"), in("LEAQ", fmt.Sprintf("(a_row)(tmp*%d)", g.aKStride), "tmp"), in("MOVQ", "tmp", localAEnd))
		}
		for ci, sp := range spans {
			cb := planCols(g, isa, sh, lbl, ci, h, sp, spans[0].iters*spans[0].c, useCol, nvec, tail, maskReg, dynMask, S, peel, kOperand)
			if dynMask {
				// col is the last block's when col + its width = ce.
				pre := []insn{in("MOVQ", "$0xffff", "tmp"), in("MOVQ", ctx.KMask, tmp2),
					in("LEAQ", fmt.Sprintf("%d(col)", 4*cmax*isa.lanes), "a_k"), in("CMPQ", "a_k", argOff("ce")),
					in("CMOVQEQ", tmp2, "tmp"),
					{Op: "KMOVW", Args: "tmp, K1", Comment: "K1: the last vector's lanes (its tail in the last block)"}}
				cb.Pre = append(pre, cb.Pre...)
			}
			rb.Cols = append(rb.Cols, cb)
		}
		return rb
	}

	if g.rowsImm > 0 {
		// A constant row count: a loop (or one block) of R rows, then one
		// block of the rows left. With the whole shape in the arguments,
		// the count is one (the same R-row loop, the same rows left).
		q, rem := g.rowsImm/R, g.rowsImm%R
		if q > 0 {
			loop := q > 1 || full
			rb := block(R, label(R, loop))
			if loop || rem > 0 {
				rb.Exit = append(rb.Exit, advance(R)...)
			}
			if loop {
				rb.Exit = append(rb.Exit, in("SUBQ", fmt.Sprintf("$%d", R), "rows"), in("CMPQ", "rows", fmt.Sprintf("$%d", R)), in("JGE", rb.Label))
			}
			ctx.Blocks = append(ctx.Blocks, rb)
		}
		if rem > 0 {
			ctx.Blocks = append(ctx.Blocks, block(rem, label(rem, false)))
		}
		return ctx
	}

	// Row count n, an argument.
	small := label(1, true)
	if R == 1 {
		rb := block(1, small)
		rb.Guard = []insn{in("TESTQ", "rows", "rows"), in("JZ", done)}
		rb.Exit = append(advance(1), in("DECQ", "rows"), in("JMP", small))
		ctx.Blocks = append(ctx.Blocks, rb)
		return ctx
	}
	main := block(R, label(R, false))
	main.Guard = []insn{in("CMPQ", "rows", fmt.Sprintf("$%d", R)), in("JLT", small)}
	mainBody := label(R, true)
	main.Body = mainBody
	main.Exit = append(advance(R), in("SUBQ", fmt.Sprintf("$%d", R), "rows"), in("CMPQ", "rows", fmt.Sprintf("$%d", R)), in("JGE", mainBody))
	if g.init != initLoad {
		// 0 < rows < R left: step the pointers back by R − rows rows and
		// run the block once more on the last R rows.
		aStride, cStride := fmt.Sprintf("$%d", g.aRowStride), fmt.Sprintf("$%d", g.cRowStride)
		if sh.aDyn {
			aStride = "astr"
		}
		if sh.cDyn {
			cStride = argOff("sc")
		}
		main.Exit = append(main.Exit,
			in("TESTQ", "rows", "rows"), in("JZ", done),
			insn{Op: "MOVQ", Args: fmt.Sprintf("$%d, tmp", R), Comment: "rows computed twice"},
			in("SUBQ", "rows", "tmp"),
			in("MOVQ", "tmp", tmp2),
			in("IMULQ", aStride, "tmp"),
			in("SUBQ", "tmp", "a_row"),
			in("IMULQ", cStride, tmp2),
			in("SUBQ", tmp2, "c_row"))
		if gated {
			main.Exit = append(main.Exit, in("SUBQ", tmp2, "h_row"))
		}
		main.Exit = append(main.Exit, in("MOVQ", fmt.Sprintf("$%d", R), "rows"), in("JMP", mainBody))
	}
	ctx.Blocks = append(ctx.Blocks, main)
	if sh.cDyn && !g.kStrided && g.init != initLoad {
		// Fewer than R rows in all: the R-row block once, its rows mapped
		// onto the n there are (computed and stored more than once, with
		// the same values). Rows 0–2 are row 0 + r·stride, rows 3… row o
		// + (r − 3)·stride: for n ≥ 3 the strides are the rows' and o =
		// max(0, n − R + 3) (≤ 2, so no row is past n − 1 and rows 0..2
		// and o.. cover them); for n ≤ 2 the strides are 0 and o = n − 1
		// (A's rows 3… are at the offsets in the locals, C's at row 3's
		// plus multiples of its stride).
		ge3 := g.symbol + "_small3"
		ctx.Blocks = append(ctx.Blocks, rowBlock{Label: small, Guard: []insn{
			in("TESTQ", "rows", "rows"), in("JZ", done),
			in("MOVQ", argOff("sc"), "tmp"),
			in("CMPQ", "rows", "$3"), in("JGE", ge3),
			insn{Op: "DECQ", Args: "rows", Comment: "o = n − 1, strides 0"},
			in("XORQ", tmp2, tmp2), in("MOVQ", tmp2, localCS),
			in("IMULQ", "rows", "tmp"), in("MOVQ", "tmp", localC3),
			in("IMULQ", "rows", "astr"), in("MOVQ", "astr", localA3), in("MOVQ", "astr", localA4), in("MOVQ", "astr", localA5),
			in("XORQ", "astr", "astr"),
			in("MOVQ", fmt.Sprintf("$%d", R), "rows"), in("JMP", mainBody),
		}}, rowBlock{Label: ge3, Guard: []insn{
			insn{Op: "SUBQ", Args: fmt.Sprintf("$%d, rows", R-3), Comment: "o = n − R + 3"},
			in("IMULQ", "rows", "tmp"), in("MOVQ", "tmp", localC3),
			in("MOVQ", "astr", "tmp"), in("IMULQ", "rows", "tmp"), in("MOVQ", "tmp", localA3),
			in("ADDQ", "astr", "tmp"), in("MOVQ", "tmp", localA4), in("ADDQ", "astr", "tmp"), in("MOVQ", "tmp", localA5),
			in("MOVQ", fmt.Sprintf("$%d", R), "rows"), in("JMP", mainBody),
		}})
		return ctx
	}
	// Fewer than R rows (in all, or left by a kernel that accumulates):
	// one at a time.
	one := block(1, small)
	one.Guard = []insn{in("TESTQ", "rows", "rows"), in("JZ", done)}
	one.Exit = append(advance(1), in("DECQ", "rows"), in("JMP", small))
	ctx.Blocks = append(ctx.Blocks, one)
	return ctx
}

// The locals of a gemmShape with cDyn: the offsets of A's rows 3 to 5 and
// C's row 3 from rows 0, C's row stride, and where A's pointer ends the
// reduction loops of the current row block.
const (
	localA3   = "a3off-8(SP)"
	localCS   = "cs-16(SP)"
	localC3   = "c3off-24(SP)"
	localA4   = "a4off-32(SP)"
	localA5   = "a5off-40(SP)"
	localAEnd = "aend-48(SP)"
)

// gemmShape says how a GEMM reaches its shape (withShape).
type gemmShape struct {
	// aDyn: A's varying stride is in astr (its row stride, or with
	// kStrided its reduction stride); cDyn: C's row stride is the
	// argument sc. Otherwise they are displacements.
	aDyn, cDyn bool
	arg        func(name string) string // the argument's operand
}

// planCols fills one register block: rows × sp.c vectors from vector
// sp.v0 (a loop over sp.iters such blocks when sp.iters > 1). With useCol
// the column addresses are relative to the column offset col, which is 0
// in the loop's first block and loopEnd vectors once it ends. With sets >
// 1 (one-row GEMMs only), accumulator set s takes the steps k ≡ s (mod
// sets); set s uses the registers a row s would.
func planCols(g gemmSpec, isa isaParams, sh gemmShape, rowLabel string, ci, rows int, sp colSpan, loopEnd int, useCol bool, nvec, tail int, maskReg, dynMask bool, sets, peel int, kOperand string) colBlock {
	v0, c := sp.v0, sp.c
	cb := colBlock{KLabel: fmt.Sprintf("%s_cols%d_k", rowLabel, ci)}
	lastCol := v0 + c - 1
	rowWord := "rows"
	if rows == 1 {
		rowWord = "row"
	}
	switch {
	case sp.loop:
		cb.Label = fmt.Sprintf("%s_cols%d", rowLabel, ci)
		cb.Comment = fmt.Sprintf("%d %s × columns up to ce, %d vectors at a time", rows, rowWord, c)
		if dynMask {
			cb.Comment += " (the last one's tail masked)"
		}
	default:
		vecs := fmt.Sprintf("%d vectors", c)
		if c == 1 {
			vecs = "1 vector"
		}
		cb.Comment = fmt.Sprintf("%d %s × %s from column vector %d", rows, rowWord, vecs, v0)
		if useCol {
			cb.Comment = fmt.Sprintf("%d %s × %s from column vector %d after the loop", rows, rowWord, vecs, v0-loopEnd)
		}
		if tail != 0 && lastCol == nvec-1 {
			cb.Comment += ", the last one masked"
		}
	}
	if sets > 1 {
		cb.Comment += fmt.Sprintf(", %d accumulator sets", sets)
	}
	hasTail := tail != 0 && lastCol == nvec-1
	if hasTail && maskReg {
		// (Blocks before the last may use the mask's register.)
		cb.Pre = append(cb.Pre, in("LEAQ", "tailmask<>(SB)", "tmp"), in("ADDQ", sh.arg("tm"), "tmp"), in("VMOVUPS", "(tmp)", "mask"))
	}
	// Column addresses: byte offsets from the column offset col (useCol)
	// or from the first column.
	base, idx := 0, ""
	if useCol {
		idx = "(col*1)"
		base = loopEnd
		if sp.loop {
			base = v0
		}
	}
	colOff := func(v int) int { return 4 * (v - base) * isa.lanes }
	cb.Start = []insn{in("MOVQ", "a_row", "a_k"), in("MOVQ", "b_base", "b_k")}
	if useCol {
		cb.Start[1] = in("LEAQ", "(b_base)(col*1)", "b_k")
	}
	// rowsDyn: the block's rows of A are at astr apart, 0–2 from a_k, 3–5
	// at a_o3… from it (offsets in registers, so that only a_k moves).
	rowsDyn := sh.aDyn && !g.kStrided && rows > 1
	if rowsDyn && rows > 3 {
		// The reduction ends when a_k reaches aend, which the row block
		// sets (kleft's register is a_o4).
		cb.Start = append(cb.Start, in("MOVQ", localA3, "a_o3"))
		if rows > 4 {
			cb.Start = append(cb.Start, in("MOVQ", localA4, "a_o4"), in("MOVQ", localA5, "a_o5"))
		}
		cb.LoopEnd = []insn{in("CMPQ", "a_k", localAEnd), in("JNE", cb.KLabel)}
	} else {
		cb.Start = append(cb.Start, in("MOVQ", kOperand, "kleft"))
	}
	if sp.loop {
		step := 4 * c * isa.lanes
		cb.Post = []insn{in("ADDQ", fmt.Sprintf("$%d", step), "col"), in("CMPQ", "col", sh.arg("ce")), in("JLT", cb.Label)}
	}
	aAddr := func(r int) string {
		switch {
		case !rowsDyn:
			return fmt.Sprintf("%d(a_k)", r*g.aRowStride)
		case r == 0:
			return "(a_k)"
		case r < 3:
			return fmt.Sprintf("(a_k)(astr*%d)", r)
		}
		return fmt.Sprintf("(a_k)(a_o%d*1)", r)
	}
	// C (and the gate, laid out like C): with cDyn the block's rows are at
	// c_s apart, 0–2 from c_0, 3–5 from c_3, which cSetup points at base's.
	cDyn := sh.cDyn && rows > 1
	cSetup := func(base string) []insn {
		if !cDyn {
			return nil
		}
		out := []insn{in("MOVQ", base, "c_0")}
		if useCol {
			out[0] = in("LEAQ", fmt.Sprintf("(%s)(col*1)", base), "c_0")
		}
		out = append(out, in("MOVQ", localCS, "c_s"))
		if rows > 3 {
			out = append(out, in("MOVQ", localC3, "c_3"), in("ADDQ", "c_0", "c_3"))
		}
		return out
	}
	cAddr := func(base string, r, off int) string {
		switch {
		case !cDyn:
			return fmt.Sprintf("%d(%s)%s", r*g.cRowStride+off, base, idx)
		case r%3 == 0:
			return fmt.Sprintf("%d(c_%d)", off, r)
		}
		return fmt.Sprintf("%d(c_%d)(c_s*%d)", off, r/3*3, r%3)
	}
	masked := func(v int) bool {
		return tail != 0 && v == nvec-1 || dynMask && v == v0+c-1
	}
	load := func(v int, addr, reg string) vecOp {
		switch {
		case !masked(v):
			return vecOp{Op: "VMOVUPS", Addr: addr, Reg: reg}
		case isa.maskInReg:
			return vecOp{Op: "VMASKMOVPS", Addr: addr, Mask: "mask", Reg: reg}
		}
		return vecOp{Op: "VMOVUPS.Z", Addr: addr, Mask: "K1", Reg: reg}
	}
	// A masked AVX2 store (VMASKMOVPS) is microcoded on AMD's Zen 2,
	// about 15 cycles against 1 for a plain store. When C's rows are
	// contiguous (its row stride is its width) and this block holds every
	// column, a row's last vector can be stored whole: the lanes past the
	// row fall on the next rows of the block, which are stored after it
	// (in order) and overwrite them. Only the rows whose whole vector
	// would reach past the block's last row keep the masked store.
	wholeRow := isa.maskInReg && !cDyn && !useCol && v0 == 0 && c == nvec && g.cRowStride == 4*g.width
	store := func(r, v int, addr, reg string) vecOp {
		switch {
		case !masked(v), wholeRow && r*g.width+nvec*isa.lanes <= rows*g.width:
			return vecOp{Op: "VMOVUPS", Addr: addr, Reg: reg}
		case isa.maskInReg:
			return vecOp{Op: "VMASKMOVPS", Addr: addr, Mask: "mask", Reg: reg}
		}
		return vecOp{Op: "VMOVUPS", Addr: addr, Mask: "K1", Reg: reg}
	}
	acc := func(r, j int) string { return isa.reg(r*c + j) }
	switch g.init {
	case initBias:
		// (bias's register holds bstr.)
		cb.Pre = append(cb.Pre, in("MOVQ", sh.arg(g.biasArg), "tmp"))
	case initLoad:
		cb.Pre = append(cb.Pre, cSetup("c_row")...)
	}
	for r := range rows {
		for j := range c {
			v := v0 + j
			switch g.init {
			case initZero:
				cb.Inits = append(cb.Inits, vecOp{Zero: true, Reg: acc(r, j)})
			case initBias:
				cb.Inits = append(cb.Inits, load(v, fmt.Sprintf("%d(tmp)%s", colOff(v), idx), acc(r, j)))
			case initLoad:
				cb.Inits = append(cb.Inits, load(v, cAddr("c_row", r, colOff(v)), acc(r, j)))
			}
		}
	}
	for set := 1; set < sets; set++ {
		for j := range c {
			cb.Inits = append(cb.Inits, vecOp{Zero: true, Reg: acc(set, j)})
		}
	}
	if g.streamB {
		// One row: B as FMA memory operands, an AVX2 masked tail through
		// a temporary above the accumulators.
		// step i (from a_k) goes to the accumulator set i mod sets; B's
		// tail is masked in the steps marked last (all without peel).
		// The loop's steps read B at b_k + i·sb (gemmCtx.BStep); those
		// after it step b_k after each.
		if sets > 3 {
			cb.Start = append(cb.Start, in("LEAQ", "(b_k)(bstr*2)", "b_3"), in("ADDQ", "bstr", "b_3"))
		}
		step := func(i int, last, inLoop bool) kStep {
			set := i % sets
			st := kStep{Addr: fmt.Sprintf("%d(a_k)", i*g.aKStride)}
			bBase := "(b_k)"
			if inLoop {
				bBase = [...]string{"(b_k)", "(b_k)(bstr*1)", "(b_k)(bstr*2)", "(b_3)", "(b_k)(bstr*4)", "(b_3)(bstr*2)", "(b_k)(sb3*2)", "(b_3)(bstr*4)"}[i]
				if i == sets-1 && sets > 3 {
					st.After = []insn{in("ADDQ", "sbS", "b_3")}
				}
			} else {
				st.After = []insn{in("ADDQ", "bstr", "b_k")}
			}
			for j := range c {
				v := v0 + j
				addr := fmt.Sprintf("%d%s", colOff(v), bBase)
				f := fma{Src: addr, Acc: acc(set, j)}
				switch {
				case !masked(v) || peel > 0 && !last:
				case isa.maskInReg:
					f.Src = isa.reg(sets * c)
					st.Pre = append(st.Pre, load(v, addr, f.Src))
				default:
					f.Mask = "K1"
				}
				st.FMAs = append(st.FMAs, f)
			}
			return st
		}
		for i := range sets {
			cb.Steps = append(cb.Steps, step(i, false, true))
		}
		left := (g.kImm - peel) % sets
		for i := range left + peel {
			cb.Tail = append(cb.Tail, step(i, i >= left, false))
		}
		for set := 1; set < sets; set++ {
			for j := range c {
				cb.Reduce = append(cb.Reduce, in("VADDPS", acc(set, j), acc(0, j), acc(0, j)))
			}
		}
	}
	// B operands (GEMM): registers loaded once per k step, shared by the
	// rows' broadcasts.
	if !g.streamB {
		src := make([]string, c)
		for j := range c {
			v := v0 + j
			addr := fmt.Sprintf("%d(b_k)", colOff(v))
			src[j] = isa.reg(rows*c + j)
			cb.Loads = append(cb.Loads, load(v, addr, src[j]))
		}
		for r := range rows {
			st := kStep{Addr: aAddr(r)}
			for j := range c {
				st.FMAs = append(st.FMAs, fma{Src: src[j], Acc: acc(r, j)})
			}
			cb.Steps = append(cb.Steps, st)
		}
	}
	if g.relu {
		cb.Zero = isa.reg(rows * c) // free once the k loop is done
	}
	if g.gateArg != "" {
		// After the k loop the B registers and the broadcast are free.
		zero, tmp := isa.reg(rows*c), isa.reg(isa.regs-1)
		cb.Gate = append(cSetup("h_row"), in("VXORPS", zero, zero, zero))
		for r := range rows {
			for j := range c {
				v := v0 + j
				addr := cAddr("h_row", r, colOff(v))
				a := acc(r, j)
				switch {
				case isa.maskInReg && masked(v):
					cb.Gate = append(cb.Gate, in("VMASKMOVPS", addr, "mask", tmp), in("VCMPPS", "$1", tmp, zero, tmp), in("VANDPS", tmp, a, a))
				case isa.maskInReg:
					cb.Gate = append(cb.Gate, in("VCMPPS", "$1", addr, zero, tmp), in("VANDPS", tmp, a, a))
				case masked(v):
					cb.Gate = append(cb.Gate, in("VCMPPS", "$1", addr, zero, "K1", "K2"), in("VMOVAPS.Z", a, "K2", a))
				default:
					cb.Gate = append(cb.Gate, in("VCMPPS", "$1", addr, zero, "K2"), in("VMOVAPS.Z", a, "K2", a))
				}
			}
		}
	}
	cb.StoreSetup = cSetup("c_row")
	for r := range rows {
		for j := range c {
			v := v0 + j
			cb.Stores = append(cb.Stores, store(r, v, cAddr("c_row", r, colOff(v)), acc(r, j)))
		}
	}
	return cb
}
