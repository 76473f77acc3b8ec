package benchutil

import (
	"testing"

	"github.com/cnngen/cnngen/runtime"
)

// EachISA runs bench as a sub-benchmark "isa=NAME" for every ISA path this
// CPU and build have (runtime.AvailableISAs), with that path forced.
func EachISA(b *testing.B, bench func(b *testing.B)) {
	for _, isa := range runtime.AvailableISAs() {
		b.Run("isa="+isa.String(), func(b *testing.B) {
			restore, err := runtime.ForceISA(isa)
			if err != nil {
				b.Skip(err)
			}
			defer restore()
			bench(b)
		})
	}
}
