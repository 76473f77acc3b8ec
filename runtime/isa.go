package runtime

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// ISA is an instruction-set level that generated kernels are compiled for.
// Every generated package carries a pure-Go path; on amd64 (without the
// purego build tag) it also carries AVX2+FMA and AVX-512 paths, and calls
// the one [ActiveISA] names.
type ISA uint8

// The instruction-set levels, slowest first.
const (
	// PureGo is the portable path: plain Go, every GOARCH.
	PureGo ISA = iota
	// AVX2 is the AVX2+FMA path (YMM registers): needs AVX, AVX2 and FMA3.
	AVX2
	// AVX512 is the AVX-512 path (ZMM registers, k-masks): needs AVX512F,
	// AVX512BW, AVX512DQ and AVX512VL.
	AVX512
)

// isaNames are the names CNNGEN_ISA accepts and String returns, indexed by ISA.
var isaNames = [...]string{PureGo: "purego", AVX2: "avx2", AVX512: "avx512"}

// String returns the name of the level as CNNGEN_ISA spells it: "purego",
// "avx2" or "avx512".
func (isa ISA) String() string {
	if int(isa) < len(isaNames) {
		return isaNames[isa]
	}
	return fmt.Sprintf("ISA(%d)", uint8(isa))
}

// ParseISA returns the level named by s ("purego", "avx2" or "avx512",
// case-insensitive). It does not check that the CPU supports it.
func ParseISA(s string) (ISA, error) {
	for i, name := range isaNames {
		if strings.EqualFold(strings.TrimSpace(s), name) {
			return ISA(i), nil
		}
	}
	return PureGo, fmt.Errorf("unknown instruction set %q: want %s", s, strings.Join(isaNames[:], ", "))
}

// ISAEnv is the environment variable that forces a path at start-up:
// CNNGEN_ISA=purego|avx2|avx512. Empty (or unset) picks the fastest path the
// CPU and the build support.
const ISAEnv = "CNNGEN_ISA"

var (
	// available lists the levels this build and CPU support, slowest first;
	// it is fixed at init.
	available []ISA
	// active is the level generated kernels dispatch on (an ISA).
	active atomic.Uint32
	// isaErr records why CNNGEN_ISA could not be honoured.
	isaErr error
	// halfRateZMM is HalfRateZMM's answer.
	halfRateZMM atomic.Bool
)

func init() {
	halfRateZMM.Store(halfRateZMMCPU())
	for isa := range ISA(len(isaNames)) {
		if isaSupport(isa) == nil {
			available = append(available, isa)
		}
	}
	best := available[len(available)-1]
	active.Store(uint32(best))
	if env := os.Getenv(ISAEnv); env != "" {
		isa, err := selectISA(env)
		if err != nil {
			// A library must not exit: keep the fastest available path and
			// let the program report ISAError.
			isaErr = fmt.Errorf("%s=%s: %w", ISAEnv, env, err)
			return
		}
		active.Store(uint32(isa))
	}
}

// selectISA parses name and checks that the level is available.
func selectISA(name string) (ISA, error) {
	isa, err := ParseISA(name)
	if err != nil {
		return PureGo, err
	}
	if err := isaSupport(isa); err != nil {
		return PureGo, fmt.Errorf("%v is not available: %w (available: %s)", isa, err, availableNames())
	}
	return isa, nil
}

func availableNames() string {
	names := make([]string, len(available))
	for i, isa := range available {
		names[i] = isa.String()
	}
	return strings.Join(names, ", ")
}

// AvailableISAs lists the levels that this build and CPU support, slowest
// first; PureGo is always first. Tests and benchmarks enumerate it and
// select each path with [ForceISA].
func AvailableISAs() []ISA {
	return append([]ISA(nil), available...)
}

// ActiveISA is the level generated kernels use now: the fastest available,
// unless CNNGEN_ISA or [ForceISA] chose another. When CNNGEN_ISA named a
// level that is unknown or unavailable, ActiveISA is the fastest available
// one and [ISAError] says why.
func ActiveISA() ISA {
	return ISA(active.Load())
}

// ISAError reports why CNNGEN_ISA could not be honoured at start-up (an
// unknown name, or a level this CPU or build lacks), or nil. Programs should
// check it before training: the user asked for a specific path, so the
// cnngen CLI is meant to stop with this error rather than run another one.
func ISAError() error {
	return isaErr
}

// ForceISA makes isa the active level until restore is called, and returns an
// error (and a restore that does nothing) when isa is not available. It is
// meant for tests and benchmarks and must not race with running kernels:
//
//	restore, err := runtime.ForceISA(runtime.AVX2)
//	if err != nil {
//		t.Skip(err)
//	}
//	defer restore()
func ForceISA(isa ISA) (restore func(), err error) {
	if int(isa) >= len(isaNames) {
		return func() {}, fmt.Errorf("unknown instruction set %v", isa)
	}
	if err := isaSupport(isa); err != nil {
		return func() {}, fmt.Errorf("%v is not available: %w (available: %s)", isa, err, availableNames())
	}
	prev := active.Swap(uint32(isa))
	return func() { active.Store(prev) }, nil
}

// HalfRateZMM reports whether generated kernels take this CPU for one that
// runs each 512-bit instruction as two 256-bit halves: AMD Zen 4, detected at
// start-up, unless [ForceHalfRateZMM] said otherwise. There a zmm FMA does
// the work of two ymm ones, and the AVX512 level runs the GEMMs whose rows
// are 9 to 16 floats wide on their AVX2 code, whose register blocks
// (6 rows × 2 vectors, against 16 rows × 1 vector and a broadcast per FMA)
// are faster there; both compute the same function.
func HalfRateZMM() bool {
	return halfRateZMM.Load()
}

// ForceHalfRateZMM sets what [HalfRateZMM] reports until restore is called,
// so that tests and benchmarks run both choices of the AVX512 level on one
// machine. Like [ForceISA], it must not race with running kernels.
func ForceHalfRateZMM(on bool) (restore func()) {
	prev := halfRateZMM.Swap(on)
	return func() { halfRateZMM.Store(prev) }
}
