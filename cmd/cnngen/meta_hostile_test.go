package main

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rewriteMeta rewrites the safetensors checkpoint at path with its
// metadata changed by edit (the data section untouched).
func rewriteMeta(t *testing.T, path, out string, edit func(map[string]string)) {
	t.Helper()
	data := mustReadFile(t, path)
	n := binary.LittleEndian.Uint64(data[:8])
	var header map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	meta := map[string]string{}
	if err := json.Unmarshal(header["__metadata__"], &meta); err != nil {
		t.Fatal(err)
	}
	edit(meta)
	raw, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	header["__metadata__"] = raw
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	var b []byte
	b = binary.LittleEndian.AppendUint64(b, uint64(len(h)))
	b = append(b, h...)
	b = append(b, data[8+n:]...)
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHostileMetadata loads checkpoints whose metadata holds terminal
// escapes, bidirectional overrides and 50 MB values: what cnngen prints
// holds no raw control or bidi character and stays short, each long value
// cut with its length.
func TestHostileMetadata(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "d.safetensors")
	mustTrain(t, "-steps", "1", "-save", ckpt)
	huge := strings.Repeat("A", 50<<20)
	evil := "\x1b[2J\x1b]0;pwned\a\u202eevil"
	for _, tc := range []struct {
		name string
		edit func(map[string]string)
		args []string
		want string // in stdout or stderr
	}{
		{"escapes in network and optimizer", func(m map[string]string) {
			m["network"] = "digits" + evil
			m["optimizer"] = "sgd" + evil
		}, []string{"eval"}, `network "digits\x1b[2J\x1b]0;pwned\a\u202eevil"`},
		{"50 MB network name", func(m map[string]string) { m["network"] = evil + huge }, []string{"eval"}, "…(52428821 bytes)"},
		{"50 MB optimizer and steps", func(m map[string]string) {
			m["optimizer"] = huge
			m["optimizer_steps"] = evil
		}, []string{"eval"}, `…(52428800 bytes) after "\x1b[2J\x1b]0;pwned\a\u202eevil" steps`},
		{"50 MB seed", func(m map[string]string) { m["seed"] = evil + huge }, []string{"eval"}, `metadata seed = "\x1b[2J`},
		{"seed on resume", func(m map[string]string) { m["seed"] = evil + huge }, []string{"train", "-steps", "1", "-resume"}, `metadata seed = "\x1b[2J`},
		{"optimizer on resume", func(m map[string]string) { m["optimizer"] = evil + huge }, []string{"train", "-steps", "1", "-resume"}, `the checkpoint's optimizer is "\x1b[2J`},
		{"steps on resume", func(m map[string]string) { m["optimizer_steps"] = evil }, []string{"train", "-steps", "1", "-resume"}, `metadata optimizer_steps = "\x1b[2J`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := filepath.Join(dir, "bad.safetensors")
			rewriteMeta(t, ckpt, bad, tc.edit)
			args := append([]string{}, tc.args...)
			if args[0] == "eval" {
				args = append(args, "-load")
			}
			args = append(args, bad)
			_, stdout, stderr := runCLI(args...)
			out := stdout + stderr
			for _, c := range []string{"\x1b", "\a", "\u202e"} {
				if strings.Contains(out, c) {
					t.Errorf("%q reached the output:\n%.2000q", c, out)
				}
			}
			if len(out) > 8<<10 {
				t.Errorf("%d bytes of output, want a few lines: %.2000q", len(out), out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%.3000s", tc.want, out)
			}
		})
	}
}
