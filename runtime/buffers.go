package runtime

import "fmt"

// BufferState is a copy of a model's buffers ([Stateful.Buffers]), detached
// from the model: what a process that trains a model hands back to the one
// that saves it. Values holds the float buffers and Counts the counters, each
// in Buffers order.
type BufferState struct {
	Values [][]float32
	Counts []int64
}

// SaveBuffers copies m's buffers; a model without buffers gives the zero
// BufferState.
func SaveBuffers(m Model) BufferState {
	var s BufferState
	st, ok := m.(Stateful)
	if !ok {
		return s
	}
	for _, b := range st.Buffers() {
		if b.Count != nil {
			s.Counts = append(s.Counts, *b.Count)
		} else {
			s.Values = append(s.Values, append([]float32(nil), b.Value...))
		}
	}
	return s
}

// RestoreBuffers sets m's buffers from s, made by [SaveBuffers] from a model
// of the same network. It checks every count and size first, so that on an
// error m is unchanged.
func RestoreBuffers(m Model, s BufferState) error {
	var bufs []Buffer
	if st, ok := m.(Stateful); ok {
		bufs = st.Buffers()
	}
	values, counts := 0, 0
	for _, b := range bufs {
		if b.Count != nil {
			counts++
			continue
		}
		if values < len(s.Values) && len(s.Values[values]) != len(b.Value) {
			return fmt.Errorf("buffer %s: %d values, want %d", b.Name, len(s.Values[values]), len(b.Value))
		}
		values++
	}
	if values != len(s.Values) || counts != len(s.Counts) {
		return fmt.Errorf("%d float buffers and %d counters, want %d and %d", len(s.Values), len(s.Counts), values, counts)
	}
	values, counts = 0, 0
	for _, b := range bufs {
		if b.Count != nil {
			*b.Count = s.Counts[counts]
			counts++
		} else {
			copy(b.Value, s.Values[values])
			values++
		}
	}
	return nil
}
