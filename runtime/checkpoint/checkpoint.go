package checkpoint

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/cnngen/cnngen/internal/quote"
	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint/safetensors"
)

// The metadata keys that cnngen writes. Callers' own keys must differ.
const (
	// MetaFormat is "pt", as Python's safetensors writes for PyTorch
	// tensors; tools that load state_dicts look for it.
	MetaFormat = "format"
	// MetaNetwork is the network's name ([runtime.Model.Name]).
	MetaNetwork = "network"
	// MetaShapesHash is the hex SHA-256 of the parameters' names and shapes
	// in order (each dense weight with its input's H×W×C): it tells apart
	// networks whose tensors have the same shapes but whose flatten
	// geometry differs.
	MetaShapesHash = "shapes_sha256"
	// MetaOptimizer is the optimizer's kind (sgd, momentum or adam), present
	// when the checkpoint carries optimizer state.
	MetaOptimizer = "optimizer"
	// MetaOptimizerSteps is the number of optimizer steps taken.
	MetaOptimizerSteps = "optimizer_steps"
)

// optimPrefix starts the names of optimizer-state tensors.
const optimPrefix = "optim."

var reservedKeys = []string{MetaFormat, MetaNetwork, MetaShapesHash, MetaOptimizer, MetaOptimizerSteps}

// Save writes a checkpoint of m's parameters, of opt's state when opt is not
// nil, and of the metadata meta to path, atomically: it writes a temporary
// file in the same directory, syncs it, renames it over path and syncs the
// directory, so that path holds either the old checkpoint or the complete
// new one, never a part. After the rename it removes the temporary files of
// path that earlier processes, killed mid-save, left there (named
// ".<name>.tmp<digits>" and older than this process; nothing else). It
// refuses to save NaN or infinite values.
func Save(path string, m runtime.Model, opt runtime.Optimizer, meta map[string]string) error {
	return writeAtomic(path, func(w io.Writer) error { return Write(w, m, opt, meta) })
}

// Write writes the checkpoint that [Save] writes to w. It checks everything
// before writing the first byte.
func Write(w io.Writer, m runtime.Model, opt runtime.Optimizer, meta map[string]string) error {
	tensors, fullMeta, err := encode(m, opt, meta)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return safetensors.Write(w, tensors, fullMeta)
}

// encode lays out the tensors and metadata of a checkpoint.
func encode(m runtime.Model, opt runtime.Optimizer, meta map[string]string) ([]safetensors.Tensor, map[string]string, error) {
	params := m.Params()
	layouts, err := newLayout(params)
	if err != nil {
		return nil, nil, err
	}
	buffers, err := modelBuffers(m, params)
	if err != nil {
		return nil, nil, err
	}
	fullMeta := make(map[string]string, len(meta)+len(reservedKeys))
	for k, v := range meta {
		for _, r := range reservedKeys {
			if k == r {
				return nil, nil, fmt.Errorf("metadata key %q is reserved", k)
			}
		}
		fullMeta[k] = v
	}
	fullMeta[MetaFormat] = "pt"
	fullMeta[MetaNetwork] = m.Name()
	fullMeta[MetaShapesHash] = shapesHash(layouts, buffers)

	var tensors []safetensors.Tensor
	add := func(name string, l *tensorLayout, std []float32) error {
		if len(std) != len(l.toFileAt) {
			return fmt.Errorf("%s has %d values, want %d", name, len(std), len(l.toFileAt))
		}
		for i, v := range std {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("%s value %d is %g: refusing to save non-finite values", name, i, v)
			}
		}
		file := make([]float32, len(std))
		l.toFile(file, std)
		tensors = append(tensors, safetensors.Tensor{Name: name, Shape: l.file, Values: file})
		return nil
	}
	byName := make(map[string]*tensorLayout, len(layouts))
	for i, p := range params {
		byName[p.Name] = &layouts[i]
		if err := add(p.Name, &layouts[i], p.Value); err != nil {
			return nil, nil, err
		}
	}
	for _, b := range buffers {
		if b.Count != nil {
			if *b.Count < 0 {
				return nil, nil, fmt.Errorf("%s is %d: refusing to save a negative count", b.Name, *b.Count)
			}
			tensors = append(tensors, safetensors.Tensor{Name: b.Name, Shape: []int{}, DType: safetensors.I64, Ints: []int64{*b.Count}})
			continue
		}
		for i, v := range b.Value {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, nil, fmt.Errorf("%s value %d is %g: refusing to save non-finite values", b.Name, i, v)
			}
		}
		tensors = append(tensors, safetensors.Tensor{Name: b.Name, Shape: b.Shape, Values: b.Value})
	}
	if opt != nil {
		state := opt.State()
		fullMeta[MetaOptimizer] = string(state.Kind)
		fullMeta[MetaOptimizerSteps] = strconv.Itoa(state.Steps)
		for _, b := range state.Buffers {
			l, ok := byName[b.Param]
			if !ok {
				return nil, nil, fmt.Errorf("optimizer buffer %s.%s belongs to no parameter of the model", b.Param, b.Slot)
			}
			if err := add(optimPrefix+b.Param+"."+b.Slot, l, b.Values); err != nil {
				return nil, nil, err
			}
		}
	}
	return tensors, fullMeta, nil
}

// Load reads the checkpoint at path into m and, when opt is not nil, into
// opt, and returns the file's metadata. Every tensor is checked before
// anything changes: the file must be well formed ([safetensors.ReadHeader]),
// hold exactly m's parameters, its buffers when it is a [runtime.Stateful]
// (and, with opt, exactly opt's buffers) as tensors of the right shapes —
// F32, but I64 of shape [] for a num_batches_tracked counter, as PyTorch
// saves it —, and only finite values and counts ≥ 0. On error neither m
// nor opt has changed. Optimizer tensors in the file are skipped when opt is
// nil; with opt, a file without optimizer state is an error.
func Load(path string, m runtime.Model, opt runtime.Optimizer) (map[string]string, error) {
	return load(path, m, opt, nil)
}

// load is [LoadRenamed]; rename may be nil.
func load(path string, m runtime.Model, opt runtime.Optimizer, rename map[string]string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	meta, err := read(bufio.NewReaderSize(f, 1<<16), info.Size(), m, opt, rename)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return meta, nil
}

// Read is [Load] from a reader. size is the number of bytes that r holds,
// or -1 if unknown (then r is read to its end to make sure nothing follows
// the last tensor).
func Read(r io.Reader, size int64, m runtime.Model, opt runtime.Optimizer) (map[string]string, error) {
	meta, err := read(r, size, m, opt, nil)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return meta, nil
}

// target is where one tensor of the file goes.
type target struct {
	layout *tensorLayout
	values []float32 // the data read, in the file's layout
}

// bufferTarget is where a buffer's tensor of the file goes.
type bufferTarget struct {
	buffer runtime.Buffer
	values []float32 // a float buffer's data read
	count  int64     // a counter's value read
}

// modelBuffers returns m's buffers when it is a runtime.Stateful, checked:
// unique names that no parameter has, values that fill their shapes, and
// counters of shape [].
func modelBuffers(m runtime.Model, params []runtime.Param) ([]runtime.Buffer, error) {
	s, ok := m.(runtime.Stateful)
	if !ok {
		return nil, nil
	}
	buffers := s.Buffers()
	seen := make(map[string]bool, len(params)+len(buffers))
	for _, p := range params {
		seen[p.Name] = true
	}
	for _, b := range buffers {
		if seen[b.Name] || strings.HasPrefix(b.Name, optimPrefix) {
			return nil, fmt.Errorf("buffer name %q is used twice or starts with %q", b.Name, optimPrefix)
		}
		seen[b.Name] = true
		switch {
		case b.Count != nil && (len(b.Shape) != 0 || b.Value != nil):
			return nil, fmt.Errorf("counter buffer %s has shape %s or values: want a scalar", b.Name, safetensors.ShapeString(b.Shape))
		case b.Count == nil && len(b.Value) != shapeSize(b.Shape):
			return nil, fmt.Errorf("buffer %s %s has %d values, want %d", b.Name, safetensors.ShapeString(b.Shape), len(b.Value), shapeSize(b.Shape))
		}
	}
	return buffers, nil
}

// shapeSize is the number of values of a tensor of the given shape.
func shapeSize(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func read(r io.Reader, size int64, m runtime.Model, opt runtime.Optimizer, rename map[string]string) (map[string]string, error) {
	params := m.Params()
	layouts, err := newLayout(params)
	if err != nil {
		return nil, err
	}
	buffers, err := modelBuffers(m, params)
	if err != nil {
		return nil, err
	}
	h, err := safetensors.ReadHeader(r, size)
	if err != nil {
		return nil, err
	}

	// What the model (and optimizer) expect, by tensor name.
	want := make(map[string]*target, len(layouts))
	order := make([]string, 0, len(layouts))
	byParam := make(map[string]*tensorLayout, len(layouts))
	for i := range layouts {
		name := layouts[i].param.Name
		want[name] = &target{layout: &layouts[i]}
		order = append(order, name)
		byParam[name] = &layouts[i]
	}
	wantBuffer := make(map[string]*bufferTarget, len(buffers))
	names := slices.Clone(order) // the parameters' and buffers' names, for messages
	for _, b := range buffers {
		wantBuffer[b.Name] = &bufferTarget{buffer: b}
		names = append(names, b.Name)
	}
	var state runtime.OptimizerState
	if opt != nil {
		state = opt.State()
		for _, b := range state.Buffers {
			l, ok := byParam[b.Param]
			if !ok {
				return nil, fmt.Errorf("optimizer buffer %s.%s belongs to no parameter of the model", b.Param, b.Slot)
			}
			name := optimPrefix + b.Param + "." + b.Slot
			want[name] = &target{layout: l}
			order = append(order, name)
		}
	}

	// The optimizer's kind and step count come from the metadata.
	steps := 0
	if opt != nil {
		kind := h.Metadata[MetaOptimizer]
		if kind == "" {
			return nil, errors.New("the checkpoint holds no optimizer state (load it without an optimizer to take only the weights)")
		}
		if kind != string(state.Kind) {
			return nil, fmt.Errorf("the checkpoint's optimizer is %s, this run's is %s", quote.Value(kind), state.Kind)
		}
		steps, err = strconv.Atoi(h.Metadata[MetaOptimizerSteps])
		if err != nil || steps < 0 {
			return nil, fmt.Errorf("metadata %s = %s is not a step count", MetaOptimizerSteps, quote.Quoted(h.Metadata[MetaOptimizerSteps]))
		}
	}

	// The model's name of each of the file's tensors, in file order.
	mapped := make([]string, len(h.Tensors))
	renamed := false
	from := make(map[string]string, len(h.Tensors)) // model name → file name
	for i, t := range h.Tensors {
		mapped[i] = Rename(t.Name, rename)
		if mapped[i] != t.Name {
			renamed = true
		}
		if other, ok := from[mapped[i]]; ok {
			return nil, fmt.Errorf("tensors %s and %s are both renamed %s", quote.Name(other), quote.Name(t.Name), quote.Name(mapped[i]))
		}
		from[mapped[i]] = t.Name
	}
	// describe names a tensor for messages: its model name, and the file's
	// when they differ, each escaped and bounded (names from the file may
	// hold anything).
	describe := func(i int) string {
		if mapped[i] != h.Tensors[i].Name {
			return fmt.Sprintf("%s (%s in the file)", quote.Name(mapped[i]), quote.Name(h.Tensors[i].Name))
		}
		return quote.Name(mapped[i])
	}

	// Check the header's tensors against what is expected.
	found := make(map[string]bool, len(h.Tensors))
	var unknown []string
	for i, t := range h.Tensors {
		name := mapped[i]
		if bt := wantBuffer[name]; bt != nil {
			t.Name = describe(i)
			if err := checkBufferTensor(t, bt.buffer); err != nil {
				return nil, err
			}
			found[name] = true
			continue
		}
		tg := want[name]
		if tg == nil {
			if opt == nil && strings.HasPrefix(name, optimPrefix) {
				continue // optimizer state that the caller does not want
			}
			if strings.HasPrefix(name, optimPrefix) {
				return nil, fmt.Errorf("tensor %s is not state of the %s optimizer", describe(i), state.Kind)
			}
			unknown = append(unknown, t.Name)
			continue
		}
		if t.DType != safetensors.F32 {
			return nil, fmt.Errorf("tensor %s has dtype %s: only F32 is supported (in PyTorch, convert with .float() before saving)", describe(i), t.DType)
		}
		if !equalShapes(t.Shape, tg.layout.file) {
			return nil, fmt.Errorf("tensor %s: the checkpoint's shape is %s, the model's is %s (PyTorch layout)",
				describe(i), safetensors.ShapeString(t.Shape), safetensors.ShapeString(tg.layout.file))
		}
		found[name] = true
	}
	if len(unknown) > 0 {
		e := &NamesError{Network: m.Name(), Unknown: unknown, Expected: names, Buffers: len(buffers) > 0}
		return nil, e
	}
	for _, name := range order {
		if !found[name] {
			return nil, fmt.Errorf("tensor %s is missing", name)
		}
	}
	for _, b := range buffers {
		if !found[b.Name] {
			return nil, fmt.Errorf("tensor %s is missing (a buffer of layer %s)", b.Name, b.Layer)
		}
	}
	if hash, ok := h.Metadata[MetaShapesHash]; ok && !renamed && hash != shapesHash(layouts, buffers) {
		return nil, fmt.Errorf("the checkpoint was saved from a network whose layers differ from %s's though every tensor has the same shape (metadata %s differs): the dense layers' inputs are laid out differently",
			m.Name(), MetaShapesHash)
	}

	// Read the data, in file order; sizes are now bounded by the model's.
	for i, t := range h.Tensors {
		t.Name = mapped[i]
		if bt := wantBuffer[t.Name]; bt != nil {
			if err := readBuffer(r, t, bt); err != nil {
				return nil, err
			}
			continue
		}
		tg := want[t.Name]
		if tg == nil {
			if _, err := io.CopyN(io.Discard, r, t.End-t.Begin); err != nil {
				return nil, readError(t.Name, err)
			}
			continue
		}
		tg.values = make([]float32, t.Len())
		if err := safetensors.ReadF32(r, tg.values); err != nil {
			return nil, readError(t.Name, err)
		}
		for k, v := range tg.values {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("tensor %s holds %g at %s", t.Name, v, unravel(k, t.Shape))
			}
		}
	}
	if size < 0 {
		var one [1]byte
		if n, _ := io.ReadFull(r, one[:]); n > 0 {
			return nil, errors.New("unexpected data after the last tensor")
		}
	}

	// Everything checked: change the optimizer, then the model.
	if opt != nil {
		restored := runtime.OptimizerState{Kind: state.Kind, Steps: steps, Buffers: make([]runtime.StateBuffer, len(state.Buffers))}
		for j, b := range state.Buffers {
			tg := want[optimPrefix+b.Param+"."+b.Slot]
			std := make([]float32, len(tg.values))
			tg.layout.fromFile(std, tg.values)
			restored.Buffers[j] = runtime.StateBuffer{Param: b.Param, Slot: b.Slot, Values: std}
		}
		if err := opt.SetState(restored); err != nil {
			return nil, err
		}
	}
	for i, p := range params {
		tg := want[p.Name]
		layouts[i].fromFile(p.Value, tg.values)
	}
	for _, b := range buffers {
		bt := wantBuffer[b.Name]
		if b.Count != nil {
			*b.Count = bt.count
		} else {
			copy(b.Value, bt.values)
		}
	}
	meta := h.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	return meta, nil
}

// checkBufferTensor checks the header entry of a buffer's tensor: F32 of the
// buffer's shape, or I64 of shape [] for a counter.
func checkBufferTensor(t safetensors.TensorInfo, b runtime.Buffer) error {
	dtype, shape := safetensors.F32, b.Shape
	if b.Count != nil {
		dtype, shape = safetensors.I64, []int{}
	}
	if t.DType != dtype {
		return fmt.Errorf("tensor %s has dtype %s, want %s (a buffer of layer %s, as PyTorch saves it)", t.Name, t.DType, dtype, b.Layer)
	}
	if !equalShapes(t.Shape, shape) {
		return fmt.Errorf("tensor %s: the checkpoint's shape is %s, the model's is %s (a buffer of layer %s)",
			t.Name, safetensors.ShapeString(t.Shape), safetensors.ShapeString(shape), b.Layer)
	}
	return nil
}

// readBuffer reads the data of a buffer's tensor, checked by
// checkBufferTensor, into bt, refusing non-finite values and negative counts.
func readBuffer(r io.Reader, t safetensors.TensorInfo, bt *bufferTarget) error {
	if bt.buffer.Count != nil {
		var count [1]int64
		if err := safetensors.ReadI64(r, count[:]); err != nil {
			return readError(t.Name, err)
		}
		if count[0] < 0 {
			return fmt.Errorf("tensor %s holds %d: a count cannot be negative", t.Name, count[0])
		}
		bt.count = count[0]
		return nil
	}
	bt.values = make([]float32, t.Len())
	if err := safetensors.ReadF32(r, bt.values); err != nil {
		return readError(t.Name, err)
	}
	for k, v := range bt.values {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("tensor %s holds %g at %s", t.Name, v, unravel(k, t.Shape))
		}
	}
	return nil
}

// readError explains a failed read of a tensor's data.
func readError(name string, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("file truncated in the data of tensor %s", name)
	}
	return fmt.Errorf("reading tensor %s: %w", name, err)
}

func equalShapes(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// unravel formats the flat row-major index k of a tensor of the given shape
// as [i j …].
func unravel(k int, shape []int) string {
	idx := make([]int, len(shape))
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] > 0 {
			idx[i] = k % shape[i]
			k /= shape[i]
		}
	}
	return safetensors.ShapeString(idx)
}
