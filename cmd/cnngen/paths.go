package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// pathArg is a file named on the command line and the flag (or argument)
// that names it, for messages: {"-save", "run.safetensors"}.
type pathArg struct {
	flag string // "-save", or "FILE" for a positional argument
	path string // "" when not given
	// what the file is, for an input's messages: "checkpoint",
	// "description", "data file".
	what string
	// replaces is, for an output, the flag of the input that it may
	// replace (train -resume X -save X goes on with the run in X), or "".
	replaces string
}

// String is the flag and the path, "-save run.safetensors".
func (a pathArg) String() string {
	return a.flag + " " + a.path
}

// input names the input file for messages: "the -init checkpoint x" or
// "the description FILE net.yaml".
func (a pathArg) input() string {
	return "the " + a.flag + " " + a.what + " " + a.path
}

// checkOutputs checks, before any work starts, the files that a command will
// write (outputs) against those it reads (inputs); empty paths are skipped.
// Two paths are the same file when they are the same once made absolute and
// cleaned (./x and x), or when both exist and os.SameFile says so (hard and
// symbolic links). An output that is the same file as an input or as
// another output is a bad command line: a usageError (exit 2). An output
// whose existing target is not a regular file (a directory, a device node,
// a pipe), or whose directory does not exist or cannot take a new file, is
// a bad environment: a plain error (exit 1). The directory is tried by
// creating and removing a temporary file in it, so that a read-only
// directory is reported now rather than after a long run.
func checkOutputs(inputs, outputs []pathArg) error {
	var seen []pathArg // outputs already checked
	for _, out := range outputs {
		if out.path == "" {
			continue
		}
		for _, in := range inputs {
			if in.path != "" && in.flag != out.replaces && sameFile(in.path, out.path) {
				return usageError{fmt.Sprintf("%s would overwrite %s: write it elsewhere", out, in.input())}
			}
		}
		for _, o := range seen {
			if sameFile(o.path, out.path) {
				return usageError{fmt.Sprintf("%s and %s name the same file: give each output its own", o, out)}
			}
		}
		if err := checkWritable(out.flag, out.path); err != nil {
			return err
		}
		seen = append(seen, out)
	}
	return nil
}

// sameFile reports whether a and b name the same file: the same absolute
// path once cleaned, or the same existing file (os.SameFile, which sees
// through hard and symbolic links).
func sameFile(a, b string) bool {
	if absClean(a) == absClean(b) {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(fa, fb)
	}
	// A dangling symbolic link writes through to its target: compare that.
	if ta, err := filepath.EvalSymlinks(filepath.Dir(a)); err == nil {
		if tb, err := filepath.EvalSymlinks(filepath.Dir(b)); err == nil {
			return filepath.Join(ta, filepath.Base(a)) == filepath.Join(tb, filepath.Base(b))
		}
	}
	return false
}

// absClean is path made absolute and cleaned, or just cleaned when the
// working directory is unknown.
func absClean(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return filepath.Clean(path)
}

// checkWritable checks that path, the target of the output flag, can be
// written by replacing it: it is a regular file or does not exist, and its
// directory exists and takes a new file.
func checkWritable(flag, path string) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("%s %s: is a directory, not a file", flag, path)
	case err == nil && !fi.Mode().IsRegular():
		return fmt.Errorf("%s %s: is a %s, not a regular file: refusing to replace it", flag, path, fileKind(fi.Mode()))
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %s: %v", flag, path, unwrapPath(err))
	}
	dir := filepath.Dir(path)
	if di, err := os.Stat(dir); err != nil || !di.IsDir() {
		return fmt.Errorf("%s %s: directory %s does not exist", flag, path, dir)
	}
	probe, err := os.CreateTemp(dir, ".cnngen-probe-*")
	if err != nil {
		return fmt.Errorf("%s %s: cannot write in directory %s: %v", flag, path, dir, unwrapPath(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// unwrapPath is err without its *fs.PathError wrapper, whose path (a
// temporary file's, or the one the message names already) would repeat or
// mislead.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// fileKind names the kind of a file that is not regular, for messages.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeIrregular != 0:
		return "special file"
	}
	return "special file"
}
