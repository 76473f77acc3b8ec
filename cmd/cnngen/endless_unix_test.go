//go:build unix

package main

// TestEndlessDescription needs syscall.Mkfifo, which only Unix systems have.

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestEndlessDescription gives every command that reads a description a
// FIFO that a writer keeps filling (up to 256 MiB, so that the test ends
// even when the whole description is read) and /dev/zero: each must stop
// reading just past the 1 MiB limit and fail at once with one line naming
// the file.
func TestEndlessDescription(t *testing.T) {
	const feed = 256 << 20
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "missing.safetensors")
	png := filepath.Join(dir, "out.png")
	for _, cmd := range [][]string{
		{"generate", "-o", filepath.Join(dir, "out")},
		{"summary"},
		{"train", "-steps", "1"},
		{"eval", "-load", ckpt},
		{"predict", "-load", ckpt, "-data", filepath.Join(dir, "x.csv")},
		{"show", "-load", ckpt, "-o", png},
	} {
		t.Run(cmd[0], func(t *testing.T) {
			fifo := filepath.Join(dir, cmd[0]+".yaml")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skip(err)
			}
			var written atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
				if err != nil {
					return
				}
				defer f.Close()
				buf := []byte(strings.Repeat("#", 64<<10))
				for written.Load() < feed {
					n, err := f.Write(buf)
					written.Add(int64(n))
					if err != nil {
						return // the reader closed the FIFO: EPIPE
					}
				}
			}()
			start := time.Now()
			code, _, stderr := runCLI(append(cmd, fifo)...)
			elapsed := time.Since(start)
			<-done
			want := "cnngen: " + fifo + ": description larger than 1 MiB\n"
			if code != 1 || stderr != want {
				t.Errorf("exit %d, stderr %q; want exit 1, stderr %q", code, stderr, want)
			}
			if n := written.Load(); n > 8<<20 {
				t.Errorf("%d bytes were written to the FIFO before cnngen stopped reading, want about 1 MiB", n)
			}
			t.Logf("%s on an endless FIFO: %v, %d bytes read", cmd[0], elapsed, written.Load())
		})
	}
	if _, err := os.Stat("/dev/zero"); errors.Is(err, os.ErrNotExist) {
		return
	}
	code, _, stderr := runCLI("train", "-steps", "1", "/dev/zero")
	if want := "cnngen: /dev/zero: description larger than 1 MiB\n"; code != 1 || stderr != want {
		t.Errorf("train /dev/zero: exit %d, stderr %q; want exit 1, stderr %q", code, stderr, want)
	}
}
