package emit

import (
	"fmt"

	"github.com/cnngen/cnngen/gen/asm"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
)

// maxTileBytes bounds the activation buffers of one tile (tileBuffers
// without the im2col matrices): a network whose samples need more than
// maxTileBytes/Tile bytes of them gets a smaller tile, down to one sample,
// so that each worker's buffers stay within reach (a 65536-filter
// convolution on 8×8 inputs took 780 MB per worker). Every example keeps
// Tile: mobilenet_vww, the largest, needs 131 MiB per tile of 24 samples
// (digits 600 KiB).
const maxTileBytes = 256 << 20

// chooseTile returns the tile of a network whose tile buffers take
// perSample bytes per sample: Tile, or fewer samples when Tile of them
// would exceed maxTileBytes.
func chooseTile(perSample int64) int {
	if perSample <= 0 || int64(Tile)*perSample <= maxTileBytes {
		return Tile
	}
	return int(max(1, maxTileBytes/perSample))
}

// maxFrozenStepBytes bounds what one stage of Frozen's forward reads and
// writes when it runs on frozenStep samples: its inputs and its output.
// Within it, a layer's output is still in a core's L2 cache (512 KiB on
// Zen 2, 1–2 MiB on recent Intel cores) when the next layer reads it;
// a whole tile of a large network's maps (MobileNet's 24 samples of
// 221 KiB) goes out to L3 and back between layers.
const maxFrozenStepBytes = 512 << 10

// chooseFrozenStep returns the number of samples that Frozen's forward
// runs through the network together (frozenStep in the generated code):
// the tile, or fewer when the stage that reads and writes the most,
// stageBytes per sample, would exceed maxFrozenStepBytes. Fewer samples
// per call cost nothing elsewhere: the convolutions' GEMMs run on one
// sample's pixels at a time, and the dense layers, whose rows are the
// samples, are small in the networks whose maps are large.
func chooseFrozenStep(tile int, stageBytes int64) int {
	if stageBytes <= 0 || int64(tile)*stageBytes <= maxFrozenStepBytes {
		return tile
	}
	return int(max(1, maxFrozenStepBytes/stageBytes))
}

// stageBytes is the most that one stage of the forward reads and writes
// per sample: its inputs and its output.
func (p *plan) stageBytes() int64 {
	var most int64
	for _, s := range p.stages {
		floats := int64(s.out.size)
		for _, b := range s.ins {
			floats += int64(b.size)
		}
		most = max(most, 4*floats)
	}
	return most
}

// Memory is the memory that the generated package of a network allocates
// to train it, as EstimateMemory computes it from the plan the emitter
// generates (the same buffers, so the two agree). Sizes are in bytes.
type Memory struct {
	// Tile is the generated package's Tile: samples per tile.
	Tile int
	// Params is the size of one set of parameters (and batch norm
	// buffers): the Model's values, its gradient, and each extra worker's
	// gradient are one each.
	Params int64
	// Model is what a Model holds whatever its workers: parameters,
	// gradient and the weight copies of the vector kernels (transposed
	// and packed layouts).
	Model int64
	// TileBuffers is one tile's activations, gradients and scratch
	// (tileBuffers); a worker holds one, and with batch norm also one per
	// tile of its shard (LayerMajor).
	TileBuffers int64
	// LayerMajor says that the network trains layer-major (it has batch
	// norm): each worker keeps the tile buffers of its whole shard.
	LayerMajor bool
}

// Training is the estimate for training with workers workers on batches
// of batch samples: the Model, each worker's gradient (but worker 0's,
// which is the Model's) and tile buffers. It leaves out the optimizer's
// state and the data, which the caller knows.
func (m Memory) Training(workers, batch int) int64 {
	workers = max(workers, 1)
	tiles := int64(1)
	if m.LayerMajor && batch > 0 {
		all := (batch + m.Tile - 1) / m.Tile
		used := max(1, min(workers, all))
		tiles += int64((all + used - 1) / used)
	}
	return m.Model + int64(workers-1)*m.Params + int64(workers)*tiles*m.TileBuffers
}

// EstimateMemory returns the memory model of n's generated package. It
// plans the package as Generate does (without rendering it): n must come
// from ir.Build.
func EstimateMemory(n *ir.Network) (Memory, error) {
	if n == nil {
		return Memory{}, fmt.Errorf("no network")
	}
	p, err := newPlan(n)
	if err != nil {
		return Memory{}, fmt.Errorf("%s: %w", n.Name, err)
	}
	p.planVector("p")
	const f32 = 4
	m := Memory{Tile: p.tile, LayerMajor: p.hasBN()}
	params := int64(p.paramCount())
	for _, s := range p.batchnorms() {
		c, _ := bnGeometry(s)
		params += 2*int64(c) + 2 // running mean and variance, and a counter
	}
	m.Params = f32 * params
	m.Model = 2 * m.Params
	for _, s := range p.stages {
		if s.vec == nil {
			continue
		}
		m.Model += f32 * int64(s.vec.transposedSize)
		if s.vec.packed != "" {
			m.Model += f32 * int64(s.layer.In.Size()) * int64(asm.PaddedStride(s.layer.Units))
		}
		if s.vec.im2col {
			m.TileBuffers += f32 * int64(colsSize(s))
		}
	}
	m.TileBuffers += int64(p.tile)*p.sampleBytes() + f32*int64(p.noBiasWidth())
	return m, nil
}

// sampleBytes is the size of one sample's share of the tile buffers: the
// input, every stage's output, and the gradients (gradLayout's fields),
// partial gradients, max pooling indexes and dropout masks that the model
// keeps (the fields of tileBuffers that have a Tile dimension).
func (p *plan) sampleBytes() int64 {
	floats := int64(p.input.size)
	for _, s := range p.stages {
		size := int64(s.out.size)
		floats += size
		if s.layer.Kind == runtime.MaxPool {
			floats += size // int32 indexes
		}
		if s.out.partial {
			floats += size
		}
		if s.layer.Kind == runtime.Dropout {
			floats += size
		}
	}
	slots, _ := p.gradLayout()
	for _, s := range slots {
		floats += int64(s.size)
	}
	return 4 * floats
}
