package checkpoint

import (
	"fmt"
	"io"
	"strings"

	"github.com/cnngen/cnngen/internal/quote"
	"github.com/cnngen/cnngen/runtime"
)

// Rename returns the name under which a model looks for the checkpoint's
// tensor name, given a mapping from the names of another program (say
// PyTorch's nn.Sequential, "features.0.weight") to the model's:
//
//   - a key equal to the whole name maps it ("fc.weight" → "dense1.weight");
//   - otherwise a key equal to the part before the last dot maps that part
//     and keeps the rest: with "features.0" → "conv1", "features.0.weight"
//     becomes "conv1.weight", "features.0.bias" "conv1.bias" and
//     "features.1.running_mean" stays as it is unless "features.1" is mapped;
//   - optimizer state "optim.<parameter>.<slot>" maps its parameter's name.
//
// Names that no key matches are returned unchanged.
func Rename(name string, rename map[string]string) string {
	if len(rename) == 0 {
		return name
	}
	if to, ok := rename[name]; ok {
		return to
	}
	if rest, ok := strings.CutPrefix(name, optimPrefix); ok {
		if i := strings.LastIndexByte(rest, '.'); i > 0 {
			return optimPrefix + Rename(rest[:i], rename) + rest[i:]
		}
		return name
	}
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		if to, ok := rename[name[:i]]; ok {
			return to + name[i:]
		}
	}
	return name
}

// LoadRenamed is [Load] with the checkpoint's tensor names mapped by
// rename first (see [Rename]): it loads a state_dict whose layers are named
// differently from the model's. When a name changes, the metadata's shapes
// hash (computed from the saving network's names) is not checked.
func LoadRenamed(path string, m runtime.Model, opt runtime.Optimizer, rename map[string]string) (map[string]string, error) {
	return load(path, m, opt, rename)
}

// ReadRenamed is [Read] with the tensor names mapped by rename first, as
// [LoadRenamed] does.
func ReadRenamed(r io.Reader, size int64, m runtime.Model, opt runtime.Optimizer, rename map[string]string) (map[string]string, error) {
	meta, err := read(r, size, m, opt, rename)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return meta, nil
}

// maxListed bounds the number of names that a [NamesError] lists.
const maxListed = 5

// NamesError is the error of a load whose checkpoint holds tensors that the
// model does not have, under the names they have after renaming: typically
// a state_dict of the same architecture whose layers are named otherwise,
// which a rename mapping ([LoadRenamed]) loads.
type NamesError struct {
	// Network is the model's name.
	Network string
	// Unknown lists the checkpoint's tensors that match none of the
	// model's names, in file order, as named in the file.
	Unknown []string
	// Expected lists the model's tensor names: its parameters, then its
	// buffers.
	Expected []string
	// Buffers says whether the model has buffers (for the wording).
	Buffers bool
}

// Error names the first few unknown tensors (and how many there are) and
// every expected name.
func (e *NamesError) Error() string {
	what := "a parameter"
	if e.Buffers {
		what = "a parameter or buffer"
	}
	if len(e.Unknown) == 1 {
		return fmt.Sprintf("tensor %s is not %s of network %s (which has %s)", quote.Name(e.Unknown[0]), what, quote.Name(e.Network), strings.Join(e.Expected, ", "))
	}
	what = "parameters"
	if e.Buffers {
		what = "parameters or buffers"
	}
	var listed []string
	for _, name := range e.Unknown[:min(len(e.Unknown), maxListed)] {
		listed = append(listed, quote.Name(name)) // names from the file may hold anything
	}
	more := ""
	if len(e.Unknown) > maxListed {
		more = ", …"
	}
	return fmt.Sprintf("%d tensors are not %s of network %s: %s%s (which has %s)",
		len(e.Unknown), what, quote.Name(e.Network), strings.Join(listed, ", "), more, strings.Join(e.Expected, ", "))
}
