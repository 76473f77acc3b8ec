// Package asm renders cnngen's vector kernels: Go assembly for AVX2+FMA and
// AVX-512, specialised to a layer's constant shapes, together with the Go
// stubs, the run-time dispatch and the pure-Go reference of each kernel.
//
// # Using it (gen/emit)
//
// List the kernels a network needs and render them into the generated
// package:
//
//	files, err := asm.Render("digits", []asm.Kernel{
//		{Op: asm.Conv2DForward, Name: "conv1Forward", ReLU: true, Conv: asm.ConvShape{
//			InH: 8, InW: 8, InC: 1, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1,
//			PadTop: 1, PadLeft: 1, OutH: 8, OutW: 8, Filters: 32}},
//		{Op: asm.Conv2DBackwardWeights, Name: "conv1BackwardWeights", Conv: …same…},
//		{Op: asm.DenseForward, Name: "dense1Forward", In: 512, Units: 300, ReLU: true, Padded: true},
//		{Op: asm.DenseForwardOne, Name: "dense1ForwardOne", In: 512, Units: 300, ReLU: true, Padded: true},
//		{Op: asm.DenseBackwardInput, Name: "dense1BackwardInput", In: 512, Units: 300},
//		{Op: asm.DenseBackwardWeights, Name: "dense1BackwardWeights", In: 512, Units: 300},
//		{Op: asm.MaxPool2DForward, Name: "pool1Forward", Pool: asm.PoolShape{
//			InH: 8, InW: 8, Channels: 32, KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, OutH: 4, OutW: 4}},
//		{Op: asm.MaxPool2DBackward, Name: "pool1Backward", ReLU: true, Pool: …same…},
//		{Op: asm.DenseBackwardInput, Name: "dense2BackwardInput", In: 300, Units: 10, ReLU: true},
//		…
//	})
//
// and write every returned [File] (its Name is the file name) into the
// package directory. Render returns four files, always the same names:
//
//	simd_amd64.s     the TEXT symbols <Name>AVX2 and <Name>AVX512    (amd64 && !purego)
//	simd_amd64.go    their //go:noescape stubs, and <Name>, which
//	                 switches on runtime.ActiveISA()                  (amd64 && !purego)
//	simd_purego.go   <Name>, which calls the reference                (!amd64 || purego)
//	simd_ref.go      <Name>Go, the pure-Go reference, plus the pure-Go
//	                 layout helpers <Name>Pack and <Name>Transpose
//	                 (for DenseBackwardInput <Name>TransposeGo, the
//	                 reference of a vector <Name>Transpose)          (every build)
//
// The reference is compiled into every build because CNNGEN_ISA=purego (or
// runtime.ForceISA(runtime.PureGo)) selects it on amd64 too. Generated code
// calls only <Name> (and the layout helpers); the Go signature of <Name> for
// each operation is given on the [Op] constants. Slices hold n samples one
// after another; weights and biases are pointers to fixed-size arrays in
// the runtime's standard layout, except where an Op says otherwise:
//
//   - DenseBackwardInput reads wᵀ with rows padded to PaddedStride(In),
//     which <Name>Transpose(wt, w) fills; refresh it after every weight
//     update (once per training step, not per batch shard). That transpose
//     has vector paths too (<Name>TransposeAVX2, <Name>TransposeAVX512:
//     one gather per output vector), since at small batches it costs as
//     much as the GEMM it feeds.
//     Conv2DBackwardInput likewise reads w transposed to
//     [KernelH][KernelW][Filters][PaddedStride(InC)] by its <Name>Transpose.
//   - With Kernel.Padded, the dense forward kernels read w with rows padded
//     to PaddedStride(Units), which <Name>Pack(wp, w) fills; refresh it after
//     every update. Kernels with the same In and Units share the layout, so
//     one copy serves DenseForward and DenseForwardOne. Results do not depend
//     on where wp lives, but the loads are fastest when wp is 64-byte aligned
//     (a large heap allocation, or the first field of a large heap-allocated
//     struct).
//   - Backward-weights kernels add to dw and db (zero them per step).
//   - ReLU on a backward kernel fuses the backward of the ReLU in front of
//     the layer: MaxPool2DBackward passes nothing from windows whose max
//     y ≤ 0 (conv → ReLU → pool), and DenseBackwardInput and
//     Conv2DBackwardInput take the layer's input h and zero dx where h ≤ 0
//     (… → ReLU → dense or conv).
//
// Names: Kernel.Name must be a Go identifier; Render derives <Name>Go,
// <Name>AVX2, <Name>AVX512, <Name>Pack, <Name>Transpose,
// <Name>TransposeGo, <Name>TransposeAVX2, <Name>TransposeAVX512 (and, for
// DenseBackwardWeights, <Name>WeightsAVX2 … <Name>BiasAVX512) from it and
// reports a clash. The output depends only on the arguments (byte-for-byte
// stable) and is gofmt-clean.
//
// Limits: Conv2DForward takes at most 96 filters, and a convolution's or
// pooling's unrolled body at most 8192 terms per sample (for
// Conv2DBackwardInput: input pixels × taps reading each × filters); Render
// returns an error beyond them. gen/emit then runs that convolution as
// im2col (its own Go) around the dense kernels (DenseForward with In =
// KernelH·KernelW·InC and Units = Filters on HWIO weights, and
// DenseBackwardWeights, DenseBackwardInput), which have no such limits.
// Tanh, sigmoid, average pooling and the loss have no kernels here.
//
// # How the assembly is made
//
// The templates in templates/ (embedded by package templates) only print:
// every register, offset, unroll, label and mask is decided here, in typed
// contexts. Dense kernels are register-blocked GEMMs (gemmSpec → gemmCtx):
// a block of R rows × C vectors of accumulators (AVX-512: 6×4 ZMM, AVX2: 4×3
// or 6×2 YMM), B rows loaded once per reduction step and A broadcast; rows
// in a loop of R then remainders by powers of two; the last column vector
// masked (K1 on AVX-512, VMASKMOVPS on AVX2). The one-sample forward and the
// bias gradient are one-row GEMMs that stream B as FMA memory operands.
// Convolutions (convSpec → convCtx) are direct, vectorised across filters,
// every output pixel unrolled with the padding taps dropped at generation
// time; the weight gradient keeps dw and db in registers across all
// samples; the input gradient is vectorised across input channels, each
// input pixel gathering the (output pixel, tap) pairs that read it.
// Max pooling (poolSpec → poolCtx) is vectorised across channels; its
// backward finds each window's first maximum with compare masks (k-masks on
// AVX-512, VCMPPS/VANDNPS on AVX2).
//
// The tests render every kernel for the digits shapes and awkward ones into
// a temporary module, vet it for amd64 and arm64 with and without -tags
// purego (asmdecl), and compare every path this CPU has against the
// references, with canaries past every buffer end.
package asm
