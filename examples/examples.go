// Package examples holds cnngen's example network descriptions, embedded so
// that commands and tests can use them without the source tree.
//
// On the scikit-learn digits (8×8×1 inputs, 10 classes):
//
//   - digits.yaml: the tutorial's CNN and training recipe for the
//     scikit-learn digits, exactly (the reference experiment);
//   - twoconv.yaml: two conv layers, an even kernel with VALID padding, a
//     stride-2 SAME conv on an odd-sized map, an implicit flatten;
//   - tanh_avgpool.yaml: an even kernel with SAME padding, tanh, a padded
//     average pool, sigmoid, named layers and per-tensor init rules.
//   - residual.yaml: a residual block (a graph: add takes the block's
//     input), convs without bias, batch norm, global average pooling.
//
// On MNIST (28×28×1, 10 classes; cnngen train -data mnist):
//
//   - lenet5.yaml: LeNet-5 with ReLU and max pooling, the second reference
//     experiment (99.2 % test accuracy, mean of three seeds; docs/mnist.md).
//
// The MLPerf Tiny reference models, layer for layer as in
// github.com/mlcommons/tiny (benchmark/training), with their training
// recipes where cnngen can express them (each file says what it leaves out):
//
//   - resnet8.yaml: ResNet-8 for CIFAR-10 (32×32×3, 10 classes): residual
//     stacks with add, batch norm, 1×1 stride-2 shortcut convs;
//   - dscnn.yaml: DS-CNN for keyword spotting (49×10×1 MFCCs, 12 classes):
//     depthwise-separable convs (groups), dropout;
//   - mobilenet_vww.yaml: MobileNetV1 ×0.25 for visual wake words (96×96×3,
//     2 classes): 13 depthwise-separable blocks;
//   - autoencoder.yaml: the fully connected autoencoder for anomaly
//     detection (640 values): dense layers with batch norm, trained with
//     the mean squared error against its own input.
//
// Their layer names are the module names of the PyTorch equivalents in
// internal/torchparity, so checkpoints map one to one.
package examples

import "embed"

// FS holds every example description (*.yaml) at its root.
//
//go:embed *.yaml
var FS embed.FS

// Digits is the text of digits.yaml, the reference experiment.
//
//go:embed digits.yaml
var Digits []byte

// DigitsFile is the file name under which [Digits] is embedded, for error
// positions.
const DigitsFile = "digits.yaml"
