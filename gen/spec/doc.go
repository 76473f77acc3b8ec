// Package spec reads cnngen's network descriptions: YAML files that give a
// network's input shape, its layers and its training recipe (the format is
// documented in docs/format.md).
//
// [Parse] checks every key and value where it stands, with positions from the
// YAML nodes: unknown keys, misspelled layer kinds, values of the wrong type
// or out of range, malformed init rules and names that cannot become Go
// identifiers are all errors, reported together as an [ErrorList] of
// file:line:col messages. The result, a [Network], is the description as
// written with defaults filled in; whether its layers fit together is for
// gen/ir to check.
package spec
