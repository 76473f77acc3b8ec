package checkpoint

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// processStart is when this process started (near enough: when the package
// was initialised). A temporary file of ours older than that was left by an
// earlier process, killed mid-save; a newer one may be another save under
// way.
var processStart = time.Now()

// tempPrefix is the start of the names of writeAtomic's temporary files for
// path; os.CreateTemp appends a decimal number.
func tempPrefix(path string) string {
	return "." + filepath.Base(path) + ".tmp"
}

// writeAtomic replaces path with what write produces, or leaves it as it
// was: the bytes go to a temporary file beside path (same directory, so the
// rename cannot cross file systems), which is synced, closed and renamed
// over path; the directory is then synced so that the rename itself is
// durable. On any error the temporary file is removed. A process killed
// mid-save leaves path intact and, at worst, a stray ".<name>.tmp<digits>"
// file, which the next successful save of path removes (removeStaleTemps).
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPrefix(path)+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close() // may already be closed; the first error is the one to report
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<16)
	if err := write(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	// CreateTemp makes the file private; a checkpoint is an ordinary file.
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	removeStaleTemps(path)
	return nil
}

// removeStaleTemps removes the temporary files that earlier processes,
// killed while saving path, left beside it: only regular files named as
// writeAtomic names them (".<name>.tmp" and digits) and last modified
// before this process started; never anything else. It is best effort:
// a file it cannot remove stays.
func removeStaleTemps(path string) {
	dir := filepath.Dir(path)
	prefix := tempPrefix(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		digits, ok := strings.CutPrefix(name, prefix)
		if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || !info.ModTime().Before(processStart) {
			continue
		}
		os.Remove(filepath.Join(dir, name))
	}
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
