//go:build amd64 && !purego

#include "textflag.h"

// FMA-peak loops. Each iteration issues one VFMADD231PS per accumulator
// register (Y0–Y11 or Z0–Z11); Y12/Z12 and Y13/Z13 hold a and b broadcast to
// every lane. With 12 independent chains the loop is bound by FMA
// throughput, not latency. The reduction at the end only gives the result a
// use and a testable value.

// func fmaYMM(iterations int, a, b float32) float32
// Requires: AVX, FMA3
//
// for i := 0; i < iterations; i++ { for r := range 12 { acc[r] += a*b } }  // 8 lanes each
// return the sum of every lane of every acc
TEXT ·fmaYMM(SB), NOSPLIT, $0-20
	MOVQ iterations+0(FP), CX
	VBROADCASTSS a+8(FP), Y12
	VBROADCASTSS b+12(FP), Y13
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	TESTQ CX, CX
	JLE   fmaYMM_reduce

fmaYMM_loop:
	// Twelve independent chains: each FMA waits only on its own accumulator.
	VFMADD231PS Y13, Y12, Y0
	VFMADD231PS Y13, Y12, Y1
	VFMADD231PS Y13, Y12, Y2
	VFMADD231PS Y13, Y12, Y3
	VFMADD231PS Y13, Y12, Y4
	VFMADD231PS Y13, Y12, Y5
	VFMADD231PS Y13, Y12, Y6
	VFMADD231PS Y13, Y12, Y7
	VFMADD231PS Y13, Y12, Y8
	VFMADD231PS Y13, Y12, Y9
	VFMADD231PS Y13, Y12, Y10
	VFMADD231PS Y13, Y12, Y11
	DECQ CX
	JNZ  fmaYMM_loop

fmaYMM_reduce:
	VADDPS Y6, Y0, Y0
	VADDPS Y7, Y1, Y1
	VADDPS Y8, Y2, Y2
	VADDPS Y9, Y3, Y3
	VADDPS Y10, Y4, Y4
	VADDPS Y11, Y5, Y5
	VADDPS Y3, Y0, Y0
	VADDPS Y4, Y1, Y1
	VADDPS Y5, Y2, Y2
	VADDPS Y1, Y0, Y0
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+16(FP)
	RET

// func fmaZMM(iterations int, a, b float32) float32
// Requires: AVX512F
//
// for i := 0; i < iterations; i++ { for r := range 12 { acc[r] += a*b } }  // 16 lanes each
// return the sum of every lane of every acc
TEXT ·fmaZMM(SB), NOSPLIT, $0-20
	MOVQ iterations+0(FP), CX
	VBROADCASTSS a+8(FP), Z12
	VBROADCASTSS b+12(FP), Z13
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	VXORPS Z8, Z8, Z8
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	TESTQ CX, CX
	JLE   fmaZMM_reduce

fmaZMM_loop:
	// Twelve independent chains: each FMA waits only on its own accumulator.
	VFMADD231PS Z13, Z12, Z0
	VFMADD231PS Z13, Z12, Z1
	VFMADD231PS Z13, Z12, Z2
	VFMADD231PS Z13, Z12, Z3
	VFMADD231PS Z13, Z12, Z4
	VFMADD231PS Z13, Z12, Z5
	VFMADD231PS Z13, Z12, Z6
	VFMADD231PS Z13, Z12, Z7
	VFMADD231PS Z13, Z12, Z8
	VFMADD231PS Z13, Z12, Z9
	VFMADD231PS Z13, Z12, Z10
	VFMADD231PS Z13, Z12, Z11
	DECQ CX
	JNZ  fmaZMM_loop

fmaZMM_reduce:
	VADDPS Z6, Z0, Z0
	VADDPS Z7, Z1, Z1
	VADDPS Z8, Z2, Z2
	VADDPS Z9, Z3, Z3
	VADDPS Z10, Z4, Z4
	VADDPS Z11, Z5, Z5
	VADDPS Z3, Z0, Z0
	VADDPS Z4, Z1, Z1
	VADDPS Z5, Z2, Z2
	VADDPS Z1, Z0, Z0
	VADDPS Z2, Z0, Z0
	// Fold the upper 256 bits of Z0 into Y0.
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+16(FP)
	RET
