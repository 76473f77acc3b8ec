package runtime

import (
	"fmt"
	"math"
)

// Validate checks the schedule for a run of totalSteps optimizer steps.
// Cosine needs totalSteps ≥ 1; step decay needs StepSize ≥ 1 and a finite
// Gamma > 0.
func (s Schedule) Validate(totalSteps int) error {
	switch s.Kind {
	case "", Constant:
		return nil
	case StepDecay:
		if s.StepSize < 1 {
			return fmt.Errorf("step schedule: step size %d must be at least 1", s.StepSize)
		}
		if !(s.Gamma > 0) || math.IsInf(s.Gamma, 0) {
			return fmt.Errorf("step schedule: gamma %g must be a finite number > 0", s.Gamma)
		}
		return nil
	case Cosine:
		if totalSteps < 1 {
			return fmt.Errorf("cosine schedule: the run's total steps (%d) must be at least 1", totalSteps)
		}
		return nil
	}
	return fmt.Errorf("learning-rate schedule %q is not supported: want %s, %s or %s", s.Kind, Constant, StepDecay, Cosine)
}

// Rate returns the learning rate of the optimizer step that follows step
// completed steps (step = 0 for the first update), for a base rate and a run
// of totalSteps steps:
//
//	constant: base
//	step:     base·Gamma^⌊step/StepSize⌋
//	cosine:   base·(1+cos(π·step/totalSteps))/2
//
// These are PyTorch's StepLR and CosineAnnealingLR (η_min = 0, T_max =
// totalSteps) in closed form, with the scheduler stepped after every
// optimizer step. A cosine run that goes past totalSteps stays at 0. The
// schedule must have passed [Schedule.Validate].
func (s Schedule) Rate(base float64, step, totalSteps int) float64 {
	switch s.Kind {
	case StepDecay:
		return base * math.Pow(s.Gamma, float64(step/s.StepSize))
	case Cosine:
		if step >= totalSteps {
			return 0
		}
		return base * (1 + math.Cos(math.Pi*float64(step)/float64(totalSteps))) / 2
	}
	return base
}
