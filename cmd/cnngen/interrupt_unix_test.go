//go:build unix

package main

// TestInterrupt needs syscall.Kill, which only Unix systems have; the rest
// of the interrupt handling is tested on every system in progress_test.go.

import (
	"bytes"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestInterrupt sends this process a SIGINT: the handler catches it (the
// test goes on), reports it once and asks the run to stop.
func TestInterrupt(t *testing.T) {
	var mu sync.Mutex
	var stderr bytes.Buffer
	in := notifyInterrupt(lockedWriter{&mu, &stderr})
	defer in.Release()
	if in.Requested() {
		t.Fatal("a stop was requested before any signal")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !in.Requested() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !in.Requested() {
		t.Fatal("SIGINT did not request a stop")
	}
	<-in.Context().Done()
	in.Release()
	mu.Lock()
	defer mu.Unlock()
	if stderr.String() != "\ncnngen: interrupted: stopping after the current step (Ctrl-C again to quit at once)\n" {
		t.Errorf("stderr %q", stderr.String())
	}
}
