package runtime

import "fmt"

// Optimizer updates a model's parameters from their gradients.
type Optimizer interface {
	// Step applies one update to every parameter, reading Param.Grad and
	// writing Param.Value. The params must be the same list (same order and
	// sizes) on every call.
	Step(params []Param)
}

// NewOptimizer returns the optimizer that cfg describes, with state sized for
// params.
func NewOptimizer(cfg OptimizerConfig, params []Param) (Optimizer, error) {
	switch cfg.Kind {
	case SGD, "":
		return &sgd{lr: float32(cfg.LearningRate)}, nil
	}
	return nil, fmt.Errorf("optimizer %q is not supported", cfg.Kind)
}

// sgd is plain gradient descent: v -= lr·g.
type sgd struct{ lr float32 }

func (o *sgd) Step(params []Param) {
	for _, p := range params {
		g := p.Grad[:len(p.Value)]
		for i := range p.Value {
			p.Value[i] -= o.lr * g[i]
		}
	}
}
