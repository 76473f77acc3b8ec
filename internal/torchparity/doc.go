// Package torchparity checks cnngen's engines against PyTorch on the
// networks people deploy: the four MLPerf Tiny reference models of examples/
// (ResNet-8, DS-CNN, MobileNetV1 ×0.25, the dense autoencoder), LeNet-5, and
// testdata/zoo.yaml, a small graph with the layers and options that those
// leave out (concat, globalavgpool, relu6, leaky_relu, depth multiplier, no
// bias, batch norm with default settings and after a dense layer).
//
// It holds no code, only a test. make_golden.py builds each model in PyTorch,
// written by hand from its reference with modules named as the cnngen layers,
// and records in testdata/<model>.safetensors the initial parameters, an
// input batch, the loss, outputs and gradients of a training step, and the
// state after five SGD steps. parity_test.go builds the same network from
// the example description, loads those parameters through PyTorch's layouts,
// replays the steps and compares everything, together with the description's
// parameter and MAC counts. CI runs the Go test only; the script needs
// PyTorch and is run by hand when a golden file must change.
package torchparity
