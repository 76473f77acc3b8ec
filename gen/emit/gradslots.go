package emit

import (
	"fmt"
	"slices"
)

// The gradients of the activations share fields of tileBuffers. The
// backward pass computes each buffer's gradient in the step of its first
// consumer (its last reader in the forward) and reads it for the last time
// in the step of its producer; in a chain of layers only two of them are
// live at once. Giving every buffer a field of its own made each backward
// step write a map that had not been touched since the last training step,
// out in memory, while a field that the step before last has just used is
// still in cache.

// gradSlot is a field of tileBuffers that holds the gradients of buffers
// of one size whose gradients are never live in the same backward step.
type gradSlot struct {
	field string
	size  int
	bufs  []*buffer
	// lastRead is the last backward step that reads the gradient it holds
	// now (while gradLayout assigns the slots).
	lastRead int
}

// gradField returns the field of tileBuffers that holds the gradient of b,
// which the backward pass computes (gradNeeded).
func (p *plan) gradField(b *buffer) string {
	_, of := p.gradLayout()
	if s := of[b]; s != nil {
		return s.field
	}
	panic("emit: no gradient field for buffer " + b.field)
}

// gradLayout assigns the buffers whose gradient the backward pass
// computes to gradSlots, in the order of their first write, each to the
// first slot of its size that no live gradient holds. A slot of one
// buffer keeps that buffer's name, <field>Grad; slots that serve several
// are named grads<k>.
func (p *plan) gradLayout() ([]*gradSlot, map[*buffer]*gradSlot) {
	if p.gradSlotOf != nil {
		return p.gradSlots, p.gradSlotOf
	}
	// step is each stage's place in the backward pass, which runs the
	// stages in reverse, the loss (writing the logits' gradient) at −1.
	step := map[*stage]int{}
	n := 0
	for i := len(p.stages) - 1; i >= 0; i-- {
		if s := p.stages[i]; s.backward {
			step[s] = n
			n++
		}
	}
	type span struct {
		b          *buffer
		start, end int
	}
	var spans []span
	for _, s := range p.stages {
		b := s.out
		if !p.gradNeeded(b) {
			continue
		}
		start, end := n, -1
		if b == p.logits {
			start = -1
		}
		for _, c := range b.consumers {
			if c.backward {
				start, end = min(start, step[c]), max(end, step[c])
			}
		}
		if s.backward {
			end = max(end, step[s])
		}
		spans = append(spans, span{b, start, max(start, end)})
	}
	slices.SortStableFunc(spans, func(a, b span) int { return a.start - b.start })
	var slots []*gradSlot
	of := map[*buffer]*gradSlot{}
	for _, sp := range spans {
		var slot *gradSlot
		for _, s := range slots {
			if s.size == sp.b.size && s.lastRead < sp.start {
				slot = s
				break
			}
		}
		if slot == nil {
			slot = &gradSlot{size: sp.b.size}
			slots = append(slots, slot)
		}
		slot.bufs = append(slot.bufs, sp.b)
		slot.lastRead = sp.end
		of[sp.b] = slot
	}
	// Names in the order of the forward pass, as tileBuffers declares them.
	shared := 0
	for _, st := range p.stages {
		s := of[st.out]
		switch {
		case s == nil || s.field != "":
		case len(s.bufs) == 1:
			s.field = s.bufs[0].field + "Grad"
		default:
			s.field = fmt.Sprintf("grads%d", shared)
			shared++
		}
	}
	p.gradSlots, p.gradSlotOf = slots, of
	return slots, of
}
