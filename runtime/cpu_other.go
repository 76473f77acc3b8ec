//go:build !amd64 || purego

package runtime

import (
	"errors"
	"runtime"
)

// isaSupport returns nil for PureGo only: this build carries no assembly.
func isaSupport(isa ISA) error {
	if isa == PureGo {
		return nil
	}
	if runtime.GOARCH == "amd64" {
		return errors.New("this build has no assembly (built with -tags purego)")
	}
	return errors.New("this build has no assembly (GOARCH=" + runtime.GOARCH + ")")
}

// halfRateZMMCPU is false: this build runs no 512-bit instructions.
func halfRateZMMCPU() bool { return false }
