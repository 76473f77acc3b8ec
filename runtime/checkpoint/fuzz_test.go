package checkpoint_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/runtime/checkpoint"
)

var writeCorpus = flag.Bool("write-fuzz-corpus", false, "rewrite testdata/fuzz/FuzzRead from the seeds")

// fuzzSeeds are valid checkpoints and a few near misses.
func fuzzSeeds(t testing.TB) [][]byte {
	valid := validFile(t)
	m := tinyNet(2)
	var weightsOnly bytes.Buffer
	if err := checkpoint.Write(&weightsOnly, m, nil, nil); err != nil {
		t.Fatal(err)
	}
	return [][]byte{
		valid,
		weightsOnly.Bytes(),
		rawFile(torchTensors()),
		valid[:len(valid)/2],
		withHeader(t, valid, func(h string) string { return strings.Replace(h, `[0,72]`, `[0,76]`, 1) }),
		torchFileWith(func(ts []rawTensor) []rawTensor { ts[0].dtype, ts[0].values = "BF16", ts[0].values[:1]; return ts }),
	}
}

// FuzzRead feeds arbitrary bytes to the checkpoint reader, as a file of
// known size and as a stream: it must return an error or load, never panic,
// never change the model when it fails, and never allocate more than the
// model's size plus the input's.
func FuzzRead(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := tinyNet(2)
		fill(m, 3)
		before := snapshot(m)
		opt := adamFor(t, m, 0)
		if _, err := checkpoint.Read(bytes.NewReader(data), int64(len(data)), m, opt); err != nil {
			assertUnchanged(t, m, before)
		}
		m = tinyNet(2)
		_, _ = checkpoint.Read(bytes.NewReader(data), -1, m, nil)
	})
}

// TestWriteFuzzCorpus rewrites the checked-in seed corpus with
// go test -run TestWriteFuzzCorpus -write-fuzz-corpus.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*writeCorpus {
		t.Skip("run with -write-fuzz-corpus to rewrite testdata/fuzz/FuzzRead")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzRead")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, seed := range fuzzSeeds(t) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
