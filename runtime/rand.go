package runtime

import "math/rand/v2"

// Stream separates the random sequences that one seed drives, so that, for
// example, changing the initialisation never changes the data split.
type Stream uint64

// The random streams of a training run.
const (
	StreamSplit   Stream = 1 // train/test split
	StreamInit    Stream = 2 // initial weights
	StreamShuffle Stream = 3 // mini-batch order
)

// NewRand returns a deterministic generator for seed and stream: the same
// pair always gives the same sequence (PCG from math/rand/v2).
func NewRand(seed uint64, stream Stream) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15^uint64(stream)))
}
