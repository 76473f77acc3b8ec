package runtime

import (
	"fmt"
	"math/rand/v2"
)

// InitParams fills every parameter's Value from its ParamInfo.Init, drawing
// from NewRand(seed, StreamInit) in the order of params (a [Model.Params]
// list) and, within a tensor, in the order of its values:
//
//	InitNormal:  float32(r.NormFloat64() · Scale)          one draw per value
//	InitUniform: float32((2·r.Float64() − 1) · Scale)      one draw per value
//	InitZeros:   0                                        no draw
//	InitOnes:    1                                        no draw
//
// (the uniform draw is in [−Scale, Scale) before the rounding to float32,
// which may round it to ±Scale). The result depends only on the seed and the parameter list, bit for bit,
// so the generic engine and every generated model of the same network start
// from the same weights. It panics on an unknown Init.Kind ([NewGeneric] and
// the description checker reject those).
func InitParams(params []Param, seed uint64) {
	r := NewRand(seed, StreamInit)
	for _, p := range params {
		fillInit(p.Value, p.Init, r)
	}
}

// InitParams64 is [InitParams] for a [Generic64]: the same seed gives the same
// values (rounded to float32, then widened), so a float64 gradient check sees
// the float32 model's starting point.
func InitParams64(params []Param64, seed uint64) {
	r := NewRand(seed, StreamInit)
	for _, p := range params {
		fillInit(p.Value, p.Init, r)
	}
}

// fillInit writes the values of one tensor; see [InitParams]. Every value is
// rounded to float32 first, whatever T, so both precisions agree.
func fillInit[T floatType](v []T, in Init, r *rand.Rand) {
	switch in.Kind {
	case InitZeros:
		clear(v)
	case InitOnes:
		for i := range v {
			v[i] = 1
		}
	case InitNormal:
		for i := range v {
			v[i] = T(float32(r.NormFloat64() * in.Scale))
		}
	case InitUniform:
		for i := range v {
			v[i] = T(float32((2*r.Float64() - 1) * in.Scale))
		}
	default:
		panic(fmt.Sprintf("runtime: InitParams: unknown initialisation kind %d", int(in.Kind)))
	}
}
