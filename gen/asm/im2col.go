package asm

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// Im2colInterior (see Op) copies, for each output pixel whose window lies
// inside the input, its KernelH runs of KernelW·InC contiguous inputs
// into its im2col row: whole vectors, then the tail. AVX-512 masks the
// tail with K1; AVX2 avoids VMASKMOVPS stores, which AMD's Zen 2
// microcodes (about 15 cycles against 1), and copies the run's last
// whole vector again, overlapping the one before. A run shorter than a
// vector (a first layer's few input channels) takes a loop of its own:
// one masked copy per run (AVX-512), or on AVX2 a masked load and a whole
// store whose lanes past the run the next runs overwrite, but in a row's
// last window, which goes in pieces of 4, 2 and 1 floats. The copies are
// what a Go im2col spends its time on when a run is short (LeNet-5's first
// layer: runs of 5 floats, each a bounds-checked scalar copy or a call of
// memmove). The geometry is passed as arguments: every convolution
// shares one TEXT per ISA.
//
// Col2imInterior (see Op) runs the same loops with the copy reversed into
// a sum: each run of x is loaded, its im2col row added (VADDPS, x as the
// first source, as Go's x += row computes it) and stored back (an AVX2
// tail in pieces, since no lane may be added twice), the runs one after
// another, so that the overlapping windows of neighbouring
// pixels add in row-major order on every path. Its TEXT takes the same
// arguments.

// im2colArgs are the TEXT symbol's arguments: the first interior row of
// cols and the first interior window of x, then the interior's rows and
// columns, the kernel rows, and byte counts (a run; an input row; the
// step between windows along a row and between rows of windows; cols
// bytes between the last interior pixel of a row and the first of the
// next).
var im2colArgs = []string{"cols", "x", "rowCount", "colCount", "kernelRows", "run", "xRow", "colStep", "rowStep", "colsSkip"}

// im2colSpec is one Im2colInterior kernel, or, with scatter, one
// Col2imInterior kernel.
type im2colSpec struct {
	symbol    string
	scatter   bool
	values    map[string]jen.Code
	what      []string
	reference string
}

func (m im2colSpec) asm() asmFunc {
	return asmFunc{symbol: m.symbol, args: im2colArgs, counts: im2colArgs[2:], values: m.values}
}

// im2cols lists the im2col and col2im kernels that implement k.
func (k Kernel) im2cols() []im2colSpec {
	if k.Op != Im2colInterior && k.Op != Col2imInterior {
		return nil
	}
	c := k.Conv
	ylo, yhi, xlo, xhi := c.depthwiseInterior()
	C := 4 * c.InC
	kkc := c.KernelH * c.KernelW * c.InC
	cols := xhi - xlo
	what := []string{
		"cols[oh·OutW+ow][kh][kw][c] = x[oh·StrideH−PadTop+kh][ow·StrideW−PadLeft+kw][c]",
		"for the output pixels whose windows lie inside the input. The geometry comes",
		"in the arguments: every such kernel of the package runs this TEXT.",
	}
	if k.Op == Col2imInterior {
		what = []string{
			"x[oh·StrideH−PadTop+kh][ow·StrideW−PadLeft+kw][c] += cols[oh·OutW+ow][kh][kw][c]",
			"for the output pixels whose windows lie inside the input, in row-major order.",
			"The geometry comes in the arguments: every such kernel of the package runs this TEXT.",
		}
	}
	return []im2colSpec{{
		symbol: k.Name, reference: k.Name + "Go", scatter: k.Op == Col2imInterior,
		values: map[string]jen.Code{
			"cols":       jen.Op("&").Id("cols").Index(jen.Lit((ylo*c.OutW + xlo) * kkc)),
			"x":          jen.Op("&").Id("x").Index(jen.Lit((ylo*c.StrideH-c.PadTop)*c.InW*c.InC + (xlo*c.StrideW-c.PadLeft)*c.InC)),
			"rowCount":   jen.Lit(yhi - ylo),
			"colCount":   jen.Lit(cols),
			"kernelRows": jen.Lit(c.KernelH),
			"run":        jen.Lit(c.KernelW * C),
			"xRow":       jen.Lit(c.InW * C),
			"colStep":    jen.Lit(c.StrideW * C),
			"rowStep":    jen.Lit(c.StrideH*c.InW*C - cols*c.StrideW*C),
			"colsSkip":   jen.Lit((c.OutW - cols) * kkc * 4),
		},
		what: what,
	}}
}

func (c ConvShape) validateIm2col() error {
	for _, v := range []int{c.InH, c.InW, c.InC, c.KernelH, c.KernelW, c.StrideH, c.StrideW, c.OutH, c.OutW} {
		if v < 1 {
			return fmt.Errorf("sizes and strides must be ≥ 1: %+v", c)
		}
	}
	if c.PadTop < 0 || c.PadLeft < 0 {
		return fmt.Errorf("negative padding %d,%d", c.PadTop, c.PadLeft)
	}
	if ylo, yhi, xlo, xhi := c.depthwiseInterior(); ylo >= yhi || xlo >= xhi {
		return fmt.Errorf("no output pixel has its whole window inside the input")
	}
	if int64(c.InH)*int64(c.InW)*int64(c.InC) > 1<<28 || int64(c.OutH)*int64(c.OutW)*int64(c.KernelH*c.KernelW)*int64(c.InC) > 1<<28 {
		return fmt.Errorf("the input or the im2col matrix is too large")
	}
	return nil
}

// planIm2col plans the loop nest for one ISA.
func planIm2col(m im2colSpec, isa isaParams) *flatCtx {
	z := isa.suffix == "AVX512"
	arg := func(name string) string { return argAt(im2colArgs, name) }
	ctx := sharedCtx(m.asm(), isa, m.reference, m.what, []define{
		{"i2c_dst", "DI", "cols: current run"}, {"i2c_x", "SI", "x: current window"},
		{"i2c_src", "R8", "x: current run"}, {"i2c_rows", "R9", "rows of windows left"},
		{"i2c_cols", "R10", "windows left in the row"}, {"i2c_kh", "R11", "kernel rows left"},
		{"i2c_left", "CX", "bytes of the run left"}, {"i2c_off", "DX", "byte offset in the run"},
	})
	vb := 4 * isa.lanes
	v := isa.reg(0)
	mask := isa.reg(isa.regs - 1) // AVX2: the tail's VMASKMOVPS mask
	ctx.Defines = append(ctx.Defines, define{"i2c_vecs", "R12", "whole vectors per run"}, define{"i2c_tail", "R13", "bytes after them"})
	rowL, colL, khL, vecL, tailL, nextL := m.symbol+"_row", m.symbol+"_col", m.symbol+"_kh", m.symbol+"_vec", m.symbol+"_tail", m.symbol+"_next"
	shortL, windowL := m.symbol+"_short", m.symbol+"_window"
	setup := []insn{
		in("MOVQ", arg("cols"), "i2c_dst"), in("MOVQ", arg("x"), "i2c_x"), in("MOVQ", arg("rowCount"), "i2c_rows"),
		in("MOVQ", arg("run"), "i2c_vecs"), in("MOVQ", "i2c_vecs", "i2c_tail"),
		in("SHRQ", fmt.Sprintf("$%d", bits(vb)), "i2c_vecs"), in("ANDQ", fmt.Sprintf("$%d", vb-1), "i2c_tail"),
	}
	if z {
		setup = append(setup, insn{Op: "MOVQ", Args: "i2c_tail, CX", Comment: "K1: the tail's lanes"},
			in("SHRQ", "$2", "CX"), in("MOVL", "$1", "AX"), in("SHLL", "CX", "AX"), in("DECL", "AX"), in("KMOVW", "AX", "K1"))
	} else {
		setup = append(setup, insn{Op: "LEAQ", Args: "tailmask<>+32(SB), AX", Comment: "the tail's mask: tailmask<>+32−tail"},
			in("SUBQ", "i2c_tail", "AX"), in("VMOVUPS", "(AX)", mask))
		if !m.scatter {
			ctx.Defines = append(ctx.Defines, define{"i2c_whole", "BX", "whole stores while more windows are left"})
			setup = append(setup,
				insn{Op: "MOVQ", Args: arg("kernelRows") + ", AX", Comment: "whole stores if (KernelH+1)·tail ≥ 32"},
				in("INCQ", "AX"), in("IMULQ", "i2c_tail", "AX"),
				in("MOVQ", "$1", "i2c_whole"), in("MOVQ", "$0x7fffffffffffffff", "CX"),
				in("CMPQ", "AX", fmt.Sprintf("$%d", vb)), in("CMOVQLT", "CX", "i2c_whole"))
		}
	}
	b := []poolWindow{{Insns: setup}}
	b = append(b, poolWindow{Label: rowL, Insns: []insn{in("MOVQ", arg("colCount"), "i2c_cols")}})
	b = append(b, poolWindow{Label: colL, Insns: []insn{in("MOVQ", "i2c_x", "i2c_src"), in("MOVQ", arg("kernelRows"), "i2c_kh"), in("TESTQ", "i2c_vecs", "i2c_vecs"), in("JNZ", khL)}})
	// A run shorter than a vector (a first layer's few input channels)
	// is one masked copy (a scatter adds it into the run instead): its
	// own loop, without the run's bookkeeping. AVX2 stores no mask (see
	// the top of the file): a whole vector where the next runs overwrite
	// what lies past the run, pieces of 4, 2 and 1 floats elsewhere.
	short := poolWindow{Label: shortL, Comment: "runs shorter than a vector: one masked copy (or sum) each"}
	switch {
	case z && m.scatter:
		short.Insns = append(short.Insns, in("VMOVUPS.Z", "(i2c_src)", "K1", v), in("VADDPS.Z", "(i2c_dst)", v, "K1", v), in("VMOVUPS", v, "K1", "(i2c_src)"))
	case z:
		short.Insns = append(short.Insns, in("VMOVUPS.Z", "(i2c_src)", "K1", v), in("VMOVUPS", v, "K1", "(i2c_dst)"))
	}
	shortEnd := []insn{in("ADDQ", "i2c_tail", "i2c_dst"), in("ADDQ", arg("xRow"), "i2c_src"), in("DECQ", "i2c_kh"), in("JNZ", shortL), in("JMP", windowL)}
	if z {
		b = append(b, poolWindow{Label: short.Label, Comment: short.Comment, Insns: append(short.Insns, shortEnd...)})
	} else {
		if !m.scatter {
			// A window but the row's last: each run as a whole vector.
			// The lanes past it fall on the window's later runs or on
			// the next window's, which this loop writes after it.
			wholeL := m.symbol + "_whole"
			b[len(b)-1].Insns = append(b[len(b)-1].Insns, in("CMPQ", "i2c_cols", "i2c_whole"), in("JLE", shortL))
			b = append(b, poolWindow{Label: wholeL, Comment: "short runs, not in a row's last window: whole stores", Insns: []insn{
				in("VMASKMOVPS", "(i2c_src)", mask, v), in("VMOVUPS", v, "(i2c_dst)"),
				in("ADDQ", "i2c_tail", "i2c_dst"), in("ADDQ", arg("xRow"), "i2c_src"), in("DECQ", "i2c_kh"), in("JNZ", wholeL), in("JMP", windowL),
			}})
		}
		short.Comment = "runs shorter than a vector: in pieces of 4, 2 and 1 floats"
		short.Insns = []insn{in("XORQ", "i2c_off", "i2c_off")}
		b = append(b, short)
		b = append(b, im2colPieces(m.symbol+"_shortp", m.scatter, shortEnd)...)
	}
	b = append(b, poolWindow{Label: khL, Comment: "one run: whole vectors, then the tail", Insns: []insn{
		in("MOVQ", "i2c_vecs", "i2c_left"), in("XORQ", "i2c_off", "i2c_off"), in("TESTQ", "i2c_left", "i2c_left"), in("JZ", tailL),
	}})
	// src and dst are x's run and cols' row: a copy from src to dst, or
	// (scatter) src += dst.
	const src, dst = "(i2c_src)(i2c_off*1)", "(i2c_dst)(i2c_off*1)"
	vec := []insn{in("VMOVUPS", src, v), in("VMOVUPS", v, dst)}
	if m.scatter {
		vec = []insn{in("VMOVUPS", src, v), in("VADDPS", dst, v, v), in("VMOVUPS", v, src)}
	}
	b = append(b, poolWindow{Label: vecL, Insns: append(vec,
		in("ADDQ", fmt.Sprintf("$%d", vb), "i2c_off"), in("DECQ", "i2c_left"), in("JNZ", vecL),
	)})
	tail := poolWindow{Label: tailL, Insns: []insn{in("TESTQ", "i2c_tail", "i2c_tail"), in("JZ", nextL)}}
	switch {
	case z && m.scatter:
		tail.Insns = append(tail.Insns, in("VMOVUPS.Z", src, "K1", v), in("VADDPS.Z", dst, v, "K1", v), in("VMOVUPS", v, "K1", src), in("ADDQ", "i2c_tail", "i2c_off"))
	case z:
		tail.Insns = append(tail.Insns, in("VMOVUPS.Z", src, "K1", v), in("VMOVUPS", v, "K1", dst), in("ADDQ", "i2c_tail", "i2c_off"))
	case !m.scatter:
		// The run's last whole vector, overlapping the one before it:
		// the same floats copied twice, no lane past the run.
		tail.Insns = append(tail.Insns, in("ADDQ", "i2c_tail", "i2c_off"),
			in("VMOVUPS", "-32"+src, v), in("VMOVUPS", v, "-32"+dst))
	}
	b = append(b, tail)
	if !z && m.scatter {
		// A sum must not add a lane twice: the tail in pieces.
		b = append(b, im2colPieces(m.symbol+"_tailp", true, nil)...)
	}
	b = append(b, poolWindow{Label: nextL, Insns: []insn{
		in("ADDQ", "i2c_off", "i2c_dst"), in("ADDQ", arg("xRow"), "i2c_src"), in("DECQ", "i2c_kh"), in("JNZ", khL),
	}})
	b = append(b, poolWindow{Label: windowL, Insns: []insn{
		in("ADDQ", arg("colStep"), "i2c_x"), in("DECQ", "i2c_cols"), in("JNZ", colL),
		in("ADDQ", arg("rowStep"), "i2c_x"), in("ADDQ", arg("colsSkip"), "i2c_dst"), in("DECQ", "i2c_rows"), in("JNZ", rowL),
	}})
	ctx.Blocks = b
	return ctx
}

// im2colPieces copies (or, with scatter, adds) the i2c_tail bytes (4 to
// 28) of a run from i2c_off on with xmm and scalar moves, 16, 8 and 4
// bytes as the tail's bits say, advancing i2c_off past them; then runs
// end. The AVX2 path's stand-in for a VMASKMOVPS store (see planIm2col).
func im2colPieces(label string, scatter bool, end []insn) []poolWindow {
	const src, dst = "(i2c_src)(i2c_off*1)", "(i2c_dst)(i2c_off*1)"
	var b []poolWindow
	// move loads or stores the piece; addOne adds a memory operand to it
	// (the 4-byte piece; the others add through X1, so that no load
	// reaches past the piece).
	pieces := []struct {
		bytes        int
		move, addOne string
	}{{16, "VMOVUPS", ""}, {8, "VMOVSD", ""}, {4, "VMOVSS", "VADDSS"}}
	for i, p := range pieces {
		next := fmt.Sprintf("%s%d", label, i+1)
		w := poolWindow{Insns: []insn{in("TESTQ", fmt.Sprintf("$%d", p.bytes), "i2c_tail"), in("JZ", next)}}
		if i > 0 {
			w.Label = fmt.Sprintf("%s%d", label, i)
		}
		if !scatter {
			w.Insns = append(w.Insns, in(p.move, src, "X0"), in(p.move, "X0", dst))
		} else {
			// x (in X0) is the first source, as in Go's x += row.
			w.Insns = append(w.Insns, in(p.move, src, "X0"))
			if p.addOne != "" {
				w.Insns = append(w.Insns, in(p.addOne, dst, "X0", "X0"))
			} else {
				w.Insns = append(w.Insns, in(p.move, dst, "X1"), in("VADDPS", "X1", "X0", "X0"))
			}
			w.Insns = append(w.Insns, in(p.move, "X0", src))
		}
		w.Insns = append(w.Insns, in("ADDQ", fmt.Sprintf("$%d", p.bytes), "i2c_off"))
		b = append(b, w)
	}
	return append(b, poolWindow{Label: fmt.Sprintf("%s%d", label, len(pieces)), Insns: end})
}

// im2colRefBody is the reference of Im2colInterior and of
// Col2imInterior (the same loops, adding each run of cols into x).
func (k Kernel) im2colRefBody() []jen.Code {
	c := k.Conv
	ylo, yhi, xlo, xhi := c.depthwiseInterior()
	run := c.KernelW * c.InC
	kkc := c.KernelH * run
	move := []jen.Code{jen.Copy(jen.Id("cols").Index(jen.Id("dst"), jen.Id("dst").Op("+").Lit(run)), jen.Id("x").Index(jen.Id("src"), jen.Id("src").Op("+").Lit(run)))}
	if k.Op == Col2imInterior {
		move = []jen.Code{
			jen.Id("d").Op(":=").Parens(jen.Op("*").Index(jen.Lit(run)).Float32()).Call(jen.Id("x").Index(jen.Id("src").Op(":"))),
			jen.Id("r").Op(":=").Parens(jen.Op("*").Index(jen.Lit(run)).Float32()).Call(jen.Id("cols").Index(jen.Id("dst").Op(":"))),
			jen.For(jen.Id("i").Op(":=").Range().Id("d")).Block(jen.Id("d").Index(jen.Id("i")).Op("+=").Id("r").Index(jen.Id("i"))),
		}
	}
	src := jen.Id("src").Op(":=").Parens(jen.Parens(jen.Id("oh").Op("*").Lit(c.StrideH).Op("-").Lit(c.PadTop).Op("+").Id("kh")).Op("*").Lit(c.InW).Op("+").Id("ow").Op("*").Lit(c.StrideW).Op("-").Lit(c.PadLeft)).Op("*").Lit(c.InC)
	dst := jen.Id("dst").Op(":=").Parens(jen.Id("oh").Op("*").Lit(c.OutW).Op("+").Id("ow")).Op("*").Lit(kkc).Op("+").Id("kh").Op("*").Lit(run)
	return []jen.Code{
		jen.For(jen.Id("oh").Op(":=").Lit(ylo), jen.Id("oh").Op("<").Lit(yhi), jen.Id("oh").Op("++")).Block(
			jen.For(jen.Id("ow").Op(":=").Lit(xlo), jen.Id("ow").Op("<").Lit(xhi), jen.Id("ow").Op("++")).Block(
				jen.For(jen.Id("kh").Op(":=").Range().Lit(c.KernelH)).Block(append([]jen.Code{src, dst}, move...)...),
			),
		),
	}
}

// bits is log2 of a power of two.
func bits(n int) int {
	b := 0
	for n > 1 {
		n >>= 1
		b++
	}
	return b
}
