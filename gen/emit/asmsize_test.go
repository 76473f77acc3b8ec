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

// asmLimits are the example networks' bounds on simd_amd64.s. Those not
// yet within asmTarget have their size when the kernels learned to loop
// (0.3–1.4 MB before), rounded up: lower them as the kernels shrink, and
// remove them at asmTarget. What is left in them: the dense GEMMs of
// shapes whose columns leave a narrower or masked last block (two blocks
// per row height), and the unpadded and padded forward GEMMs, which
// differ in the weights' row stride.
var asmLimits = map[string]int{
	"digits":        asmTarget,
	"dscnn":         asmTarget,
	"autoencoder":   asmTarget,
	"lenet5":        240 << 10,
	"resnet8":       232 << 10,
	"mobilenet_vww": 304 << 10,
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
