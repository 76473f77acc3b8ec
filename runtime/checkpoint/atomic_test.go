package checkpoint

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestInterruptedSaveKeepsOldFile fails a save half way through writing:
// the old checkpoint stays byte for byte and no temporary file is left.
func TestInterruptedSaveKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	old := []byte("the good old checkpoint")
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	diskFull := errors.New("no space left on device")
	err := writeAtomic(path, func(w io.Writer) error {
		// More than the buffer holds, so that part really reaches the file.
		if _, err := w.Write(make([]byte, 1<<17)); err != nil {
			return err
		}
		return diskFull
	})
	if !errors.Is(err, diskFull) {
		t.Fatalf("error %v, want %v", err, diskFull)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != string(old) {
		t.Errorf("the old checkpoint changed: %q (%v)", got, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the checkpoint", len(entries))
	}

	// A save that completes replaces the file.
	if err := writeAtomic(path, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "new" {
		t.Errorf("after a good save the file holds %q", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries after a good save, want 1", len(entries))
	}
}

func TestSaveIntoMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "m.safetensors")
	if err := writeAtomic(path, func(io.Writer) error { return nil }); err == nil {
		t.Fatal("saving into a missing directory succeeded")
	}
}

// TestStaleTempsRemoved leaves temporary files beside a checkpoint as a
// killed save would, and others that only look alike: the next save removes
// exactly the stale ones of its own target, named as writeAtomic names them
// and older than this process.
func TestStaleTempsRemoved(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	old := processStart.Add(-time.Hour)
	mk := func(name string, mtime time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := []string{mk(".model.safetensors.tmp123", old), mk(".model.safetensors.tmp4294967295", old)}
	kept := []string{
		mk(".model.safetensors.tmp77", processStart.Add(time.Minute)), // a save under way
		mk(".model.safetensors.tmp", old),
		mk(".model.safetensors.tmpx1", old),
		mk(".model.safetensors.tmp1.bak", old),
		mk(".other.safetensors.tmp1", old),
		mk("model.safetensors.tmp1", old),
		mk("notes.txt", old),
	}
	sub := filepath.Join(dir, ".model.safetensors.tmp9")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(sub, old, old); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, sub)
	if err := writeAtomic(path, func(w io.Writer) error { _, err := w.Write([]byte("new")); return err }); err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale %s not removed: %v", filepath.Base(p), err)
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s removed: %v", filepath.Base(p), err)
		}
	}
	if got, _ := os.ReadFile(path); string(got) != "new" {
		t.Errorf("%s holds %q", path, got)
	}
}
