package asm

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// The batch-norm kernels (BatchNormMoments, BatchNormSums, ChannelAffine,
// ChannelAffineReLU, BatchNormBackward) share one loop nest: per channel vector, its
// per-channel coefficients or float64 sums in registers, a loop over the
// pixels, one channel vector of each tensor per pixel (the pixels are
// Units·4 bytes apart). Each lane computes its channel with the same
// operations in the same order as the Go reference, without FMA (the
// float64 products of two float32 values are exact anyway), so every path
// gives the same bits. Channels must be a multiple of 8; AVX-512 masks a
// last half vector. The channel count and the pixels come as arguments:
// one TEXT per op and ISA serves every layer.

// channelKind is one of the batch-norm ops.
type channelKind int

const (
	chMoments    channelKind = iota // sum += x, sumSq += x·x (float64)
	chSums                          // sumDy += dy, sumDyX += dy·x (float64)
	chAffine                        // y = (x − m)·a + beta
	chBackward                      // dx = k·dy + u·(x − m) + v
	chSum                           // sum = Σ x (float32, from zero)
	chAffineReLU                    // y = max((x − m)·a + beta, 0)
)

// channelSpec is one batch-norm kernel.
type channelSpec struct {
	symbol    string
	kind      channelKind
	channels  int
	reference string
}

// channelArgs are each kind's TEXT arguments: float32 tensors and
// coefficients, float64 sums, then the pixels and the bytes per pixel.
var channelArgs = map[channelKind][]string{
	chMoments:  {"x", "sum", "sumSq", "pixels", "c4"},
	chSums:     {"x", "dy", "sumDy", "sumDyX", "pixels", "c4"},
	chAffine:   {"y", "x", "m", "a", "beta", "pixels", "c4"},
	chBackward: {"dx", "dy", "x", "k", "u", "v", "m", "pixels", "c4"},
	chSum:      {"x", "sum", "pixels", "c4"},
	// chAffineReLU's are chAffine's.
	chAffineReLU: {"y", "x", "m", "a", "beta", "pixels", "c4"},
}

func (c channelSpec) asm() asmFunc {
	args := channelArgs[c.kind]
	f := asmFunc{symbol: c.symbol, args: args, counts: args[len(args)-2:], values: map[string]jen.Code{"pixels": jen.Id("p"), "c4": jen.Lit(4 * c.channels)}}
	if c.kind == chMoments || c.kind == chSums {
		f.f64 = args[len(args)-4 : len(args)-2]
	}
	return f
}

// isChannelOp says whether op is one of the batch-norm kernels.
func isChannelOp(op Op) bool {
	_, ok := channelOps[op]
	return ok
}

var channelOps = map[Op]channelKind{
	BatchNormMoments: chMoments, BatchNormSums: chSums, ChannelAffine: chAffine, BatchNormBackward: chBackward,
	ChannelSum: chSum, ChannelAffineReLU: chAffineReLU,
}

// channels lists the batch-norm kernels that implement k.
func (k Kernel) channels() []channelSpec {
	kind, ok := channelOps[k.Op]
	if !ok {
		return nil
	}
	return []channelSpec{{symbol: k.Name, kind: kind, channels: k.Units, reference: k.Name + "Go"}}
}

// channelRoles splits a kind's array arguments: the float32 tensors
// walked pixel by pixel (in the pointer registers ch_p0…), the float32
// per-channel coefficients, the float64 per-channel sums.
func channelRoles(kind channelKind) (tensors, coefs, sums []string) {
	switch kind {
	case chMoments:
		return []string{"x"}, nil, []string{"sum", "sumSq"}
	case chSums:
		return []string{"x", "dy"}, nil, []string{"sumDy", "sumDyX"}
	case chAffine, chAffineReLU:
		return []string{"y", "x"}, []string{"m", "a", "beta"}, nil
	case chSum:
		// sum is written, not read: a per-channel float32 array all the
		// same.
		return []string{"x"}, []string{"sum"}, nil
	}
	return []string{"dx", "dy", "x"}, []string{"k", "u", "v", "m"}, nil
}

// planChannel plans the loop nest for one ISA.
func planChannel(cs channelSpec, isa isaParams) *flatCtx {
	z := isa.suffix == "AVX512"
	args := channelArgs[cs.kind]
	arg := func(name string) string { return argAt(args, name) }
	vb := 4 * isa.lanes
	what := map[channelKind]string{
		chMoments:  "sum[c] += x[p][c]; sumSq[c] += x[p][c]² (float64)",
		chSums:     "sumDy[c] += dy[p][c]; sumDyX[c] += dy[p][c]·x[p][c] (float64)",
		chAffine:   "y[p][c] = (x[p][c] − m[c])·a[c] + beta[c]",
		chBackward: "dx[p][c] = k[c]·dy[p][c] + u[c]·(x[p][c] − m[c]) + v[c]",
		chSum:      "sum[c] = Σ_p x[p][c] (from +0, pixel by pixel)",
		// As ReLUForward: VMAXPS returns its second source when either
		// is NaN, the value; adding +0 makes a −0 +0.
		chAffineReLU: "y[p][c] = max((x[p][c] − m[c])·a[c] + beta[c], 0) (NaN kept, −0 made +0)",
	}[cs.kind]
	ctx := sharedCtx(cs.asm(), isa, cs.reference, []string{what + "   p < pixels, c < c4/4", "Per channel vector, a loop over the pixels."}, []define{
		{"ch_cv", "DX", "byte offset of the channel vector"}, {"ch_c4", "SI", "bytes per pixel"},
		{"ch_left", "CX", "pixels left"}, {"ch_t", "AX", "scratch"},
		{"ch_p0", "DI", "first tensor at the pixel"}, {"ch_p1", "R8", "second tensor"}, {"ch_p2", "R9", "third tensor"},
	})
	tensors, coefs, sums := channelRoles(cs.kind)
	ptr := func(name string) string {
		for i, t := range tensors {
			if t == name {
				return fmt.Sprintf("ch_p%d", i)
			}
		}
		panic("asm: no tensor " + name)
	}
	// Vector registers: coefficients from the top, float64 sums (lo, hi
	// halves of the channel vector) from 8, temporaries from 0.
	coef := func(name string) string {
		for i, c := range coefs {
			if c == name {
				return isa.reg(isa.regs - 1 - i)
			}
		}
		panic("asm: no coefficient " + name)
	}
	sumReg := func(i, half int) string { return isa.reg(8 + 2*i + half) }
	t := func(i int) string { return isa.reg(i) }
	t1 := t(1)                // ChannelAffineReLU's zero
	half := 4 * isa.lanes / 2 // bytes of float64s from one half of a float32 vector, in the sums
	io := k1IO{z}
	load, store := io.load, io.store
	// sumAddr is the float64 sums' address of half h of the channel
	// vector: 8 bytes per channel, so the byte offset is 2·cv.
	sumAddr := func(base string, h int) string { return fmt.Sprintf("%d(%s)(ch_cv*2)", h*2*half, base) }
	chanL, pixL := cs.symbol+"_chan", cs.symbol+"_pixel"
	b := []poolWindow{{Insns: []insn{in("MOVQ", arg("c4"), "ch_c4"), in("XORQ", "ch_cv", "ch_cv")}}}
	if cs.kind == chAffineReLU {
		b[0].Insns = append(b[0].Insns, in("VXORPS", t1, t1, t1))
	}
	head := poolWindow{Label: chanL}
	if z {
		head.Comment = "K1: the vector's lanes; K2: its upper half's float64s"
		head.Insns = append(head.Insns, laneMask("ch_c4", "ch_cv", "ch_t", "ch_p0", "ch_p1", vb)...)
		head.Insns = append(head.Insns, in("MOVL", "$0xff", "ch_p0"), in("MOVL", "$0", "ch_p1"), in("CMOVQLT", "ch_p1", "ch_p0"), in("KMOVW", "ch_p0", "K2"))
	}
	if cs.kind == chSum {
		head.Insns = append(head.Insns, in("VXORPS", isa.reg(1), isa.reg(1), isa.reg(1)))
	} else {
		for _, c := range coefs {
			head.Insns = append(head.Insns, in("MOVQ", arg(c), "ch_t"), load("(ch_t)(ch_cv*1)", coef(c)))
		}
	}
	for i, s := range sums {
		head.Insns = append(head.Insns, in("MOVQ", arg(s), "ch_t"))
		for h := range 2 {
			switch {
			case z && h == 1:
				head.Insns = append(head.Insns, in("VMOVUPD.Z", sumAddr("ch_t", h), "K2", sumReg(i, h)))
			default:
				head.Insns = append(head.Insns, in("VMOVUPD", sumAddr("ch_t", h), sumReg(i, h)))
			}
		}
	}
	for _, t := range tensors {
		head.Insns = append(head.Insns, in("MOVQ", arg(t), ptr(t)), in("ADDQ", "ch_cv", ptr(t)))
	}
	head.Insns = append(head.Insns, in("MOVQ", arg("pixels"), "ch_left"))
	b = append(b, head)

	// cvt converts the float32 vector in reg to float64 halves lo and hi.
	cvt := func(reg, lo, hi string) []insn {
		if z {
			return []insn{in("VCVTPS2PD", "Y"+reg[1:], lo), in("VEXTRACTF64X4", "$1", reg, "Y"+hi[1:]), in("VCVTPS2PD", "Y"+hi[1:], hi)}
		}
		return []insn{in("VCVTPS2PD", "X"+reg[1:], lo), in("VEXTRACTF128", "$1", reg, "X"+hi[1:]), in("VCVTPS2PD", "X"+hi[1:], hi)}
	}
	pix := poolWindow{Label: pixL}
	switch cs.kind {
	case chMoments:
		pix.Insns = append(pix.Insns, load("(ch_p0)", t(0)))
		pix.Insns = append(pix.Insns, cvt(t(0), t(1), t(2))...)
		for h, r := range []string{t(1), t(2)} {
			pix.Insns = append(pix.Insns, in("VADDPD", r, sumReg(0, h), sumReg(0, h)), in("VMULPD", r, r, r), in("VADDPD", r, sumReg(1, h), sumReg(1, h)))
		}
	case chSums:
		pix.Insns = append(pix.Insns, load("(ch_p1)", t(0)), load("(ch_p0)", t(3)))
		pix.Insns = append(pix.Insns, cvt(t(0), t(1), t(2))...)
		pix.Insns = append(pix.Insns, cvt(t(3), t(4), t(5))...)
		for h, r := range [][2]string{{t(1), t(4)}, {t(2), t(5)}} {
			pix.Insns = append(pix.Insns, in("VADDPD", r[0], sumReg(0, h), sumReg(0, h)), in("VMULPD", r[1], r[0], r[1]), in("VADDPD", r[1], sumReg(1, h), sumReg(1, h)))
		}
	case chAffine, chAffineReLU:
		pix.Insns = append(pix.Insns, load("(ch_p1)", t(0)),
			in("VSUBPS", coef("m"), t(0), t(0)), in("VMULPS", coef("a"), t(0), t(0)), in("VADDPS", coef("beta"), t(0), t(0)))
		if cs.kind == chAffineReLU {
			pix.Insns = append(pix.Insns, in("VMAXPS", t(0), t1, t(0)), in("VADDPS", t1, t(0), t(0)))
		}
		pix.Insns = append(pix.Insns, store(t(0), "(ch_p0)"))
	case chSum:
		pix.Insns = append(pix.Insns, load("(ch_p0)", t(0)), in("VADDPS", t(0), t(1), t(1)))
	case chBackward:
		pix.Insns = append(pix.Insns, load("(ch_p1)", t(0)), load("(ch_p2)", t(1)),
			in("VMULPS", coef("k"), t(0), t(0)), in("VSUBPS", coef("m"), t(1), t(1)), in("VMULPS", coef("u"), t(1), t(1)),
			in("VADDPS", t(1), t(0), t(0)), in("VADDPS", coef("v"), t(0), t(0)),
			store(t(0), "(ch_p0)"))
	}
	for _, tn := range tensors {
		pix.Insns = append(pix.Insns, in("ADDQ", "ch_c4", ptr(tn)))
	}
	pix.Insns = append(pix.Insns, in("DECQ", "ch_left"), in("JNZ", pixL))
	b = append(b, pix)
	tail := poolWindow{}
	if cs.kind == chSum {
		tail.Insns = append(tail.Insns, in("MOVQ", arg("sum"), "ch_t"), store(t(1), "(ch_t)(ch_cv*1)"))
	}
	for i, s := range sums {
		tail.Insns = append(tail.Insns, in("MOVQ", arg(s), "ch_t"))
		for h := range 2 {
			if z && h == 1 {
				tail.Insns = append(tail.Insns, in("VMOVUPD", sumReg(i, h), "K2", sumAddr("ch_t", h)))
			} else {
				tail.Insns = append(tail.Insns, in("VMOVUPD", sumReg(i, h), sumAddr("ch_t", h)))
			}
		}
	}
	tail.Insns = append(tail.Insns, in("ADDQ", fmt.Sprintf("$%d", vb), "ch_cv"), in("CMPQ", "ch_cv", "ch_c4"), in("JLT", chanL))
	ctx.Blocks = append(b, tail)
	return ctx
}

// channelSignature is the dispatcher's signature of a batch-norm kernel
// of C channels: the tensors as slices of whole pixels (the first one's
// length gives the pixels), per-channel arrays.
func (k Kernel) channelSignature() signature {
	C := k.Units
	tensors, coefs, sums := channelRoles(channelOps[k.Op])
	params := []jen.Code{jen.List(idCodes(tensors)...).Index().Float32()}
	if len(coefs) > 0 {
		params = append(params, jen.List(idCodes(coefs)...).Op("*").Index(jen.Lit(C)).Float32())
	}
	if len(sums) > 0 {
		params = append(params, jen.List(idCodes(sums)...).Op("*").Index(jen.Lit(C)).Float64())
	}
	none := []jen.Code{jen.Return()}
	if k.Op == ChannelSum {
		none = []jen.Code{jen.Op("*").Id("sum").Op("=").Index(jen.Lit(C)).Float32().Values(), jen.Return()}
	}
	prologue := []jen.Code{
		jen.Id("p").Op(":=").Len(jen.Id(tensors[0])).Op("/").Lit(C),
		jen.If(jen.Id("p").Op("==").Lit(0)).Block(none...),
	}
	for _, t := range tensors {
		prologue = append(prologue, jen.Id("_").Op("=").Id(t).Index(jen.Id("p").Op("*").Lit(C).Op("-").Lit(1)))
	}
	return signature{params: params, args: append(append(append([]string{}, tensors...), coefs...), sums...), prologue: prologue}
}

// idCodes is the identifiers names as jen.Code.
func idCodes(names []string) []jen.Code {
	out := make([]jen.Code, len(names))
	for i, n := range names {
		out[i] = jen.Id(n)
	}
	return out
}

// channelRefBody is the reference loop of a batch-norm kernel.
func (k Kernel) channelRefBody() []jen.Code {
	C := k.Units
	kind := channelOps[k.Op]
	first := channelArgs[kind][0]
	at := func(name string) *jen.Statement { return jen.Id(name).Index(jen.Id("i").Op("+").Id("c")) }
	c := func(name string) *jen.Statement { return jen.Id(name).Index(jen.Id("c")) }
	var body []jen.Code
	switch kind {
	case chMoments:
		body = []jen.Code{
			jen.Id("v").Op(":=").Float64().Parens(at("x")),
			c("sum").Op("+=").Id("v"),
			c("sumSq").Op("+=").Id("v").Op("*").Id("v"),
		}
	case chSums:
		body = []jen.Code{
			jen.Id("d").Op(":=").Float64().Parens(at("dy")),
			c("sumDy").Op("+=").Id("d"),
			c("sumDyX").Op("+=").Id("d").Op("*").Float64().Parens(at("x")),
		}
	case chAffine:
		body = []jen.Code{at("y").Op("=").Parens(at("x").Op("-").Add(c("m"))).Op("*").Add(c("a")).Op("+").Add(c("beta"))}
	case chAffineReLU:
		body = []jen.Code{at("y").Op("=").Max(jen.Parens(at("x").Op("-").Add(c("m"))).Op("*").Add(c("a")).Op("+").Add(c("beta")), jen.Lit(0))}
	case chSum:
		body = []jen.Code{c("sum").Op("+=").Add(at("x"))}
	case chBackward:
		body = []jen.Code{at("dx").Op("=").Add(c("k")).Op("*").Add(at("dy")).Op("+").Add(c("u")).Op("*").Parens(at("x").Op("-").Add(c("m"))).Op("+").Add(c("v"))}
	}
	var head []jen.Code
	if kind == chSum {
		head = append(head, jen.Op("*").Id("sum").Op("=").Index(jen.Lit(C)).Float32().Values())
	}
	return append(head,
		jen.Id("p").Op(":=").Len(jen.Id(first)).Op("/").Lit(C),
		jen.For(jen.Id("i").Op(":=").Lit(0), jen.Id("i").Op("<").Id("p").Op("*").Lit(C), jen.Id("i").Op("+=").Lit(C)).Block(
			jen.For(jen.Id("c").Op(":=").Range().Lit(C)).Block(body...),
		),
	)
}
