package emit_test

import (
	"strings"
	"testing"

	"github.com/cnngen/cnngen/gen/asm"
	"github.com/cnngen/cnngen/gen/emit"
)

// asmTarget is issue 12's bound on a network's vector kernels: the bytes of
// its simd_amd64.s.
const asmTarget = 200 << 10

// asmLimits are the example networks' bounds on simd_amd64.s: all are
// within asmTarget since the GEMMs take their shapes as arguments (one TEXT
// symbol per block structure, shared by the layers). Lower a network's
// bound here to hold a gain, or raise it only with a reason.
var asmLimits = map[string]int{
	"digits":        asmTarget,
	"dscnn":         asmTarget,
	"autoencoder":   asmTarget,
	"lenet5":        asmTarget,
	"resnet8":       asmTarget,
	"mobilenet_vww": asmTarget,
}

// TestAsmSize generates the example networks and checks the size of their
// assembly against asmLimits.
func TestAsmSize(t *testing.T) {
	t.Parallel() // CPU-bound in this process, beside the tests that wait on child processes
	byName := map[string]namedNet{}
	for _, nt := range exampleNets(t) {
		byName[strings.TrimSuffix(nt.net.File, ".yaml")] = nt
	}
	for _, name := range []string{"digits", "lenet5", "resnet8", "dscnn", "mobilenet_vww", "autoencoder"} {
		nt, ok := byName[name]
		if !ok {
			t.Fatalf("no example %s.yaml", name)
		}
		// The package other tests generate (and generateNet caches).
		size := -1
		for _, f := range generateNet(t, nt, emit.Options{Package: nt.pkg}) {
			if f.Name == asm.AsmFile {
				size = len(f.Contents)
			}
		}
		if size < 0 {
			t.Errorf("%s: no %s", name, asm.AsmFile)
			continue
		}
		if limit := asmLimits[name]; size > limit {
			t.Errorf("%s: %s has %d bytes, more than %d", name, asm.AsmFile, size, limit)
		} else {
			t.Logf("%s: %d bytes of assembly (limit %d)", name, size, limit)
		}
	}
}
