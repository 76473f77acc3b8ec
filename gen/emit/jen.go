package emit

import (
	"strings"

	"github.com/dave/jennifer/jen"
)

// Small builders for the code shapes the kernels repeat.

// floatArr is the type [d0][d1]...float32.
func floatArr(dims ...int) *jen.Statement {
	s := jen.Null()
	for _, d := range dims {
		s = s.Index(jen.Lit(d))
	}
	return s.Float32()
}

// ptrFloatArr is the type *[d0][d1]...float32.
func ptrFloatArr(dims ...int) *jen.Statement { return jen.Op("*").Add(floatArr(dims...)) }

// tileType is the type [Tile * size]float32 of a tile buffer: Tile samples
// of size values one after another, so that the first n samples are the
// slice buf[:n*size], as vector kernels take them.
func tileType(size int) *jen.Statement {
	return jen.Index(jen.Id("Tile").Op("*").Lit(size)).Float32()
}

// tileArr is the pointer type *[Tile * size]float32 of a tile buffer.
func tileArr(size int) *jen.Statement { return jen.Op("*").Add(tileType(size)) }

// tileArg is the pointer type *[Tile * size]int32 of max pooling's argmax
// buffer.
func tileArg(size int) *jen.Statement {
	return jen.Op("*").Index(jen.Id("Tile").Op("*").Lit(size)).Int32()
}

// forUp is `for v := lo; v < hi; v++ { body }`.
func forUp(v string, lo, hi jen.Code, body ...jen.Code) *jen.Statement {
	return jen.For(jen.Id(v).Op(":=").Add(lo), jen.Id(v).Op("<").Add(hi), jen.Id(v).Op("++")).Block(body...)
}

// forN is `for v := 0; v < hi; v++ { body }` with a constant bound.
func forN(v string, hi int, body ...jen.Code) *jen.Statement {
	return forUp(v, jen.Lit(0), jen.Lit(hi), body...)
}

// forRange is `for v := range x { body }`.
func forRange(v string, x jen.Code, body ...jen.Code) *jen.Statement {
	return jen.For(jen.Id(v).Op(":=").Range().Add(x)).Block(body...)
}

// arrView is `(*[size]float32)(slice[off:])`: a fixed-size view into an
// array, so that the loops over it need no bounds checks.
func arrView(size int, slice string, off jen.Code) *jen.Statement {
	return jen.Parens(ptrFloatArr(size)).Parens(jen.Id(slice).Index(off, jen.Empty()))
}

// term is coef·v in a linear expression.
type term struct {
	coef int
	v    string
}

// lin renders Σ coef·v + c, leaving out zero terms and unit coefficients
// (e.g. `oy*16 + ox*2 - 9`), so that the constant offsets of the kernels
// read as in hand-written code.
func lin(c int, terms ...term) *jen.Statement {
	var s *jen.Statement
	for _, t := range terms {
		if t.coef == 0 {
			continue
		}
		var x *jen.Statement
		switch t.coef {
		case 1:
			x = jen.Id(t.v)
		case -1:
			x = jen.Op("-").Id(t.v)
		default:
			x = jen.Id(t.v).Op("*").Lit(t.coef)
		}
		if s == nil {
			s = x
		} else {
			s = s.Op("+").Add(x)
		}
	}
	switch {
	case s == nil:
		return jen.Lit(c)
	case c > 0:
		return s.Op("+").Lit(c)
	case c < 0:
		return s.Op("-").Lit(-c)
	}
	return s
}

// wrapDoc formats text as a // comment wrapped at about 76 columns, as
// gofmt-formatted hand-written code would be (jennifer writes a comment on
// one line, or as /* */ when it has line breaks). text never holds a line
// break: the names in it are Go identifiers.
func wrapDoc(text string) string {
	const width = 76
	var b strings.Builder
	line := 0
	for _, word := range strings.Fields(text) {
		switch {
		case b.Len() == 0:
			b.WriteString("// ")
		case line+1+len(word) > width:
			b.WriteString("\n// ")
			line = 0
		default:
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += len(word)
	}
	return b.String()
}
