// Package checkpoint saves and loads a model's parameters, and optionally its
// optimizer's state, as safetensors files in PyTorch's layouts.
//
// A checkpoint holds one F32 tensor per parameter, named as the parameter
// ("conv1.weight", "conv1.bias", "fc1.weight", …) and laid out as PyTorch
// lays out the same layer: conv weights [out, in/groups, kh, kw], dense
// weights [out, in] with the first dense layer after a conv/pool stack
// taking its inputs in PyTorch's (C, H, W) flatten order, biases [out]
// (none for a layer without bias), batch norm weight and bias [C]. A
// model with buffers ([runtime.Stateful]) adds them under PyTorch's names:
// "<layer>.running_mean" and "<layer>.running_var", F32 [C], and
// "<layer>.num_batches_tracked", an I64 scalar (shape []). A PyTorch
// state_dict saved with safetensors therefore loads into a cnngen model of
// the same architecture, and a cnngen checkpoint into PyTorch.
//
// The optimizer's buffers are extra tensors named
// "optim.<parameter>.<slot>" (slots as in PyTorch: momentum_buffer, exp_avg,
// exp_avg_sq) in their parameter's layout. The metadata holds the network's
// name, a hash of its parameter shapes, the optimizer's kind and step count,
// and the caller's own entries (see [MetaNetwork] and the other keys).
//
// A state_dict whose layers are named otherwise (an nn.Sequential's
// "features.0.weight") loads with [LoadRenamed], which maps names first
// ([Rename]); tensors that match none of the model's names make a
// [NamesError], which lists them and the names expected.
//
// Saves are atomic ([Save]); loads check every tensor against the model
// before changing anything, and change nothing when they fail ([Load]).
package checkpoint
