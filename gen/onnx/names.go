package onnx

import (
	"strconv"
	"strings"

	"github.com/cnngen/cnngen/gen/spec"
)

// maxName is the longest name a description takes.
const maxName = 64

// ident turns s into a valid cnngen name (ASCII letters, digits and
// underscores, starting with a letter), or "" when nothing is left of it.
func ident(s string) string {
	var b strings.Builder
	under := false
	for _, r := range s {
		ok := r < 128 && (r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		if !ok {
			r = '_'
		}
		if r == '_' {
			if under || b.Len() == 0 {
				continue
			}
			under = true
		} else {
			under = false
		}
		b.WriteRune(r)
		if b.Len() >= maxName-8 {
			break
		}
	}
	out := strings.TrimRight(b.String(), "_")
	if out == "" {
		return ""
	}
	if c := out[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		out = "n" + out
	}
	return out
}

// namer hands out unique layer names, ignoring letter case, as
// descriptions require.
type namer struct{ used map[string]bool }

func newNamer() *namer {
	return &namer{used: map[string]bool{"input": true}}
}

// name returns a fresh valid name made from s, or from fallback when s
// gives none.
func (n *namer) name(s, fallback string) string {
	base := ident(s)
	if base == "" || spec.CheckIdent(base) != nil {
		if b := ident(fallback + "_" + base); b != "" && spec.CheckIdent(b) == nil {
			base = b
		} else {
			base = fallback
		}
	}
	cand := base
	for i := 2; n.used[strings.ToLower(cand)] || spec.CheckIdent(cand) != nil; i++ {
		cand = base + "_" + strconv.Itoa(i)
	}
	n.used[strings.ToLower(cand)] = true
	return cand
}

// NetworkName returns a valid network name made from the base name of
// path without its extension ("models/resnet-8.onnx" gives resnet_8), or
// "net" when that gives none.
func NetworkName(path string) string {
	base := path
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	name := ident(base)
	if spec.CheckNetworkName(name) != nil {
		if name = ident("net_" + name); spec.CheckNetworkName(name) != nil {
			name = "net"
		}
	}
	return name
}
