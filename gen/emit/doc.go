// Package emit writes the Go package of a shape-inferred network.
//
// It is the last stage of cnngen's pipeline (description → gen/spec →
// gen/ir → gen/emit): [Generate] turns an [ir.Network] into the files of a
// self-contained Go package in which every dimension is a constant, every
// buffer a fixed-size array inside the model struct, and every layer a
// kernel function with constant bounds. The package satisfies
// runtime.Model, so the runtime's training loop drives it.
//
// Go source is built with github.com/dave/jennifer, never with string
// formatting; the output is gofmt-clean and byte-for-byte deterministic
// (no timestamps, no versions). The emitter assumes a verified IR: it does
// not validate shapes, it only lays out buffers and writes code.
//
// Layout of a generated package:
//
//	doc.go      package comment (and, with Options.GoGenerate, the
//	            go:generate line that regenerates the package)
//	model.go    constants, the runtime version check, the Model type and its
//	            API (runtime.Model, Predict, Logits, Init, Step, Arch)
//	kernels.go  one function per layer and direction, on fixed-size arrays,
//	            processing a tile of Tile samples: the pure-Go path
//	frozen.go   Frozen, the read-only inference copy that Model.Freeze makes
//	simd_*.go, simd_amd64.s
//	            the vector kernels (AVX2+FMA, AVX-512) rendered by gen/asm
//	            for the layers it covers, with its run-time dispatch and
//	            pure-Go references; absent when no layer has one
//
// Every generated package references runtime.SupportPackageIsVersion1 (in
// model.go), so that a runtime which does not support the code's version
// fails to build it with an error that names the version, as protobuf-go's
// generated code checks its support package.
//
// How the code is shaped (see plan.go for the lowering):
//
//   - Batches are cut into tiles of [Tile] samples; each activation of a
//     tile is a [Tile][size]float32 array, so a dense layer streams each
//     weight row once per tile. Parameters and gradients are stored in the
//     standard layout of runtime.ParamInfo (conv HWIO, dense [in][units]),
//     which Params exposes without copies.
//   - A relu, sigmoid or tanh that follows a conv or dense layer is fused
//     into it (its backward uses the stored output); other activations,
//     pools and flatten (a no-op on HWC buffers) get their own stage. The
//     softmax is fused with the cross-entropy: the loss is
//     runtime.SoftmaxCrossEntropy, shared with the generic engine.
//   - Conv layers split their output into the border, whose windows reach
//     the padding (a per-pixel function with bounds checks), and the
//     interior, which has no branches; windows of up to nine taps (3×3) are
//     unrolled there at constant offsets.
//   - Every sum adds its terms in the generic engine's order (dot products
//     with the same four partial sums), and the activations use its
//     formulas, so on the pure-Go path with one worker generated code and
//     generic engine agree bit for bit on today's runtime; the
//     differential tests still state a tolerance.
//
// Graphs (plan.go, graph.go): the stages run in the IR's topological order,
// each reading the output buffers of the layers it names; flatten aliases
// its input's buffer. A buffer read by several stages gets its gradient
// summed: in backward order, the first consumer writes its gradient field
// (<layer>Grad, or grads<k>, which buffers of one size whose gradients are
// never live at once share: gradslots.go) and the others write
// <layer>Partial, which addInto adds (on gen/asm's Add, the
// package's addVec, as the add layers sum their inputs). An activation is fused
// into a conv or dense stage only when it is that layer's one consumer, and
// a vector input-gradient kernel applies its producer's ReLU gate only when
// it is the producer's one consumer. concat, globalavgpool, relu6,
// leaky_relu, dropout and grouped (depthwise) convolutions run Go kernels on
// every path, as do conv and dense layers without a bias (the vector kernels
// all add one). A network without softmax is a regression network: its
// Model also implements runtime.Regressor, whose loss is
// runtime.SumSquaredError. Dropout draws its masks with runtime.DropoutMask
// from the (seed, step) of SetDropoutStep (runtime.Stochastic) and the
// sample's index in the whole batch, so they do not depend on the workers.
//
// Batch norm (batchnorm.go, layermajor.go): Forward, Logits and Frozen
// normalise with the running statistics (<layer>Eval); Backward, which
// needs the statistics of the whole batch, runs layer-major for a network
// with batch norm: each worker keeps the tile buffers of its whole shard,
// and the batch runs in phases separated at each batchnorm, after which the
// caller adds the workers' float64 per-channel sums in worker order (batch
// mean and variance in the forward direction, Σdy and Σdy·x, hence
// Σdy·x̂, in the backward one) and updates the running statistics, which the parameters
// struct holds beside the parameters (runtime.Stateful). Networks without
// batch norm keep the tile-major schedule. Model.Freeze folds each
// batchnorm into the conv or dense layer that feeds only it (its weights
// scaled, its bias or a shift of Frozen's set) and leaves dropout out.
//
// Vector paths (vector.go, workers.go): conv (ReLU or no activation), dense
// (likewise) and max-pool stages get gen/asm kernels when it can render them
// (it refuses convolutions and pools with too many terms, and more than 96
// filters; the emitter also sends a convolution whose direct kernels
// would exceed maxUnrolledConvAsm to im2col); tanh, sigmoid, average
// pooling, standalone activations and the loss keep their Go code. A convolution that gen/asm will not unroll runs
// on the im2col path (convgemm.go): per group of samples, <layer>Im2col
// gathers each output pixel's window into a row of the worker's <layer>Cols
// buffer (contiguous kernel rows copied, zeros for padding), gen/asm's dense
// GEMMs compute the output (HWC already), the weight and bias gradients and
// the gradient of the im2col matrix, and <layer>Col2im scatter-adds that
// into the input gradient (gen/asm's Col2imInterior, <layer>Col2imVec,
// window by window in row-major order, into a zero-bordered accumulator
// at the end of <layer>Cols whose interior it then copies out), applying
// the producer's ReLU gate. A stride-1
// convolution with at least 16 input channels instead computes its input
// gradient as a convolution of the output gradient with the flipped weights
// (<layer>Dy2col gathers, one DenseBackwardInput GEMM with the gate fused,
// on weights that <layer>Flip lays out), which avoids the scatter. A large
// map's forward builds and multiplies its im2col rows a few output rows at a
// time (<layer>Im2colChunkVec, and <layer>Im2colTailVec for a shorter last
// chunk), so that they stay in cache. A padded stride-1 convolution of a
// one-channel image with at most 8 filters (a first layer on grey
// pictures) computes its forward without im2col: <layer>PlaneVec, gen/asm's
// PlaneConv2DForward, reads the zero-bordered copy of the input, 8 output
// pixels to a vector; its backward keeps the im2col matrix.
// Each Forward, Backward and Logits call reads runtime.ActiveISA once: on
// PureGo every stage runs the emitter's Go kernels (gen/asm's pure-Go
// references are then never called by the model: they stay only as the
// fallback inside gen/asm's dispatchers), on AVX2 or AVX-512 the vector
// stages call gen/asm's dispatchers. The backward of a ReLU fused into a
// stage is applied by the next stage's input-gradient kernel (dense, conv,
// max pool) when that stage is a vector one, else by <layer>ActGrad. Weight
// layouts: the input-gradient kernels read transposed weights, which
// Backward refreshes at every call on a vector path (the runtime's
// optimizers write the parameters through Params without telling the model;
// gen/asm's gather transpose takes ≈25–40 µs for digits' 512×300, next to ≈8
// ms for a full batch). The Model's one-sample Logits and its training
// forward read the standard layout, so they never see stale weights
// (gen/asm's padded layout measured no faster on the digits training step);
// Model.Forward on a batch of 4 tiles or more copies the dense weights into
// the padded layout first (m.pk, fresh at every call), which made digits'
// batch of 1617 ≈6 % faster on one worker and ≈13 % on two. Model.Freeze
// copies the parameters into a Frozen, whose dense layers read rows padded
// to 64-byte multiples (PaddedStride): the one-sample GEMV streams every
// weight once, and aligned rows make digits' one-sample forward ≈1.5× faster
// (8.1 → 5.4–5.7 µs on AVX-512). A Frozen never changes after Freeze, so it
// needs no invalidation rule and serves any number of goroutines at once,
// each call borrowing a worker's tile buffers from a free list.
//
// Workers: Forward and Backward cut a batch into tiles and the tiles into
// one contiguous shard per worker (SetWorkers; GOMAXPROCS at New). Worker 0
// runs on the caller's goroutine, the others on long-lived goroutines fed
// through unbuffered channels (nothing is allocated per call), each with
// its own tile buffers and gradient; the caller then adds the gradients,
// losses and counts in worker order, so a batch, a seed and a worker
// count always give the same bits. A runtime.AddCleanup ends the
// goroutines when the Model becomes unreachable. Models share no mutable
// state.
//
// A Frozen has workers too (Frozen.SetWorkers; GOMAXPROCS at Freeze):
// helper goroutines, its crew, that take shards from a queue which calls
// post to without waiting and drain themselves once their own share is
// done, so that no call waits for a busy helper and concurrent calls do
// not wait for one another; an idle helper polls the queue for a moment
// before it blocks, for waking it would take longer than the stages of a
// split one-sample forward (runtime.Crew, which the generated packages share). Forward runs frozenStep samples at a time (a tile, or fewer for
// a network whose maps are large, so that each layer's output is still in
// cache when the next reads it: chooseFrozenStep) and splits a batch into
// shards of whole steps. Logits, for a
// network above Options.SplitLogitsMACs (2 M multiply-accumulates per
// sample by default), splits the one sample's forward (split.go): each
// stage is cut into parts (output rows of an im2col or grouped convolution,
// pixels of a pointwise one, values of an elementwise stage;
// <layer>Im2colRows<h>Vec, <layer>ForwardRows, <layer>ForwardPart), which
// the caller and its helpers claim one at a time, from either end, with a
// barrier after each stage; the other stages are one part. A convolution's parts apply the
// ReLU after it to the values they compute, which saves that ReLU's
// barrier.
// Every part computes its values as the whole stage does, so any split
// gives the bits of one worker. The helpers end through a
// runtime.AddCleanup when the Frozen becomes unreachable.
//
// Identifiers come from layer names, first letter lower-cased, with a fixed
// suffix per role: functions <layer>Forward, <layer>Backward, <layer>Pixel,
// <layer>PixelGrad, <layer>ActGrad, vector kernels <layer>ForwardVec,
// <layer>ForwardOneVec, <layer>WeightGradVec, <layer>InputGradVec,
// <layer>InteriorVec, <layer>WindowVec, <layer>WindowGradVec,
// <layer>Im2colVec, <layer>Im2colChunkVec, <layer>Dy2colVec,
// <layer>Col2imVec, <layer>AffineVec, <layer>AffineReLUVec,
// <layer>MomentsVec, <layer>SumsVec, <layer>NormGradVec, <layer>SumVec (and
// the names gen/asm derives from them by appending Go, AVX2, AVX512, Pack,
// Transpose, Weights…, Bias…) and the package's reluVec, reluGradVec and
// addVec, the
// depthwise vector path's <layer>PixelVec, <layer>PixelGradVec,
// <layer>BackwardVec and <layer>ForwardRowsVec, Frozen's in-place
// activations <layer>InPlace and convolutions with their ReLU
// <layer>ForwardReLU, the im2col path's <layer>Im2col,
// <layer>Col2im, <layer>Dy2col, <layer>Flip, <layer>ForwardGemm,
// <layer>BackwardGemm, the split one-sample forward's <layer>Im2colRows<h>Vec,
// <layer>ForwardRows and <layer>ForwardPart, batch norm's <layer>Eval,
// <layer>Moments, <layer>Sums, <layer>Shift; tile buffers <layer>Out,
// <layer>Grad, <layer>Arg, <layer>Cols, <layer>Partial, <layer>Mask, and
// grads<k> (no suffix ends in a digit);
// parameters <layer>Weight, <layer>Bias and buffers <layer>RunningMean,
// <layer>RunningVar, <layer>Batches (batch statistics and sums have structs
// of their own, see batchnorm.go). Within each namespace no suffix ends
// another, so distinct layer names never collide; names that differ only in
// the case of their first letter are refused. User text reaches the output
// only as these identifiers, in comments, or through jen.Lit.
package emit
