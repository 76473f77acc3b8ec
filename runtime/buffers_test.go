package runtime

import "testing"

func TestSaveRestoreBuffers(t *testing.T) {
	arch := Arch{Name: "bn", Input: Shape{Height: 2, Width: 2, Channels: 1}, Layers: []LayerSpec{
		{Kind: Conv2D, Filters: 3, KernelH: 1, KernelW: 1, StrideH: 1, StrideW: 1, WeightInit: Init{Kind: InitNormal, Scale: 1}},
		{Kind: BatchNorm, Momentum: 0.1, Epsilon: 1e-5},
		{Kind: Flatten},
		{Kind: Dense, Units: 2, WeightInit: Init{Kind: InitNormal, Scale: 1}},
		{Kind: Softmax},
	}}
	src, err := NewGeneric(arch)
	if err != nil {
		t.Fatal(err)
	}
	InitParams(src.Params(), 1)
	x := []float32{1, 2, 3, 4, -1, 0, 2, 5}
	src.Backward(x, []int32{0, 1}, 1)
	src.Backward(x, []int32{0, 1}, 1)
	s := SaveBuffers(src)
	if len(s.Values) != 2 || len(s.Counts) != 1 || s.Counts[0] != 2 {
		t.Fatalf("SaveBuffers gave %d float buffers and counters %v, want 2 and [2]", len(s.Values), s.Counts)
	}

	dst, err := NewGeneric(arch)
	if err != nil {
		t.Fatal(err)
	}
	if err := RestoreBuffers(dst, s); err != nil {
		t.Fatal(err)
	}
	for i, b := range dst.Buffers() {
		want := src.Buffers()[i]
		if b.Count != nil {
			if *b.Count != *want.Count {
				t.Errorf("%s = %d, want %d", b.Name, *b.Count, *want.Count)
			}
			continue
		}
		for j := range b.Value {
			if b.Value[j] != want.Value[j] {
				t.Errorf("%s[%d] = %g, want %g", b.Name, j, b.Value[j], want.Value[j])
			}
		}
	}
	// The copy is detached from the model it came from.
	s.Values[0][0] = 42
	if src.Buffers()[0].Value[0] == 42 {
		t.Error("SaveBuffers aliases the model")
	}

	// A state of another network is refused and changes nothing.
	before := SaveBuffers(dst)
	bad := BufferState{Values: [][]float32{{1, 2}, {3, 4, 5}}, Counts: []int64{7}}
	if err := RestoreBuffers(dst, bad); err == nil {
		t.Error("RestoreBuffers took 2 running means for 3 channels")
	}
	if err := RestoreBuffers(dst, BufferState{}); err == nil {
		t.Error("RestoreBuffers took no buffers for a batch norm network")
	}
	after := SaveBuffers(dst)
	if after.Counts[0] != before.Counts[0] || after.Values[0][0] != before.Values[0][0] {
		t.Error("a refused RestoreBuffers changed the model")
	}
	// A model without buffers takes only the zero state.
	plain, err := NewGeneric(Arch{Name: "plain", Input: arch.Input, Layers: []LayerSpec{arch.Layers[2], arch.Layers[3], arch.Layers[4]}})
	if err != nil {
		t.Fatal(err)
	}
	if err := RestoreBuffers(plain, BufferState{}); err != nil {
		t.Errorf("the zero state on a model without buffers: %v", err)
	}
	if err := RestoreBuffers(plain, s); err == nil {
		t.Error("RestoreBuffers put buffers into a model without batch norm")
	}
}
