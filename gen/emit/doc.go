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
//	doc.go      package comment and the go:generate line
//	model.go    constants, the Model type and its API (runtime.Model, Predict,
//	            Logits, Init, Step, Arch)
//	kernels.go  one function per layer and direction, on fixed-size arrays,
//	            processing a tile of Tile samples; the hot kernels that the
//	            vector paths (issue 4) replace behind a dispatch
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
//     formulas, so generated code and generic engine agree bit for bit on
//     today's runtime; the differential tests still state a tolerance.
//
// Identifiers come from layer names, first letter lower-cased, with a fixed
// suffix per role: functions <layer>Forward, <layer>Backward, <layer>Pixel,
// <layer>PixelGrad; tile buffers <layer>Out, <layer>Grad, <layer>Arg;
// parameters <layer>Weight, <layer>Bias. No suffix ends another, so
// distinct layer names never collide; names that differ only in the case of
// their first letter are refused. User text reaches the output only as
// these identifiers, in comments, or through jen.Lit.
package emit
