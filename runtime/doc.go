// Package runtime is cnngen's training runtime and its generic reference
// implementation.
//
// It holds everything that a network needs at run time and that does not depend
// on the network's shapes being known at compile time:
//
//   - [Model], the small interface that both the generic engine ([NewGeneric])
//     and every generated package satisfy, so one training loop, data path and
//     metrics code drives either;
//   - [Arch], a run-time description of a network's layers, from which the
//     generic engine is built (shape inference proper lives in gen/ir, which
//     produces an Arch; the runtime never imports gen);
//   - the TensorFlow padding arithmetic ([Window]) shared by both;
//   - initialisation, data sets, optimizers and the training loop.
//
// The generic engine is the oracle: every generated code path is tested
// against it.
package runtime
