package checkpoint

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
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
