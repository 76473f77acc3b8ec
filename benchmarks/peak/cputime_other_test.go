//go:build !unix

package peak

import "time"

// processCPUTime reports that CPU time is not measured on this system.
func processCPUTime() (time.Duration, bool) { return 0, false }
