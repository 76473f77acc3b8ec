//go:build !unix

package scaling

import "time"

// processCPUTime is not measured on this system.
func processCPUTime() time.Duration { return 0 }
