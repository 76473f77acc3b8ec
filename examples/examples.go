// Package examples holds cnngen's example network descriptions, embedded so
// that commands and tests can use them without the source tree:
//
//   - digits.yaml: the tutorial's CNN and training recipe for the
//     scikit-learn digits, exactly (the reference experiment);
//   - twoconv.yaml: two conv layers, an even kernel with VALID padding, a
//     stride-2 SAME conv on an odd-sized map, an implicit flatten;
//   - tanh_avgpool.yaml: an even kernel with SAME padding, tanh, a padded
//     average pool, sigmoid, named layers and per-tensor init rules.
//
// All take 8×8×1 inputs and give 10 classes, so all train on the digits.
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
