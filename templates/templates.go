// Package templates holds cnngen's assembly templates (text/template files
// named *.s.tmpl). It exists only to embed them: gen/asm builds the typed
// contexts and renders them; go:embed cannot reach a parent directory.
package templates

import "embed"

// FS holds every *.tmpl file of this directory.
//
//go:embed *.tmpl
var FS embed.FS
