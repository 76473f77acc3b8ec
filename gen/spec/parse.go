package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cnngen/cnngen/runtime"
)

// ParseFile reads and parses the description at path. See [ReadFile] and
// [Parse].
func ParseFile(path string) (*Network, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// ReadFile reads the description at path, refusing one larger than
// [MaxFileBytes] with the error "PATH: description larger than 1 MiB"
// after reading at most one byte more: an endless file (/dev/zero, a FIFO
// that a program keeps writing to) costs a bounded read, not all the memory.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadLimited(f, path)
}

// ReadLimited reads a description from r, named name in errors, as
// [ReadFile] does: at most [MaxFileBytes]+1 bytes, and an error when there
// are more than MaxFileBytes.
func ReadLimited(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s: %s", name, tooLarge)
	}
	return data, nil
}

// tooLarge is the message about a description over [MaxFileBytes].
const tooLarge = "description larger than 1 MiB"

// Parse parses the YAML description data, read from filename (which is used
// in positions and, when the description has no name key, as the network's
// name). It checks every key and value and returns all the problems it finds
// as an [ErrorList] sorted by position. It never panics.
func Parse(filename string, data []byte) (*Network, error) {
	p := &parser{file: filename}
	n := p.document(data)
	if err := p.errs.Err(); err != nil {
		return nil, err
	}
	return n, nil
}

// parser walks a YAML node tree, collecting errors.
type parser struct {
	file string
	errs ErrorList
}

func (p *parser) pos(n *yaml.Node) Pos {
	return Pos{File: p.file, Line: n.Line, Col: n.Column}
}

func (p *parser) errorf(n *yaml.Node, where, format string, args ...any) {
	p.errs.Add(p.pos(n), where, format, args...)
}

// yamlLine finds the line number in the YAML library's syntax errors
// ("yaml: line 3: mapping values are not allowed in this context").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decode parses data into its single YAML document's root node.
func (p *parser) decode(data []byte) (root *yaml.Node) {
	start := Pos{File: p.file, Line: 1, Col: 1}
	defer func() {
		// The YAML library reports errors by panicking internally and
		// recovering; this guards against any panic that escapes it.
		if r := recover(); r != nil {
			p.errs.Add(start, "", "cannot parse YAML: %v", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errs.Add(start, "", "the file is empty: want a network description (keys %s)", strings.Join(networkKeys, ", "))
			return nil
		}
		p.yamlError(err, data)
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		p.yamlError(err, data)
		return nil
	default:
		p.errorf(&next, "", "the file holds more than one YAML document: want one description")
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].ShortTag() == "!!null" {
		p.errs.Add(start, "", "the file is empty: want a network description (keys %s)", strings.Join(networkKeys, ", "))
		return nil
	}
	return doc.Content[0]
}

func (p *parser) yamlError(err error, data []byte) {
	msg := err.Error()
	pos := Pos{File: p.file}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		if line, err := strconv.Atoi(m[1]); err == nil {
			pos.Line = line
		}
		msg = m[2]
		// The library numbers lines from 0 in parser errors ("did not
		// find expected ...") and from 1 in scanner errors.
		if strings.HasPrefix(msg, "did not find expected") {
			pos.Line++
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
		if m := yamlAlias.FindStringSubmatch(msg); m != nil {
			// Alias errors come without a position: point at the first
			// use of the alias.
			if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
				pos.Line = 1 + bytes.Count(data[:i], []byte("\n"))
			}
		} else if !strings.Contains(msg, "excessive aliasing") {
			// The library leaves the line out of scanner and parser
			// errors on the first line (it omits line 0).
			pos.Line = 1
		}
	}
	p.errs.Add(pos, "", "YAML syntax: %s", msg)
}

// yamlAlias finds the alias name in the YAML library's errors about an
// alias, which carry no line.
var yamlAlias = regexp.MustCompile(`^(?:unknown anchor|anchor) '([^']*)' (?:referenced|value contains itself)$`)

var networkKeys = []string{"name", "input", "layers", "train"}

func (p *parser) document(data []byte) *Network {
	if len(data) > MaxFileBytes {
		p.errs.Add(Pos{File: p.file}, "", "%s", tooLarge)
		return nil
	}
	root := p.decode(data)
	if root == nil {
		return nil
	}
	n := &Network{File: p.file}
	f := p.fields(root, "", "", "the description", networkKeys)
	if f == nil {
		return n
	}
	n.NamePos = Pos{File: p.file, Line: 1, Col: 1}
	if v := f.get("name"); v != nil {
		n.NamePos = p.pos(v)
		if s, ok := p.str(v, "name", "the network name"); ok {
			if err := CheckNetworkName(s); err != nil {
				p.errorf(v, "name", "network %v", err)
			}
			n.Name = s
		}
	} else {
		base := filepath.Base(p.file)
		base = strings.TrimSuffix(base, filepath.Ext(base))
		if err := CheckNetworkName(base); err != nil {
			p.errs.Add(n.NamePos, "name", "the description has no name key and its file name cannot serve as one: %v", err)
		}
		n.Name = base
	}
	if v := f.require(p, "input"); v != nil {
		n.Input = p.input(v)
	}
	if v := f.require(p, "layers"); v != nil {
		n.LayersPos = p.pos(f.keys["layers"])
		n.Layers = p.layers(v)
	}
	if v := f.require(p, "train"); v != nil {
		n.Train = p.train(v)
	}
	return n
}

// fieldSet is a checked mapping: its values (aliases followed) and keys by
// name.
type fieldSet struct {
	node  *yaml.Node // the mapping, for errors about missing keys
	where string
	vals  map[string]*yaml.Node
	keys  map[string]*yaml.Node
}

func (f *fieldSet) get(key string) *yaml.Node { return f.vals[key] }

// require returns the value of key, reporting an error when it is absent.
func (f *fieldSet) require(p *parser, key string) *yaml.Node {
	v := f.vals[key]
	if v == nil {
		p.errorf(f.node, f.where, "missing key %q", key)
	}
	return v
}

// maxAliasHops bounds alias chains, which the YAML library already forbids
// from being cyclic.
const maxAliasHops = 8

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAliasHops; i++ {
		n = n.Alias
	}
	return n
}

// fields checks that n is a mapping whose keys are names from allowed, each
// at most once, and returns its values. what names the mapping for errors
// ("the input section"); kind, when set, is added to unknown-key errors
// ("unknown key "units" for conv2d"). It returns nil when n is not a
// mapping.
func (p *parser) fields(n *yaml.Node, where, kind, what string, allowed []string) *fieldSet {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil {
			p.errorf(n, where, "%s must be a mapping with keys %s, got %s", what, strings.Join(allowed, ", "), describe(n))
		}
		return nil
	}
	f := &fieldSet{node: n, where: where, vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k == nil || v == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, where, "a key must be a plain name, got %s", describe(k))
			continue
		}
		if k.Tag == "!!merge" || k.Value == "<<" {
			p.errorf(k, where, "merge keys (<<) are not supported: write the keys out")
			continue
		}
		if first, dup := f.keys[k.Value]; dup {
			p.errorf(k, where, "key %s is repeated (first at line %d)", Quote(k.Value), first.Line)
			continue
		}
		known := false
		for _, a := range allowed {
			known = known || a == k.Value
		}
		if !known {
			suffix := ""
			if kind != "" {
				suffix = " for " + kind
			}
			p.errorf(k, where, "unknown key %s%s: want %s", Quote(k.Value), suffix, oneOf(allowed))
			continue
		}
		f.keys[k.Value] = k
		f.vals[k.Value] = v
	}
	return f
}

// oneOf lists allowed values for an error message: "a or b", "one of a, b, c".
func oneOf(list []string) string {
	switch len(list) {
	case 1:
		return list[0]
	case 2:
		return list[0] + " or " + list[1]
	}
	return "one of " + strings.Join(list, ", ")
}

// describe says what a node holds, for "got ..." in error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing"
		case "!!str":
			return "string " + Quote(n.Value)
		case "!!int", "!!float", "!!bool":
			return literal(n.Value)
		}
		return Quote(n.Value)
	}
	return "an unexpected YAML node"
}

// str reads a string value.
func (p *parser) str(n *yaml.Node, where, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		p.errorf(n, where, "%s must be a string, got %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

// enum reads a string that must be one of allowed.
func (p *parser) enum(n *yaml.Node, where, what string, allowed []string) (string, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		for _, a := range allowed {
			if n.Value == a {
				return a, true
			}
		}
		p.errorf(n, where, "unknown %s %s: want %s", what, Quote(n.Value), oneOf(allowed))
		return "", false
	}
	p.errorf(n, where, "%s must be %s, got %s", what, oneOf(allowed), describe(n))
	return "", false
}

// integer reads an integer in [lo, hi].
func (p *parser) integer(n *yaml.Node, where, what string, lo, hi int64) (int64, bool) {
	bad := func() (int64, bool) {
		p.errorf(n, where, "%s must be an integer from %d to %d, got %s", what, lo, hi, describe(n))
		return 0, false
	}
	if n.Kind != yaml.ScalarNode {
		return bad()
	}
	switch n.ShortTag() {
	case "!!int":
		if !p.decimal(n, where, what) {
			return 0, false
		}
		var v int64
		if err := n.Decode(&v); err != nil {
			// Beyond int64: certainly out of range.
			return bad()
		}
		if v < lo || v > hi {
			return bad()
		}
		return v, true
	case "!!float":
		// 1e3 or a number too large for int64.
		if !p.decimal(n, where, what) {
			return 0, false
		}
		var f float64
		if err := n.Decode(&f); err != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
			return bad()
		}
		return int64(f), true
	}
	return bad()
}

// decimalInt is an integer as descriptions write it: decimal digits without
// leading zeros or underscores, optionally signed.
var decimalInt = regexp.MustCompile(`^[-+]?(?:0|[1-9][0-9]*)$`)

// decimal reports whether the number in the scalar n is written in decimal,
// reporting an error when it is not. YAML also reads 010 (as 8), 0o10,
// 0x10, 0b1010 and 1_0 as integers, and 1_000.5 as a float: a description
// that holds one most likely does not mean what YAML reads, so each is
// refused with the decimal number to write instead. Floats in decimal or
// exponent notation (0.001, 1e-4, .5) are decimal; .inf and .nan are left
// to the range checks.
func (p *parser) decimal(n *yaml.Node, where, what string) bool {
	lit := n.Value
	switch n.ShortTag() {
	case "!!int":
		if decimalInt.MatchString(lit) {
			return true
		}
	case "!!float":
		lower := strings.ToLower(strings.TrimLeft(lit, "+-"))
		if lower == ".inf" || lower == ".nan" {
			return true
		}
		if _, err := strconv.ParseFloat(lit, 64); !strings.ContainsAny(lit, "_xXoObB") && (err == nil || errors.Is(err, strconv.ErrRange)) {
			return true
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return true // not a number at all: the caller's error says what is wanted
		}
		p.errorf(n, where, "%s: %s is not a decimal number", what, literal(lit))
		return false
	default:
		return true
	}
	// What YAML reads, and what the digits mean in decimal when they are
	// only digits (and underscores) with leading zeros: 010 reads as 8
	// but most likely means 10.
	var writes []string
	sign, digits := "", lit
	if digits != "" && (digits[0] == '-' || digits[0] == '+') {
		sign, digits = digits[:1], digits[1:]
	}
	if sign == "+" {
		sign = ""
	}
	if d := strings.TrimLeft(strings.ReplaceAll(digits, "_", ""), "0"); !strings.ContainsFunc(d, func(r rune) bool { return r < '0' || r > '9' }) {
		if d == "" {
			d = "0"
		}
		if d != "0" {
			d = sign + d
		}
		writes = append(writes, d)
	}
	var v int64
	if err := n.Decode(&v); err == nil {
		if s := strconv.FormatInt(v, 10); len(writes) == 0 || writes[0] != s {
			writes = append(writes, s)
		}
	}
	if len(writes) == 0 {
		// Not a number at all (!!int eight): the caller's range error
		// says what is wanted.
		return true
	}
	p.errorf(n, where, "%s: %s is not a decimal integer (write %s)", what, literal(lit), strings.Join(writes, " or "))
	return false
}

// literal is s as written when it is short and printable ASCII, else
// quoted (and cut short) by [Quote].
func literal(s string) string {
	if q := Quote(s); len(q) != len(s)+2 || q[1:len(q)-1] != s {
		return q
	}
	return s
}

// number reads a finite number and checks it with ok, which describes the
// range in want.
func (p *parser) number(n *yaml.Node, where, what, want string, ok func(float64) bool) (float64, bool) {
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!float" || n.ShortTag() == "!!int") {
		if !p.decimal(n, where, what) {
			return 0, false
		}
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && ok(f) {
			return f, true
		}
	}
	p.errorf(n, where, "%s must be %s, got %s", what, want, describe(n))
	return 0, false
}

// boolean reads true or false.
func (p *parser) boolean(n *yaml.Node, where, what string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	p.errorf(n, where, "%s must be true or false, got %s", what, describe(n))
	return false, false
}

// pair reads an integer or a list [h, w] of two, each in [lo, hi].
func (p *parser) pair(n *yaml.Node, where, what string, lo, hi int64) (h, w int, ok bool) {
	if n.Kind == yaml.SequenceNode {
		if len(n.Content) != 2 {
			p.errorf(n, where, "%s must be an integer or a list [height, width], got a list of %d", what, len(n.Content))
			return 0, 0, false
		}
		a, b := deref(n.Content[0]), deref(n.Content[1])
		if a == nil || b == nil {
			return 0, 0, false
		}
		hv, okh := p.integer(a, where, what+" height", lo, hi)
		wv, okw := p.integer(b, where, what+" width", lo, hi)
		return int(hv), int(wv), okh && okw
	}
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, where, "%s must be an integer or a list [height, width], got %s", what, describe(n))
		return 0, 0, false
	}
	v, ok := p.integer(n, where, what, lo, hi)
	return int(v), int(v), ok
}

func (p *parser) input(n *yaml.Node) Input {
	const where = "input"
	in := Input{Pos: p.pos(deref(n))}
	f := p.fields(n, where, "", "input", []string{"height", "width", "channels"})
	if f == nil {
		return in
	}
	ok := true
	for _, d := range []struct {
		key string
		dst *int
	}{{"height", &in.Height}, {"width", &in.Width}, {"channels", &in.Channels}} {
		v := f.require(p, d.key)
		if v == nil {
			ok = false
			continue
		}
		x, good := p.integer(v, where, d.key, 1, MaxDim)
		*d.dst = int(x)
		ok = ok && good
	}
	if size := int64(in.Height) * int64(in.Width) * int64(in.Channels); ok && size > MaxActivation {
		p.errs.Add(in.Pos, where, "input %s has %d values: want at most %d", in.Shape(), size, MaxActivation)
	}
	return in
}

// layerKinds lists the layer kinds in the order error messages give them.
var layerKinds = []string{
	string(runtime.Conv2D), string(runtime.ReLU), string(runtime.Sigmoid), string(runtime.Tanh),
	string(runtime.MaxPool), string(runtime.AvgPool), string(runtime.Flatten), string(runtime.Dense),
	string(runtime.Softmax), string(runtime.BatchNorm), string(runtime.Add), string(runtime.Concat),
	string(runtime.GlobalAvgPool), string(runtime.Dropout), string(runtime.ReLU6), string(runtime.LeakyReLU),
}

// layerKeys lists the keys each layer kind accepts.
func layerKeys(k runtime.LayerKind) []string {
	common := []string{"kind", "name", "input", "inputs"}
	switch k {
	case runtime.Conv2D:
		return append(common, "filters", "kernel", "stride", "padding", "groups", "bias", "init")
	case runtime.MaxPool, runtime.AvgPool:
		return append(common, "window", "stride", "padding")
	case runtime.Dense:
		return append(common, "units", "bias", "init")
	case runtime.BatchNorm:
		return append(common, "momentum", "epsilon")
	case runtime.Dropout:
		return append(common, "rate")
	case runtime.LeakyReLU:
		return append(common, "alpha")
	}
	return common
}

// allLayerKeys is every key some layer kind accepts, for layers whose kind is
// unknown.
var allLayerKeys = []string{"kind", "name", "input", "inputs", "filters", "kernel", "window", "stride", "padding",
	"groups", "units", "bias", "init", "momentum", "epsilon", "rate", "alpha"}

// Family returns the prefix of a layer kind's default names: conv for
// conv2d, pool for the pools, bn for batchnorm, gap for globalavgpool,
// relu6_ for relu6 (relu6_1, so that it never reads as the sixty-first
// relu), and the kind itself otherwise. No family is another family followed
// by digits, so default names of different families never collide.
func Family(k runtime.LayerKind) string {
	switch k {
	case runtime.Conv2D:
		return "conv"
	case runtime.MaxPool, runtime.AvgPool:
		return "pool"
	case runtime.BatchNorm:
		return "bn"
	case runtime.GlobalAvgPool:
		return "gap"
	case runtime.ReLU6:
		return "relu6_"
	}
	return string(k)
}

// layerItem is a layer between the passes of [parser.layers].
type layerItem struct {
	node    *yaml.Node // the mapping, or the scalar of a "- relu" shorthand
	kind    runtime.LayerKind
	kindOK  bool
	name    string
	nameSet bool
	where   string
}

func (p *parser) layers(n *yaml.Node) []Layer {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "layers", "layers must be a list of layers, got %s", describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.errorf(n, "layers", "the network has no layers")
		return nil
	}
	items := n.Content
	if len(items) > MaxLayers {
		p.errorf(items[MaxLayers], "layers", "the network has %d layers: want at most %d", len(items), MaxLayers)
		items = items[:MaxLayers]
	}

	// Pass 1: kinds and explicit names, so that default names can avoid
	// the explicit ones.
	list := make([]layerItem, 0, len(items))
	used := map[string]int{} // lower-cased name → index in list
	for i, raw := range items {
		it := layerItem{node: deref(raw), where: fmt.Sprintf("layer %d", i+1)}
		if it.node == nil {
			continue
		}
		var kindNode *yaml.Node
		switch {
		case it.node.Kind == yaml.ScalarNode && it.node.ShortTag() == "!!str":
			// The shorthand "- relu" for {kind: relu}.
			kindNode = it.node
		case it.node.Kind == yaml.MappingNode:
			for j := 0; j+1 < len(it.node.Content); j += 2 {
				k, v := deref(it.node.Content[j]), deref(it.node.Content[j+1])
				if k == nil || v == nil || k.Kind != yaml.ScalarNode {
					continue
				}
				switch k.Value {
				case "kind":
					if kindNode == nil {
						kindNode = v
					}
				case "name":
					if it.nameSet {
						continue // repeated; fields reports it
					}
					it.nameSet = true
					s, ok := p.str(v, it.where, "the layer name")
					if !ok {
						continue
					}
					if err := CheckIdent(s); err != nil {
						p.errorf(v, it.where, "layer %v", err)
						continue
					}
					if strings.EqualFold(s, runtime.InputName) {
						p.errorf(v, it.where, "a layer cannot be called %s: the name stands for the network's input", Quote(s))
						continue
					}
					if j, dup := used[strings.ToLower(s)]; dup {
						prev := &list[j]
						if prev.name == s {
							p.errorf(v, it.where, "duplicate layer name %s (first used at line %d)", Quote(s), prev.node.Line)
						} else {
							p.errorf(v, it.where, "layer name %s clashes with %s at line %d: names must differ in more than letter case", Quote(s), Quote(prev.name), prev.node.Line)
						}
						continue
					}
					it.name = s
					it.where = s
					used[strings.ToLower(s)] = len(list)
				}
			}
			if kindNode == nil {
				p.errorf(it.node, it.where, "missing key \"kind\": want %s", oneOf(layerKinds))
			}
		default:
			p.errorf(it.node, it.where, "a layer must be a mapping such as {kind: relu}, got %s", describe(it.node))
		}
		if kindNode != nil {
			if s, ok := p.enum(kindNode, it.where, "layer kind", layerKinds); ok {
				it.kind, it.kindOK = runtime.LayerKind(s), true
			}
		}
		list = append(list, it)
	}

	// Pass 2: default names, counted per family in network order.
	count := map[string]int{}
	for i := range list {
		it := &list[i]
		if !it.kindOK {
			continue
		}
		fam := Family(it.kind)
		count[fam]++
		if it.nameSet {
			continue
		}
		// The k-th layer of a family is familyk, or the first free
		// familyj after it when an explicit name took familyk.
		for k := count[fam]; ; k++ {
			name := fam + strconv.Itoa(k)
			if _, taken := used[name]; !taken {
				it.name, it.where = name, name
				used[name] = i
				break
			}
		}
	}

	// Pass 3: every layer's own keys.
	layers := make([]Layer, 0, len(list))
	for i := range list {
		layers = append(layers, p.layer(&list[i]))
	}
	return layers
}

var paddings = []string{"same", "valid"}

// requiredKeys lists the keys a layer kind cannot do without.
func requiredKeys(k runtime.LayerKind) []string {
	switch k {
	case runtime.Conv2D:
		return []string{"filters", "kernel"}
	case runtime.MaxPool, runtime.AvgPool:
		return []string{"window"}
	case runtime.Dense:
		return []string{"units"}
	case runtime.Dropout:
		return []string{"rate"}
	case runtime.Add, runtime.Concat:
		return []string{"inputs"}
	}
	return nil
}

func (p *parser) layer(it *layerItem) Layer {
	l := Layer{Kind: it.kind, Name: it.name, Pos: p.pos(it.node)}
	if it.node.Kind != yaml.MappingNode {
		// The shorthand "- relu": the kind's defaults, if it needs no key.
		switch it.kind {
		case runtime.BatchNorm:
			l.Momentum, l.Epsilon = DefaultBNMomentum, DefaultBNEpsilon
		case runtime.LeakyReLU:
			l.Alpha = DefaultAlpha
		}
		if req := requiredKeys(it.kind); it.kindOK && len(req) > 0 {
			p.errorf(it.node, it.where, "%s needs %s: write it as a mapping such as {kind: %s, %s: ...}", it.kind, strings.Join(req, " and "), it.kind, req[0])
		}
		return l
	}
	allowed := allLayerKeys
	kind := ""
	if it.kindOK {
		allowed, kind = layerKeys(it.kind), string(it.kind)
	}
	f := p.fields(it.node, it.where, kind, "a layer", allowed)
	if f == nil || !it.kindOK {
		return l
	}
	w := it.where
	switch it.kind {
	case runtime.Conv2D:
		if v := f.require(p, "filters"); v != nil {
			l.FiltersPos = p.pos(v)
			x, _ := p.integer(v, w, "filters", 1, MaxUnits)
			l.Filters = int(x)
		}
		if v := f.require(p, "kernel"); v != nil {
			l.KernelPos = p.pos(v)
			l.KernelH, l.KernelW, _ = p.pair(v, w, "kernel", 1, MaxDim)
		}
		l.StrideH, l.StrideW = 1, 1
	case runtime.MaxPool, runtime.AvgPool:
		if v := f.require(p, "window"); v != nil {
			l.KernelPos = p.pos(v)
			l.KernelH, l.KernelW, _ = p.pair(v, w, "window", 1, MaxDim)
		}
		l.StrideH, l.StrideW = l.KernelH, l.KernelW
	case runtime.Dense:
		if v := f.require(p, "units"); v != nil {
			l.UnitsPos = p.pos(v)
			x, _ := p.integer(v, w, "units", 1, MaxUnits)
			l.Units = int(x)
		}
	case runtime.BatchNorm:
		l.Momentum, l.Epsilon = DefaultBNMomentum, DefaultBNEpsilon
		if v := f.get("momentum"); v != nil {
			l.Momentum, _ = p.number(v, w, "momentum", "a number from 0 to 1", func(x float64) bool { return x >= 0 && x <= 1 })
		}
		if v := f.get("epsilon"); v != nil {
			l.Epsilon, _ = p.number(v, w, "epsilon", "a positive number", func(x float64) bool { return x > 0 })
		}
	case runtime.Dropout:
		if v := f.require(p, "rate"); v != nil {
			l.Rate, _ = p.number(v, w, "rate", "a number from 0 up to (not including) 1", func(x float64) bool { return x >= 0 && x < 1 })
		}
	case runtime.LeakyReLU:
		l.Alpha = DefaultAlpha
		if v := f.get("alpha"); v != nil {
			l.Alpha, _ = p.number(v, w, "alpha", "a finite number", func(float64) bool { return true })
		}
	}
	p.layerInputs(f, it, &l)
	if it.kind == runtime.Conv2D {
		l.Groups = 1
		if v := f.get("groups"); v != nil {
			l.GroupsPos = p.pos(v)
			x, _ := p.integer(v, w, "groups", 1, MaxUnits)
			l.Groups = int(x)
		}
	}
	if v := f.get("bias"); v != nil {
		if b, ok := p.boolean(v, w, "bias"); ok {
			l.NoBias = !b
		}
	}
	if v := f.get("stride"); v != nil {
		l.StridePos = p.pos(v)
		l.StrideH, l.StrideW, _ = p.pair(v, w, "stride", 1, MaxDim)
	}
	if v := f.get("padding"); v != nil {
		if s, ok := p.enum(v, w, "padding", paddings); ok && s == "same" {
			l.Padding = runtime.Same
		}
	}
	if HasParams(it.kind) {
		l.WeightInit, l.BiasInit = DefaultWeightInit, DefaultBiasInit
		if v := f.get("init"); v != nil {
			l.WeightInit, l.BiasInit = p.inits(v, w)
			if l.NoBias && l.BiasInit.Pos.IsValid() && deref(v).Kind == yaml.MappingNode {
				p.errs.Add(l.BiasInit.Pos, w, "the layer has bias: false: there is no bias to initialise")
			}
		}
		if l.NoBias {
			l.BiasInit = Init{}
		}
	}
	return l
}

// maxInputs bounds the names of an inputs list.
const maxInputs = MaxLayers

// layerInputs reads the input or inputs key of a layer and checks the
// number of inputs against its kind.
func (p *parser) layerInputs(f *fieldSet, it *layerItem, l *Layer) {
	w := it.where
	one, many := f.get("input"), f.get("inputs")
	if one != nil && many != nil {
		p.errorf(f.keys["inputs"], w, "set input or inputs, not both")
		return
	}
	multi := MultiInput(it.kind)
	switch {
	case one != nil:
		if multi {
			p.errorf(f.keys["input"], w, "%s takes two or more inputs: write inputs: [A, B]", it.kind)
			return
		}
		if s, ok := p.str(one, w, "input"); ok {
			l.Inputs, l.InputPos = []string{s}, []Pos{p.pos(one)}
		}
	case many != nil:
		if many.Kind != yaml.SequenceNode {
			p.errorf(many, w, "inputs must be a list of layer names, got %s", describe(many))
			return
		}
		n := len(many.Content)
		switch {
		case multi && (n < 2 || n > maxInputs):
			p.errorf(many, w, "%s takes from 2 to %d inputs, got %d", it.kind, maxInputs, n)
			return
		case !multi && n != 1:
			p.errorf(many, w, "a %s layer takes one input, got %d", it.kind, n)
			return
		}
		for _, item := range many.Content {
			item = deref(item)
			if item == nil {
				continue
			}
			if s, ok := p.str(item, w, "an input"); ok {
				l.Inputs = append(l.Inputs, s)
				l.InputPos = append(l.InputPos, p.pos(item))
			}
		}
	case multi:
		p.errorf(f.node, w, "missing key \"inputs\": %s takes two or more inputs", it.kind)
	}
}

// inits reads an init value: one rule for weights and bias, or a mapping
// {weights: rule, bias: rule} in which either may be left to its default.
func (p *parser) inits(n *yaml.Node, where string) (weights, bias Init) {
	weights, bias = DefaultWeightInit, DefaultBiasInit
	if n.Kind == yaml.MappingNode {
		f := p.fields(n, where, "", "init", []string{"weights", "bias"})
		if f == nil {
			return
		}
		if v := f.get("weights"); v != nil {
			weights = p.rule(v, where, weights)
		}
		if v := f.get("bias"); v != nil {
			bias = p.rule(v, where, bias)
		}
		return
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		p.errorf(n, where, "init must be a rule such as \"normal(1/sqrt(fan_in))\" or a mapping {weights: rule, bias: rule}, got %s", describe(n))
		return
	}
	r := p.rule(n, where, weights)
	return r, r
}

func (p *parser) rule(n *yaml.Node, where string, def Init) Init {
	s, ok := p.str(n, where, "an init rule")
	if !ok {
		return def
	}
	in, err := ParseInit(s)
	if err != nil {
		p.errorf(n, where, "%v", err)
		return def
	}
	in.Pos = p.pos(n)
	return in
}

// Defaults of the train section.
const (
	DefaultSeed         = 1
	DefaultTestFraction = 0.1
)

func (p *parser) train(n *yaml.Node) Train {
	const where = "train"
	t := Train{Pos: p.pos(deref(n))}
	t.Reduction = runtime.Sum
	t.Seed = DefaultSeed
	t.TestFraction = DefaultTestFraction
	t.Optimizer.Schedule.Kind = runtime.Constant
	f := p.fields(n, where, "", "train", []string{"loss", "optimizer", "batch", "steps", "epochs", "seed", "test_fraction"})
	if f == nil {
		return t
	}
	t.Loss = runtime.CrossEntropy
	if v := f.get("loss"); v != nil {
		p.loss(v, &t)
	}
	if v := f.require(p, "optimizer"); v != nil {
		t.Optimizer = p.optimizer(v)
	}
	if v := f.get("batch"); v != nil {
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
			if v.Value != "full" {
				p.errorf(v, where, "batch must be an integer from 1 to %d or full, got %s", MaxBatch, describe(v))
			}
		} else {
			x, _ := p.integer(v, where, "batch", 1, MaxBatch)
			t.BatchSize = int(x)
		}
	}
	steps, epochs := f.get("steps"), f.get("epochs")
	switch {
	case steps != nil && epochs != nil:
		p.errorf(f.keys["epochs"], where, "set steps or epochs, not both")
	case steps != nil:
		x, _ := p.integer(steps, where, "steps", 1, MaxSteps)
		t.Steps = int(x)
	case epochs != nil:
		x, _ := p.integer(epochs, where, "epochs", 1, MaxEpochs)
		t.Epochs = int(x)
	default:
		p.errorf(f.node, where, "missing key \"steps\" or \"epochs\"")
	}
	if v := f.get("seed"); v != nil {
		x, _ := p.integer(v, where, "seed", 0, math.MaxInt64)
		t.Seed = uint64(x)
	}
	if v := f.get("test_fraction"); v != nil {
		t.TestFraction, _ = p.number(v, where, "test_fraction", "a number from 0 up to (not including) 1",
			func(x float64) bool { return x >= 0 && x < 1 })
	}
	return t
}

var (
	lossKinds   = []string{string(runtime.CrossEntropy), string(runtime.SquaredError)}
	targetKinds = []string{string(runtime.TargetColumns), string(runtime.TargetInput)}
)

// loss reads the loss section into t: its type, reduction and, for mse, the
// target.
func (p *parser) loss(n *yaml.Node, t *Train) {
	const where = "train.loss"
	f := p.fields(n, where, "", "loss", []string{"type", "reduction", "target"})
	if f == nil {
		return
	}
	if v := f.get("type"); v != nil {
		t.LossPos = p.pos(v)
		if s, ok := p.enum(v, where, "loss type", lossKinds); ok {
			t.Loss = runtime.LossKind(s)
		}
	}
	if v := f.get("reduction"); v != nil {
		if s, _ := p.enum(v, where, "reduction", []string{"sum", "mean"}); s == "mean" {
			t.Reduction = runtime.Mean
		}
	}
	if t.Loss == runtime.SquaredError {
		t.Target = runtime.TargetColumns
	}
	if v := f.get("target"); v != nil {
		t.TargetPos = p.pos(v)
		s, ok := p.enum(v, where, "target", targetKinds)
		switch {
		case t.Loss != runtime.SquaredError:
			p.errorf(f.keys["target"], where, "target applies to the mse loss only (the loss is %s)", t.Loss)
		case ok:
			t.Target = runtime.TargetKind(s)
		}
	}
}

// Optimizer defaults.
const (
	DefaultMomentum = 0.9
	DefaultBeta1    = 0.9
	DefaultBeta2    = 0.999
	DefaultEpsilon  = 1e-8
)

var optimizerKinds = []string{string(runtime.SGD), string(runtime.Momentum), string(runtime.Adam)}

func (p *parser) optimizer(n *yaml.Node) runtime.OptimizerConfig {
	const where = "train.optimizer"
	cfg := runtime.OptimizerConfig{Kind: runtime.SGD, Schedule: runtime.Schedule{Kind: runtime.Constant}}
	// The keys allowed depend on the type, so find it first.
	var kind runtime.OptimizerKind
	kindOK := false
	if m := deref(n); m != nil && m.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(m.Content); j += 2 {
			if k := deref(m.Content[j]); k != nil && k.Value == "type" {
				if v := deref(m.Content[j+1]); v != nil {
					var s string
					s, kindOK = p.enum(v, where, "optimizer type", optimizerKinds)
					kind = runtime.OptimizerKind(s)
				}
				break
			}
		}
	}
	common := []string{"type", "learning_rate", "weight_decay", "schedule"}
	allowed := common
	switch kind {
	case runtime.Momentum:
		allowed = append(common, "momentum", "nesterov")
	case runtime.Adam:
		allowed = append(common, "beta1", "beta2", "epsilon")
	}
	if !kindOK {
		allowed = append(common, "momentum", "nesterov", "beta1", "beta2", "epsilon")
	}
	f := p.fields(n, where, string(kind), "optimizer", allowed)
	if f == nil {
		return cfg
	}
	if f.require(p, "type") == nil || !kindOK {
		return cfg
	}
	cfg.Kind = kind
	positive := func(x float64) bool { return x > 0 }
	unit := func(x float64) bool { return x >= 0 && x < 1 }
	if v := f.require(p, "learning_rate"); v != nil {
		cfg.LearningRate, _ = p.number(v, where, "learning_rate", "a positive number", positive)
	}
	if v := f.get("weight_decay"); v != nil {
		cfg.WeightDecay, _ = p.number(v, where, "weight_decay", "a number ≥ 0", func(x float64) bool { return x >= 0 })
	}
	if v := f.get("schedule"); v != nil {
		cfg.Schedule = p.schedule(v)
	}
	switch kind {
	case runtime.Momentum:
		cfg.Momentum = DefaultMomentum
		if v := f.get("momentum"); v != nil {
			cfg.Momentum, _ = p.number(v, where, "momentum", "a number from 0 up to (not including) 1", unit)
		}
		if v := f.get("nesterov"); v != nil {
			cfg.Nesterov, _ = p.boolean(v, where, "nesterov")
		}
	case runtime.Adam:
		cfg.Beta1, cfg.Beta2, cfg.Epsilon = DefaultBeta1, DefaultBeta2, DefaultEpsilon
		if v := f.get("beta1"); v != nil {
			cfg.Beta1, _ = p.number(v, where, "beta1", "a number from 0 up to (not including) 1", unit)
		}
		if v := f.get("beta2"); v != nil {
			cfg.Beta2, _ = p.number(v, where, "beta2", "a number from 0 up to (not including) 1", unit)
		}
		if v := f.get("epsilon"); v != nil {
			cfg.Epsilon, _ = p.number(v, where, "epsilon", "a positive number", positive)
		}
	}
	return cfg
}

var scheduleKinds = []string{string(runtime.Constant), string(runtime.StepDecay), string(runtime.Cosine)}

func (p *parser) schedule(n *yaml.Node) runtime.Schedule {
	const where = "train.optimizer.schedule"
	s := runtime.Schedule{Kind: runtime.Constant}
	var kind runtime.ScheduleKind
	kindOK := false
	if m := n; m.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(m.Content); j += 2 {
			if k := deref(m.Content[j]); k != nil && k.Value == "type" {
				if v := deref(m.Content[j+1]); v != nil {
					var str string
					str, kindOK = p.enum(v, where, "schedule type", scheduleKinds)
					kind = runtime.ScheduleKind(str)
				}
				break
			}
		}
	}
	allowed := []string{"type"}
	if kind == runtime.StepDecay || !kindOK {
		allowed = []string{"type", "step_size", "gamma"}
	}
	f := p.fields(n, where, string(kind), "schedule", allowed)
	if f == nil || f.require(p, "type") == nil || !kindOK {
		return s
	}
	s.Kind = kind
	if kind == runtime.StepDecay {
		if v := f.require(p, "step_size"); v != nil {
			x, _ := p.integer(v, where, "step_size", 1, MaxSteps)
			s.StepSize = int(x)
		}
		if v := f.require(p, "gamma"); v != nil {
			s.Gamma, _ = p.number(v, where, "gamma", "a positive number", func(x float64) bool { return x > 0 })
		}
	}
	return s
}
