// Package ir is cnngen's model of a network after checking: the layers in a
// topological order, each with its inputs, its input and output shapes,
// TensorFlow padding amounts, parameter tensors (names, layouts, fan-in,
// resolved initialisation), parameter and running-statistic counts, MACs and
// activation size, plus the resolved training recipe.
//
// [Build] turns a parsed description ([spec.Network]) into a [Network],
// checking that the layers fit together; [Load] parses and builds in one go.
// Everything downstream (the emitter, the generic runtime through
// [Network.Arch], cnngen summary) works from a Network and assumes it is
// valid: no later stage validates or invents a shape or a name.
package ir
