package asm

import "fmt"

// flatCtx is the context of the "flat" template: a TEXT symbol whose every
// label and instruction is decided here (operands in Go assembler order).
type flatCtx struct {
	Symbol, GoDecl, Requires, Reference string
	// Serves lists the symbols that call this one instead (same kernel).
	Serves []string
	// shared says that the kernel takes its shape as arguments, so that
	// every kernel of its op (and ISA) runs this TEXT: the comment says
	// so once rather than listing them in Serves.
	shared  bool
	What    []string
	ArgSize int
	Defines []define
	// Undefines are the register names #undef'd after the TEXT (see
	// trimDocs: a shared kernel's names stay defined for the next one of
	// its family).
	Undefines []define
	Blocks    []poolWindow
}

// convIO are the load and store helpers of a convolution's vectors along
// its vectorised dimension (filters or channels): the last vector of vecs
// holds tail lanes (0: full) and is masked, with K1 on AVX-512 and the
// mask register on AVX2.
type convIO struct {
	isa        isaParams
	vecs, tail int
	mask       string // AVX2 mask register
}

func (io convIO) masked(v int) bool { return io.tail != 0 && v == io.vecs-1 }

func (io convIO) load(v int, addr, reg string) insn {
	switch {
	case !io.masked(v):
		return in("VMOVUPS", addr, reg)
	case io.isa.maskInReg:
		return in("VMASKMOVPS", addr, io.mask, reg)
	}
	return in("VMOVUPS.Z", addr, "K1", reg)
}

func (io convIO) store(v int, reg, addr string) insn {
	switch {
	case !io.masked(v):
		return in("VMOVUPS", reg, addr)
	case io.isa.maskInReg:
		return in("VMASKMOVPS", reg, io.mask, addr)
	}
	return in("VMOVUPS", reg, "K1", addr)
}

// setup is the instructions that prepare the tail mask.
func (io convIO) setup() []insn {
	switch {
	case io.tail == 0:
		return nil
	case io.isa.maskInReg:
		return []insn{{Op: "VMOVUPS", Args: fmt.Sprintf("tailmask<>+%d(SB), %s", 4*(io.isa.lanes-io.tail), io.mask), Comment: "tail lanes of the last vector"}}
	}
	return []insn{in("MOVQ", fmt.Sprintf("$0x%04x", 1<<io.tail-1), "tmp"), {Op: "KMOVW", Args: "tmp, K1", Comment: "K1: tail lanes of the last vector"}}
}

// kwRange is the range [k0, k1) of kernel columns inside the input for
// output column ow.
func (c ConvShape) kwRange(ow int) (k0, k1 int) {
	first := ow*c.StrideW - c.PadLeft
	return max(0, -first), min(c.KernelW, c.InW-first)
}

// planConvForward plans Conv2DForward: per sample, a loop over the output
// rows; per row, the kernel rows inside the input (kh0 and their count,
// computed at run time, so that one body serves the border rows too) and
// groups of P output pixels along the row, each accumulating its P ×
// filter vectors over a loop on the kernel rows, with the kernel columns
// and channels unrolled (the taps that fall in the padding left out).
// Consecutive groups with the same taps (and so the same size) run in a
// loop.
func planConvForward(cs convSpec, isa isaParams) *flatCtx {
	s := cs.shape
	fvecs := (s.Filters + isa.lanes - 1) / isa.lanes
	io := convIO{isa: isa, vecs: fvecs, tail: s.Filters % isa.lanes}
	maskReg := io.tail != 0 && isa.maskInReg
	F, C := 4*s.Filters, 4*s.InC
	xRow := s.InW * C             // bytes per input row
	wRow := s.KernelW * s.InC * F // bytes per kernel row of w
	inStep := s.InH * s.InW * C   // bytes per input sample
	ctx := &flatCtx{
		Symbol:    cs.symbol + isa.suffix,
		GoDecl:    cs.asm().goDecl(isa),
		Requires:  isa.requires,
		Reference: cs.reference,
		What:      cs.what,
		ArgSize:   8 * len(cs.args),
		Defines: []define{
			{"x_s", "AX", "x: current sample"}, {"w_base", "BX", "w"},
			{"y_s", "CX", "y: current output row"}, {"khleft", "DX", "kernel rows left"},
			{"ih", "R9", "input row of kernel row 0 (oh·stride − pad)"}, {"gcnt", "R10", "groups left in a run"},
			{"nkh", "R11", "kernel rows inside the input"}, {"xr", "R12", "x at the row's first kernel row inside the input, column −pad"},
			{"wr", "R13", "w at that kernel row"}, {"xp", "SI", "x at the current kernel row"}, {"wp", "DI", "w at the current kernel row"},
		},
	}
	// Vector registers: accumulators from 0, then the weight vectors of
	// one tap; the broadcast, the AVX2 mask and the ReLU zero at the top.
	bcast := isa.reg(isa.regs - 1)
	top := isa.regs - 1
	if maskReg {
		io.mask = isa.reg(top - 1)
		top--
	}
	zero := ""
	if cs.relu {
		zero = isa.reg(top - 1)
		top--
	}
	// top registers remain for accumulators and weight vectors.
	wInRegs := top >= 2*fvecs
	P := max(1, min(8, top/fvecs))
	if wInRegs {
		P = max(1, min(8, (top-fvecs)/fvecs))
	} else if maskReg {
		P = max(1, (top-1)/fvecs) // a temporary for the masked weight vector
	}
	P = min(P, s.OutW)
	acc := func(p, v int) string { return isa.reg(p*fvecs + v) }
	wReg := func(v int) string { return isa.reg(P*fvecs + v) }

	// Groups: the row's pixels in as few groups of at most P as
	// possible, as even as possible, larger first.
	type group struct {
		start, size int
		sig         string // the pixels' kernel-column ranges
	}
	var groups []group
	nb := (s.OutW + P - 1) / P
	start := 0
	for g := range nb {
		size := s.OutW / nb
		if g < s.OutW%nb {
			size++
		}
		sig := ""
		for p := range size {
			k0, k1 := s.kwRange(start + p)
			sig += fmt.Sprintf("%d:%d,", k0, k1)
		}
		groups = append(groups, group{start, size, sig})
		start += size
	}

	b := []poolWindow{{Insns: append(io.setup(), in("MOVQ", fmt.Sprintf("x+%d(FP)", 8*argIndex(cs.args, "x")), "x_s"),
		in("MOVQ", fmt.Sprintf("y+%d(FP)", 8*argIndex(cs.args, "y")), "y_s"),
		in("MOVQ", fmt.Sprintf("w+%d(FP)", 8*argIndex(cs.args, "w")), "w_base"),
		in("MOVQ", fmt.Sprintf("n+%d(FP)", 8*argIndex(cs.args, "n")), "rows"))}}
	sample := cs.symbol + "_sample"
	row := cs.symbol + "_row"
	b = append(b, poolWindow{Label: sample, Insns: []insn{in("MOVQ", fmt.Sprintf("$%d", -s.PadTop), "ih")}})
	b = append(b, poolWindow{Label: row, Comment: "kh0 = max(0, −ih), nkh = min(KernelH, InH − ih) − kh0", Insns: []insn{
		in("XORQ", "xp", "xp"),
		in("MOVQ", "ih", "wp"), in("NEGQ", "wp"), in("CMPQ", "wp", "xp"), in("CMOVQGT", "wp", "xp"),
		in("MOVQ", fmt.Sprintf("$%d", s.InH), "nkh"), in("SUBQ", "ih", "nkh"),
		in("MOVQ", fmt.Sprintf("$%d", s.KernelH), "wp"), in("CMPQ", "nkh", "wp"), in("CMOVQGT", "wp", "nkh"),
		in("SUBQ", "xp", "nkh"),
		in("MOVQ", "ih", "wp"), in("ADDQ", "xp", "wp"), in("IMULQ", fmt.Sprintf("$%d", xRow), "wp"),
		in("LEAQ", fmt.Sprintf("%d(x_s)(wp*1)", -s.PadLeft*C), "xr"),
		in("IMULQ", fmt.Sprintf("$%d", wRow), "xp"), in("LEAQ", "(w_base)(xp*1)", "wr"),
	}})

	// body computes the group at column start, with xr and y_s dX and dY
	// bytes past the row's start.
	body := func(gi int, start, P, dX, dY int) []poolWindow {
		k := fmt.Sprintf("%s_g%d_k", cs.symbol, gi)
		head := poolWindow{Comment: fmt.Sprintf("output pixels %d..%d of the row", start, start+P-1), Insns: []insn{in("MOVQ", fmt.Sprintf("b+%d(FP)", 8*argIndex(cs.args, "b")), "xp")}}
		for p := range P {
			for v := range fvecs {
				if p == 0 {
					head.Insns = append(head.Insns, io.load(v, fmt.Sprintf("%d(xp)", 4*v*isa.lanes), acc(0, v)))
				} else {
					head.Insns = append(head.Insns, in("VMOVAPS", acc(0, v), acc(p, v)))
				}
			}
		}
		head.Insns = append(head.Insns, in("LEAQ", fmt.Sprintf("%d(xr)", start*s.StrideW*C-dX), "xp"), in("MOVQ", "wr", "wp"), in("MOVQ", "nkh", "khleft"))
		loop := poolWindow{Label: k}
		for kw := range s.KernelW {
			var users []int
			for p := range P {
				if k0, k1 := s.kwRange(start + p); kw >= k0 && kw < k1 {
					users = append(users, p)
				}
			}
			if len(users) == 0 {
				continue
			}
			for c := range s.InC {
				src := make([]string, fvecs)
				mask := make([]string, fvecs)
				for v := range fvecs {
					addr := fmt.Sprintf("%d(wp)", (kw*s.InC+c)*F+4*v*isa.lanes)
					switch {
					case wInRegs && (len(users) > 1 || io.masked(v) && isa.maskInReg):
						loop.Insns = append(loop.Insns, io.load(v, addr, wReg(v)))
						src[v] = wReg(v)
					case io.masked(v) && isa.maskInReg:
						loop.Insns = append(loop.Insns, io.load(v, addr, isa.reg(P*fvecs)))
						src[v] = isa.reg(P * fvecs)
					case io.masked(v):
						src[v], mask[v] = addr, "K1"
					default:
						src[v] = addr
					}
				}
				for _, p := range users {
					loop.Insns = append(loop.Insns, in("VBROADCASTSS", fmt.Sprintf("%d(xp)", (p*s.StrideW+kw)*C+4*c), bcast))
					for v := range fvecs {
						if mask[v] != "" {
							loop.Insns = append(loop.Insns, in("VFMADD231PS", src[v], bcast, mask[v], acc(p, v)))
						} else {
							loop.Insns = append(loop.Insns, in("VFMADD231PS", src[v], bcast, acc(p, v)))
						}
					}
				}
			}
		}
		loop.Insns = append(loop.Insns, in("ADDQ", fmt.Sprintf("$%d", xRow), "xp"), in("ADDQ", fmt.Sprintf("$%d", wRow), "wp"), in("DECQ", "khleft"), in("JNZ", k))
		tail := poolWindow{}
		if cs.relu {
			tail.Insns = append(tail.Insns, insn{Op: "VXORPS", Args: zero + ", " + zero + ", " + zero, Comment: "ReLU: Go's max(x, 0), NaN kept, −0 made +0"})
			for p := range P {
				for v := range fvecs {
					tail.Insns = append(tail.Insns, in("VMAXPS", acc(p, v), zero, acc(p, v)), in("VADDPS", zero, acc(p, v), acc(p, v)))
				}
			}
		}
		for p := range P {
			for v := range fvecs {
				tail.Insns = append(tail.Insns, io.store(v, acc(p, v), fmt.Sprintf("%d(y_s)", (start+p)*F+4*v*isa.lanes-dY)))
			}
		}
		return []poolWindow{head, loop, tail}
	}
	dX, dY := 0, 0
	for gi := 0; gi < len(groups); {
		// A run of groups with the same taps, P apart.
		run := 1
		for gi+run < len(groups) && groups[gi+run].sig == groups[gi].sig {
			run++
		}
		g := groups[gi]
		if run == 1 {
			b = append(b, body(gi, g.start, g.size, dX, dY)...)
			gi++
			continue
		}
		// Move xr and y_s to the run's first group, then loop.
		var pre []insn
		if d := g.start*s.StrideW*C - dX; d != 0 {
			pre = append(pre, in("ADDQ", fmt.Sprintf("$%d", d), "xr"))
		}
		if d := g.start*F - dY; d != 0 {
			pre = append(pre, in("ADDQ", fmt.Sprintf("$%d", d), "y_s"))
		}
		pre = append(pre, in("MOVQ", fmt.Sprintf("$%d", run), "gcnt"))
		label := fmt.Sprintf("%s_g%d", cs.symbol, gi)
		bs := body(gi, g.start, g.size, g.start*s.StrideW*C, g.start*F)
		bs[0].Label = label
		b = append(b, poolWindow{Comment: fmt.Sprintf("%d groups of %d pixels with the same taps", run, g.size), Insns: pre})
		b = append(b, bs...)
		b = append(b, poolWindow{Insns: []insn{
			in("ADDQ", fmt.Sprintf("$%d", g.size*s.StrideW*C), "xr"), in("ADDQ", fmt.Sprintf("$%d", g.size*F), "y_s"),
			in("DECQ", "gcnt"), in("JNZ", label),
		}})
		dX, dY = (g.start+run*g.size)*s.StrideW*C, (g.start+run*g.size)*F
		gi += run
	}
	// Next row; after the last, y_s is at the next sample's output.
	var next []insn
	if d := s.OutW*F - dY; d != 0 {
		next = append(next, in("ADDQ", fmt.Sprintf("$%d", d), "y_s"))
	}
	next = append(next,
		in("ADDQ", fmt.Sprintf("$%d", s.StrideH), "ih"),
		in("CMPQ", "ih", fmt.Sprintf("$%d", s.OutH*s.StrideH-s.PadTop)), in("JLT", row),
		in("ADDQ", fmt.Sprintf("$%d", inStep), "x_s"),
		in("DECQ", "rows"), in("JNZ", sample))
	b = append(b, poolWindow{Insns: next})
	ctx.Blocks = b
	return ctx
}

// argIndex is the position of argument name in args.
func argIndex(args []string, name string) int {
	for i, a := range args {
		if a == name {
			return i
		}
	}
	panic("asm: no argument " + name)
}

// planConvWeights plans Conv2DBackwardWeights: dw accumulates in
// registers, in passes over every sample, one per group of filter vectors
// and chunk of the taps (kh, kw, c); each pass walks the output pixels in
// runs with the same taps inside the input (a loop for the interior, one
// body per border row and column), adding each pixel's dy times its inputs
// to the pass's taps. db accumulates in the first pass of each group of
// filter vectors.
func planConvWeights(cs convSpec, isa isaParams) *flatCtx {
	s := cs.shape
	fvecs := (s.Filters + isa.lanes - 1) / isa.lanes
	io := convIO{isa: isa, vecs: fvecs, tail: s.Filters % isa.lanes}
	maskReg := io.tail != 0 && isa.maskInReg
	F, C := 4*s.Filters, 4*s.InC
	inStep, outStep := s.InH*s.InW*C, s.OutH*s.OutW*F
	ctx := &flatCtx{
		Symbol:    cs.symbol + isa.suffix,
		GoDecl:    cs.asm().goDecl(isa),
		Requires:  isa.requires,
		Reference: cs.reference,
		What:      cs.what,
		ArgSize:   8 * len(cs.args),
		Defines: append([]define{
			{"x_s", "AX", "x: current sample"}, {"dy_s", "BX", "dy: current sample"},
			{"dw_base", "CX", "dw"}, {"db_base", "DX", "db"},
		}, walkDefines...),
	}
	bcast := isa.reg(isa.regs - 1)
	free := isa.regs - 1
	if maskReg {
		io.mask = isa.reg(free - 1)
		free--
	}
	arg := func(name string) string { return fmt.Sprintf("%s+%d(FP)", name, 8*argIndex(cs.args, name)) }
	b := []poolWindow{{Insns: append(io.setup(), in("MOVQ", arg("dw"), "dw_base"), in("MOVQ", arg("db"), "db_base"))}}
	geom := walkGeom{
		hs:   segments(s.InH, s.KernelH, s.StrideH, s.PadTop, s.OutH),
		ws:   segments(s.InW, s.KernelW, s.StrideW, s.PadLeft, s.OutW),
		iRow: s.StrideH * s.InW * C, iCol: s.StrideW * C, oRow: s.OutW * F, oCol: F,
		shift: (s.PadTop*s.InW + s.PadLeft) * C,
	}
	taps := s.taps()
	// Passes: groups of gv filter vectors × chunks of T taps, as few as
	// fit the registers (T·gv accumulators, gv dy vectors, gv for db),
	// the groups and chunks as even as possible.
	bestPasses, G, T := 0, 0, 0
	for g := fvecs; g >= 1; g-- {
		t := min(taps, (free-2*g)/g)
		if t < 1 {
			continue
		}
		passes := ((fvecs + g - 1) / g) * ((taps + t - 1) / t)
		if bestPasses == 0 || passes < bestPasses {
			bestPasses, G, T = passes, g, t
		}
	}
	ng := (fvecs + G - 1) / G
	G = (fvecs + ng - 1) / ng
	nc := (taps + T - 1) / T
	T = (taps + nc - 1) / nc
	np := 0
	for v0 := 0; v0 < fvecs; v0 += G {
		gv := min(G, fvecs-v0)
		dyReg := func(j int) string { return isa.reg(free - 1 - j) }
		for t0 := 0; t0 < taps; t0 += T {
			t1 := min(t0+T, taps)
			withDB := t0 == 0
			// db below the dy vectors.
			dbReg := func(j int) string { return isa.reg(free - 1 - gv - j) }
			acc := func(t, j int) string { return isa.reg((t-t0)*gv + j) }
			dwAddr := func(t, j int) string { return fmt.Sprintf("%d(dw_base)", t*F+4*(v0+j)*isa.lanes) }
			head := poolWindow{Comment: fmt.Sprintf("filters %d..%d, weight rows %d..%d", v0*isa.lanes, min(s.Filters, (v0+gv)*isa.lanes)-1, t0, t1-1)}
			var stores []insn
			for t := t0; t < t1; t++ {
				for j := range gv {
					head.Insns = append(head.Insns, io.load(v0+j, dwAddr(t, j), acc(t, j)))
					stores = append(stores, io.store(v0+j, acc(t, j), dwAddr(t, j)))
				}
			}
			if withDB {
				for j := range gv {
					addr := fmt.Sprintf("%d(db_base)", 4*(v0+j)*isa.lanes)
					head.Insns = append(head.Insns, io.load(v0+j, addr, dbReg(j)))
					stores = append(stores, io.store(v0+j, dbReg(j), addr))
				}
			}
			label := fmt.Sprintf("%s_p%d", cs.symbol, np)
			walk := geom.walk(label, func(h, w segment, di int) []insn {
				var code []insn
				for j := range gv {
					code = append(code, io.load(v0+j, fmt.Sprintf("%d(dy_s)(ooff*1)", 4*(v0+j)*isa.lanes), dyReg(j)))
				}
				if withDB {
					for j := range gv {
						code = append(code, in("VADDPS", dyReg(j), dbReg(j), dbReg(j)))
					}
				}
				n := 0
				for t := t0; t < t1; t++ {
					kh, kw, c := t/(s.KernelW*s.InC), t/s.InC%s.KernelW, t%s.InC
					if kh < h.k0 || kh >= h.k1 || kw < w.k0 || kw >= w.k1 {
						continue
					}
					n++
					code = append(code, in("VBROADCASTSS", fmt.Sprintf("%d(x_s)(ioff*1)", di+(kh*s.InW+kw)*C+4*c), bcast))
					for j := range gv {
						code = append(code, in("VFMADD231PS", dyReg(j), bcast, acc(t, j)))
					}
				}
				if n == 0 && !withDB {
					return nil
				}
				return code
			})
			walk[0].Label = label
			b = append(b, head, poolWindow{Insns: []insn{in("MOVQ", arg("x"), "x_s"), in("MOVQ", arg("dy"), "dy_s"), in("MOVQ", arg("n"), "rows")}})
			b = append(b, walk...)
			b = append(b, poolWindow{Insns: append([]insn{
				in("ADDQ", fmt.Sprintf("$%d", inStep), "x_s"), in("ADDQ", fmt.Sprintf("$%d", outStep), "dy_s"),
				in("DECQ", "rows"), in("JNZ", label),
			}, stores...)})
			np++
		}
	}
	ctx.Blocks = b
	return ctx
}
