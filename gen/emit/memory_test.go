package emit_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/gen/emit"
	"github.com/cnngen/cnngen/gen/ir"
)

// TestMemoryModel checks the memory model and the per-network tile: the
// examples keep emit.Tile, while a 65536-filter convolution, whose 24
// samples of buffers per worker took 780 MB (and 12.9 GB in larger
// variants) whatever the batch, gets a smaller tile whose buffers fit
// within a few hundred MB, written into the package as its Tile.
func TestMemoryModel(t *testing.T) {
	t.Parallel() // CPU-bound in this process, beside the tests that wait on child processes
	for _, nn := range exampleNets(t) {
		m, err := emit.EstimateMemory(nn.net)
		if err != nil {
			t.Fatalf("%s: %v", nn.pkg, err)
		}
		t.Logf("%s: %+v", nn.pkg, m)
		if m.Tile != emit.Tile {
			t.Errorf("%s: tile %d, want %d", nn.pkg, m.Tile, emit.Tile)
		}
		if m.Params <= 0 || m.Model < 2*m.Params || m.TileBuffers <= 0 {
			t.Errorf("%s: implausible %+v", nn.pkg, m)
		}
		if one, two := m.Training(1, 64), m.Training(2, 64); two-one != m.Params+m.TileBuffers*map[bool]int64{false: 1, true: 2}[m.LayerMajor] {
			t.Errorf("%s: a second worker adds %d bytes, want a gradient and its tile buffers (%+v)", nn.pkg, two-one, m)
		}
	}
	n, err := ir.Load("wide.yaml", []byte("name: wide\ninput: {height: 8, width: 8, channels: 1}\nlayers:\n  - {kind: conv2d, filters: 65536, kernel: 3, padding: same}\n  - globalavgpool\n  - {kind: dense, units: 10}\n  - softmax\n"+hostileTrain))
	if err != nil {
		t.Fatal(err)
	}
	m, err := emit.EstimateMemory(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wide: %+v, 2 workers: %d bytes", m, m.Training(2, 64))
	if m.Tile >= emit.Tile || m.Tile < 1 {
		t.Errorf("wide: tile %d, want fewer than %d samples", m.Tile, emit.Tile)
	}
	if m.TileBuffers > 300<<20 || m.Training(2, 64) > 640<<20 {
		t.Errorf("wide: %d bytes of tile buffers, %d with 2 workers; want at most 300 MiB and 640 MiB", m.TileBuffers, m.Training(2, 64))
	}
	files, err := emit.Generate(n, emit.Options{Package: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Tile = %d\n", m.Tile); !strings.Contains(string(files[1].Contents), want) {
		t.Errorf("model.go lacks %q", want)
	}
}
