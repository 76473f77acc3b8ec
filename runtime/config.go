package runtime

// Reduction says how the per-sample losses of a batch are combined.
type Reduction int

const (
	// Sum adds the per-sample losses (the tutorial's recipe).
	Sum Reduction = iota
	// Mean averages them over the batch.
	Mean
)

// String returns "sum" or "mean".
func (r Reduction) String() string {
	if r == Mean {
		return "mean"
	}
	return "sum"
}

// OptimizerKind names an optimizer.
type OptimizerKind string

// The optimizers.
const (
	SGD      OptimizerKind = "sgd"
	Momentum OptimizerKind = "momentum"
	Adam     OptimizerKind = "adam"
)

// OptimizerConfig is an optimizer and its hyper-parameters. Fields that do
// not apply to Kind are zero.
type OptimizerConfig struct {
	Kind         OptimizerKind
	LearningRate float64
	// Momentum is the momentum coefficient (momentum only).
	Momentum float64
	// Nesterov selects Nesterov momentum (momentum only).
	Nesterov bool
	// Beta1, Beta2 and Epsilon are Adam's coefficients.
	Beta1, Beta2, Epsilon float64
	// WeightDecay is the L2 penalty coefficient (0: none).
	WeightDecay float64
	// Schedule changes the learning rate over the steps.
	Schedule Schedule
}

// ScheduleKind names a learning-rate schedule.
type ScheduleKind string

// The learning-rate schedules.
const (
	// Constant keeps the learning rate.
	Constant ScheduleKind = "constant"
	// StepDecay multiplies it by Gamma every StepSize steps.
	StepDecay ScheduleKind = "step"
	// Cosine anneals it from the base rate to 0 over the run.
	Cosine ScheduleKind = "cosine"
)

// Schedule is a learning-rate schedule; the zero value is constant.
type Schedule struct {
	Kind     ScheduleKind
	StepSize int
	Gamma    float64
}

// LossKind names a training loss.
type LossKind string

// The losses.
const (
	// CrossEntropy is softmax cross-entropy against class labels: the loss
	// of a network that ends with softmax.
	CrossEntropy LossKind = "softmax_cross_entropy"
	// SquaredError is the squared error against real-valued targets, the
	// loss of a regression network (one that ends without softmax). With
	// the Sum reduction it is Σ (y−t)² over the batch and the outputs; with
	// Mean it is that divided by the number of samples times the number of
	// outputs, as PyTorch's MSELoss(reduction="mean").
	SquaredError LossKind = "mse"
)

// TargetKind says where a regression network's targets come from.
type TargetKind string

// The targets.
const (
	// TargetColumns takes the targets from the data: the last Outputs
	// columns of each CSV row.
	TargetColumns TargetKind = "columns"
	// TargetInput makes each sample its own target (an autoencoder): the
	// network's outputs have the input's size.
	TargetInput TargetKind = "input"
)

// TrainConfig is a training recipe.
type TrainConfig struct {
	// Loss is the loss; "" means CrossEntropy.
	Loss LossKind
	// Target is where a SquaredError loss's targets come from; "" means
	// TargetColumns. Unused with CrossEntropy.
	Target    TargetKind
	Reduction Reduction
	Optimizer OptimizerConfig
	// BatchSize is the number of samples per step; 0 means the whole
	// training set (full batch).
	BatchSize int
	// Steps is the number of optimizer steps. When Epochs is set instead,
	// Steps is 0 and the run lasts Epochs passes over the training set.
	Steps  int
	Epochs int
	// Seed drives the split, the initial weights and the shuffles.
	Seed uint64
	// TestFraction is the share of the data held out for testing.
	TestFraction float64
}
