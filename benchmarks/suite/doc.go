// Package suite is cnngen's benchmark suite on the networks people deploy at
// fixed shapes: the digits reference network (generated/digits), LeNet-5 on
// MNIST shapes and the four MLPerf Tiny reference models (ResNet-8, DS-CNN,
// MobileNetV1 0.25, the dense autoencoder), generated from examples/ into
// gen/ by go generate.
//
// For every network and every ISA path the CPU has (isa=purego|avx2|avx512,
// forced with runtime.ForceISA) it measures
//
//   - op=train: one training step (forward, backward with the recipe's loss
//     and reduction, plain SGD) at batch 64 and at the recipe's batch, with
//     1 and 2 workers;
//   - op=infer: batch-256 inference through Frozen.Forward, the serving path;
//   - op=latency: one sample through Frozen.Logits;
//
// reporting samples/s, MACs/sample, GFLOP/s (2 FLOPs per MAC forward, 6 for
// a training step: forward, input gradient and weight gradient), cpu-ns/op
// and allocations. Run it alone with
//
//	go test ./benchmarks/suite -run '^$' -bench . -benchtime 1s
//
// or, with PyTorch and ONNX Runtime beside it and the FMA peak, through the
// comparison driver (go run ./benchmarks/compare -parts suite), which prints
// the ratio table and keeps the results in benchmarks/RESULTS.md.
//
// Training data is synthetic and seeded (uniform [0,1) inputs, uniform
// labels; the autoencoder reconstructs its input), since only the time is
// measured.
package suite
