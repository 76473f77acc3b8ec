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
// A kernel whose vectors hold at most 8 floats (a layer of at most 8
// filters or channels, an im2col run of at most 8 floats) has no AVX512
// TEXT: its dispatcher runs the AVX2 one on AVX-512 too, since a zmm
// register would carry no more floats, at twice the cost on CPUs that
// split zmm instructions in halves. On such a CPU (runtime.HalfRateZMM:
// AMD Zen 4) a GEMM whose rows are 9 to 16 floats wide runs its AVX2 TEXT
// too, its dispatcher choosing at each call; elsewhere its AVX512 one.
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
// Limits: Conv2DForward takes at most 96 filters, and a convolution at
// most 8192 terms per sample (output pixels × valid taps × input channels;
// for Conv2DBackwardInput: input pixels × taps reading each × filters) and
// a pooling 8192 window vectors; Render returns an error beyond them.
// gen/emit then runs that convolution as im2col (its own Go) around the
// dense kernels (DenseForward with In = KernelH·KernelW·InC and Units =
// Filters on HWIO weights, and DenseBackwardWeights, DenseBackwardInput),
// which have no such limits; it does the same for a convolution whose
// direct kernels would render more than 64 KB of assembly.
// Tanh, sigmoid, average pooling and the loss have no kernels here.
//
// Kernels that render the same instructions (layers of the same shapes, a
// padded layout equal to the standard one) are emitted once: the first
// kernel's TEXT symbol serves the others, whose dispatchers call it and
// which get no stub of their own.
//
// # How the assembly is made
//
// The templates in templates/ (embedded by package templates) only print:
// every register, offset, unroll, label and mask is decided here, in typed
// contexts. The kernels loop wherever a loop is as fast: one register
// block per distinct shape, the code size bounded by the shapes' borders
// and tails, not by their sizes.
//
// Dense kernels are register-blocked GEMMs (gemmSpec → gemmCtx): a block of
// R rows × C vectors of accumulators (AVX-512: 6×4 or 8×3 ZMM, AVX2: 4×3
// or 6×2 YMM, the narrower when it divides the columns), B rows loaded once
// per reduction step and A broadcast, in a loop over the reduction. The
// column blocks run in a loop over a column offset; the last, narrower or
// masked, blocks follow, except on AVX-512 when the blocks divide the
// columns: the loop's last vector is then masked by K1, set per block (all
// lanes but in the last). The rows run in a loop of R; a kernel that
// overwrites C finishes the rows left over (n mod R) by running the R-row
// block once more on the last R rows, so rows computed twice get the same
// values; fewer than R rows in all take a one-row loop, or, with the row
// strides in registers (below), the R-row block once with its rows mapped
// onto the n there are (a constant row count, the weight gradient's, has
// a block of the remainder height instead). The last column vector is
// masked (K1 on AVX-512, VMASKMOVPS on AVX2). The one-sample forward and
// the bias gradient are one-row GEMMs that stream B as FMA memory
// operands, in as few even column blocks as the registers allow. The
// weight transposes loop over blocks of rows.
//
// The GEMMs take their shape as arguments that the dispatchers pass as
// constants (gemmSpec.shared): the reduction count, the strides, the end
// of the column loop and the tail mask, and the row strides of A and C
// when a block has at most 6 rows (base registers plus an index; taller
// blocks keep them as displacements; the one-row GEMMs take B's stride
// and the tail mask only). A kernel is thus specialised only on
// the structure of its blocks, and the layers (and the padded and
// unpadded layouts) with the same structure share one TEXT symbol.
//
// Convolutions are direct and vectorised across filters. The forward pass
// (planConvForward) loops over the output rows; each row computes its
// kernel rows inside the input at run time (so the border rows share the
// interior's code) and splits into groups of pixels that accumulate over a
// loop on those kernel rows, kernel columns and channels unrolled with the
// padding columns left out: the first and last groups hold the border
// pixels, the groups between them with the same taps run in a loop. The
// weight gradient (planConvWeights) keeps dw and db in registers across all
// samples, in passes over groups of filter vectors and chunks of taps; each
// pass walks the output pixels in runs with the same taps inside the input
// (walkGeom: a loop for the interior, one body per border row and column).
// The input gradient (planConvInput) is still unrolled: vectorised across
// input channels, each input pixel gathers the (output pixel, tap) pairs
// that read it, which is what keeps gen/emit's 64 KB bound for the direct
// path. Max pooling (poolSpec → poolCtx) is vectorised across channels and
// walks the windows likewise (a loop for the interior); its backward finds
// each window's first maximum with compare masks (k-masks on AVX-512,
// VCMPPS/VANDNPS on AVX2).
//
// The element-wise work between the GEMMs has kernels whose whole shape is
// an argument (flatCtx.shared), so one TEXT per op and ISA serves every
// layer of a package: the depthwise convolution's interior, forward,
// weight and input gradients (DepthwiseConv2DInterior,
// …WeightGradInterior, …InputGradInterior: per channel vector, the
// window's weights or gradient accumulators in registers, one FMA per tap
// with the input as memory operand; kernels up to 3×3, channels a multiple
// of 8, a last half vector masked on AVX-512) and its border pixels,
// forward and backward (DepthwiseConv2DWindow, DepthwiseConv2DWindowGrad:
// one output pixel, the taps inside the input looped); the im2col
// copies (Im2colInterior: whole vectors and one masked tail per run, over
// a zero-bordered copy of the input that gen/emit makes) and their
// inverse, the scatter-add of a convolution's input gradient
// (Col2imInterior: the same loops, each run of the input loaded, its row
// added and stored back, pixels in row-major order, so every path gives
// the same bits); the batch norm's statistics, gradient sums and affine
// maps (BatchNormMoments, BatchNormSums, ChannelAffine, BatchNormBackward:
// the Go reference's operations in its order, no FMA, so every path gives
// the same bits; and ChannelAffineReLU, the affine map and a ReLU in one
// pass); the per-channel sums of an average pooling over a whole
// map (ChannelSum); the standalone ReLU and its gradient (ReLUForward,
// ReLUBackward); and the element-wise sum of a residual add (Add: VADDPS
// with Go's operand order, the same bits as Go's a + b). Their register
// names are defined once per file (trimDocs), and the assembly's
// comments keep the first line of each kernel's description.
//
// One convolution is vectorised across pixels instead: a first layer on a
// grey image (one input channel, stride 1, at most 8 filters), whose
// im2col rows are runs of a few floats and whose GEMM fills few lanes
// (PlaneConv2DForward, plane.go). Each vector holds 8 pixels of an output
// row, loaded straight from the zero-bordered input for each tap and
// multiplied by the filters' broadcast weights; the accumulators are
// transposed in registers into HWC. Its shape is constant (one TEXT per
// layer) and it has AVX2 code alone.
//
// The tests render every kernel for the digits shapes and awkward ones into
// a temporary module, vet it for amd64 and arm64 with and without -tags
// purego (asmdecl), and compare every path this CPU has against the
// references, with canaries past every buffer end.
package asm
