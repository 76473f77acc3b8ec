package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/internal/quote"
	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
	"github.com/cnngen/cnngen/runtime/checkpoint/safetensors"
)

// renameUsage is the -rename flag's help, shared by the commands that load
// checkpoints.
const renameUsage = "map the checkpoint's tensor names onto the network's: `old=new,old2=new2` (old is a whole tensor name or the part before its last dot: features.0=conv1 maps features.0.weight to conv1.weight), or @FILE with one old=new per line; may be repeated"

// renames is the value of -rename flags: the mapping from a checkpoint's
// tensor names to the network's (see checkpoint.Rename).
type renames map[string]string

// String shows the mapping (for the flag package).
func (r renames) String() string {
	var parts []string
	for k, v := range r {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

// Set adds the pairs of one -rename flag: "old=new,old2=new2", or "@FILE"
// with one old=new per line (blank lines and lines starting with # are
// skipped).
func (r renames) Set(s string) error {
	if file, ok := strings.CutPrefix(s, "@"); ok {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			text := strings.TrimSpace(sc.Text())
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			if err := r.add(text); err != nil {
				return fmt.Errorf("%s:%d: %v", file, line, err)
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("%s: %v", file, err)
		}
		return nil
	}
	for _, pair := range strings.Split(s, ",") {
		if err := r.add(strings.TrimSpace(pair)); err != nil {
			return err
		}
	}
	return nil
}

// add adds one old=new pair.
func (r renames) add(pair string) error {
	from, to, ok := strings.Cut(pair, "=")
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	if !ok || from == "" || to == "" {
		return fmt.Errorf("%s is not old=new", quote.Quoted(pair))
	}
	if prev, dup := r[from]; dup && prev != to {
		return fmt.Errorf("%s is renamed twice: %s and %s", quote.Name(from), quote.Name(prev), quote.Name(to))
	}
	r[from] = to
	return nil
}

// loadCheckpoint loads the checkpoint at path into m (and opt, if not nil)
// with the tensor names mapped by rename, for network net of the
// description file. A failure explains itself in the user's terms: a
// checkpoint of another network says which network and description it
// needs, and tensors of unknown names suggest -rename. what starts the
// other messages ("resuming ck.safetensors", …). A checkpoint saved from a
// network of another name but the same tensors loads with a warning on
// stderr.
func loadCheckpoint(path string, m runtime.Model, opt runtime.Optimizer, rename renames, net *ir.Network, what string, stderr io.Writer) (map[string]string, error) {
	meta, err := checkpoint.LoadRenamed(path, m, opt, rename)
	if err != nil {
		if other := metaNetwork(path); other != "" && other != net.Name {
			inner := err
			if u := errors.Unwrap(err); u != nil && strings.HasPrefix(err.Error(), path+": ") {
				inner = u // the path is already in the message
			}
			return nil, fmt.Errorf("checkpoint %s is for network %s (%v), not %q: pass its description, e.g. %s",
				path, quote.Quoted(other), inner, net.Name, descriptionFor(other))
		}
		if strings.Contains(what, path) {
			err = trimPath(err, path) // "resuming ck: ck: …" says ck twice
		}
		var ne *checkpoint.NamesError
		if errors.As(err, &ne) {
			return nil, fmt.Errorf("%s: %w; if they are the same tensors under other names, map them with -rename old=new (e.g. -rename %s=%s)",
				what, err, renameExample(ne.Unknown[0]), renameExample(ne.Expected[0]))
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if name := meta[checkpoint.MetaNetwork]; name != "" && name != net.Name {
		fmt.Fprintf(stderr, "cnngen: warning: %s was saved from network %s, loaded into %s (same tensors)\n", path, quote.Name(name), net.Name)
	}
	return meta, nil
}

// trimPath returns err without the path that starts its message ("PATH:
// …", or "open PATH: …" from os.Open), for a message that names the path
// already; err is unchanged when its message does not start so. The result
// still unwraps to err.
func trimPath(err error, path string) error {
	msg := err.Error()
	var pe *fs.PathError
	switch {
	case strings.HasPrefix(msg, path+": "):
		msg = msg[len(path)+2:]
	case errors.As(err, &pe) && pe.Path == path && msg == pe.Error():
		msg = pe.Err.Error()
	default:
		return err
	}
	return &trimmedError{msg: msg, err: err}
}

// trimmedError is an error with a shorter message, see [trimPath].
type trimmedError struct {
	msg string
	err error
}

func (e *trimmedError) Error() string { return e.msg }
func (e *trimmedError) Unwrap() error { return e.err }

// renameExample is the part of a tensor name that -rename maps: the part
// before the last dot ("features.0" for "features.0.weight").
func renameExample(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	return name
}

// metaNetwork returns the network name recorded in the checkpoint at path,
// or "" when the file has none or cannot be read.
func metaNetwork(path string) string {
	return readMetadata(path)[checkpoint.MetaNetwork]
}

// readMetadata returns the metadata of the checkpoint at path, or nil when
// the file cannot be read (loading it says why).
func readMetadata(path string) map[string]string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return nil
	}
	h, err := safetensors.ReadHeader(bufio.NewReader(f), info.Size())
	if err != nil {
		return nil
	}
	return h.Metadata
}

// descriptionFor suggests the description of the network called name: the
// example of that name when there is one, else name.yaml.
func descriptionFor(name string) string {
	for _, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return "the .yaml file it was trained from"
		}
	}
	if _, err := examples.FS.ReadFile(name + ".yaml"); err == nil {
		return "examples/" + name + ".yaml"
	}
	return name + ".yaml"
}
