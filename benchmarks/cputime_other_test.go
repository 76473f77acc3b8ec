//go:build !unix

package benchmarks

import "time"

// processCPUTime is not measured on this system.
func processCPUTime() time.Duration { return 0 }
