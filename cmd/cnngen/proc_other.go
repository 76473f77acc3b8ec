//go:build !unix

package main

import "os"

// processAlive reports whether process pid exists. On Windows
// os.FindProcess opens the process and fails when there is none; on systems
// where it always succeeds every process counts as alive, and nothing is
// removed.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}
