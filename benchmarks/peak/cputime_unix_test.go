//go:build unix

package peak

import (
	"syscall"
	"time"
)

// processCPUTime returns the user+system CPU time of the whole process, and
// true.
func processCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
