// Package gen holds cnngen's generator, one package per stage, each feeding
// only the next:
//
//  1. gen/spec parses a YAML network description and checks each key and
//     value, with file:line:col positions;
//  2. gen/ir checks that the layers fit together, infers every shape with
//     TensorFlow's padding rules and lists the parameters: the validated
//     model every later stage relies on;
//  3. gen/emit writes a specialised Go package (and its assembly) from an
//     ir.Network, never validating or inventing a shape or a name.
//
// The generated package is trained by runtime/, which never imports gen.
package gen
