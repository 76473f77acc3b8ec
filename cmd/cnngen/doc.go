// Command cnngen compiles small fixed-shape convolutional networks into Go
// and trains them.
//
// Usage:
//
//	cnngen <command> [flags] [args]
//
// The commands:
//
//	summary FILE.yaml
//	    Check a network description and print every layer's output shape,
//	    parameters, multiply-accumulates and activation bytes, with totals.
//
//	import [-o NAME] MODEL.onnx
//	    Turn an ONNX model into NAME.yaml, its description, and
//	    NAME.safetensors, its weights (a checkpoint in PyTorch's layouts);
//	    NAME defaults to MODEL without .onnx. Unsupported operators and
//	    padding are refused with the node's name, operator and opset.
//
//	export -onnx OUT.onnx -load CKPT [FILE.yaml]
//	    Write the network with the weights of the checkpoint CKPT as an ONNX
//	    model (opset 13, NCHW input [1, C, H, W], PyTorch's weight layouts)
//	    that ONNX Runtime runs with the same outputs; import reads it back.
//	    A flattened map that reaches the output, a softmax, a batchnorm or a
//	    concat without a dense layer between is refused.
//
//	generate [-o DIR] [-pkg NAME] [-gogenerate] FILE.yaml|MODEL.onnx
//	    Write a shape-specialized Go package for the network: every
//	    dimension a constant, every buffer a fixed-size array (doc.go,
//	    model.go, kernels.go, frozen.go and, when some layer has vector
//	    kernels, simd_amd64.s, simd_amd64.go, simd_purego.go, simd_ref.go).
//	    Only files whose contents change are written, so it is safe in
//	    go:generate; a DIR holding Go files of another package is refused.
//	    -gogenerate adds to doc.go a go:generate line that regenerates the
//	    package. An ONNX model is imported in memory first.
//
//	train [flags] [FILE.yaml]
//	    Train the network with the description's recipe and print the
//	    tutorial's log: every -log-every steps the cost per sample and the
//	    training accuracy, then the test accuracy. Without FILE it runs the
//	    reference experiment: the tutorial CNN on the embedded digits.
//	    Generated code runs by default (-engine generic: the reference
//	    runtime): the digits network is compiled in; any other description is
//	    generated, built and run in a child process (needs the go command).
//	    -workers N splits batches over N workers; -save F and -resume F write
//	    and continue safetensors checkpoints; -plot PNG draws the learning
//	    curve: cost, batch accuracy and test accuracy at the logged steps
//	    (after -resume, the whole run's: checkpoints keep the curve);
//	    -seeds 1-5 runs several seeds. -init F starts from the weights of
//	    the checkpoint F (a PyTorch state_dict too) with a fresh optimizer
//	    and step count: fine-tuning. Ctrl-C finishes the current step, saves
//	    and exits.
//
//	eval -load CKPT [-data CSV] [FILE.yaml]
//	    Print the accuracy, per-class precision and recall, and the
//	    confusion matrix of a trained checkpoint.
//
//	predict -load CKPT -data CSV [-probs] [-logits] [FILE.yaml]
//	    Print the predicted class (with -probs the probabilities, with
//	    -logits the raw outputs in full precision) of each row of a CSV file.
//
// When some sample's outputs are not finite (NaN or ±Inf), eval prints no
// report and predict prints class "-" for it; both then name each such
// sample by its line in the data file and exit with status 1.
//
//	show -load CKPT -o PNG [-image N] [FILE.yaml]
//	    Draw the learned convolution filters and one input's feature maps.
//
// Every command that writes a file says so on stderr, e.g.
// "cnngen: wrote curve.png (learning curve, 2000 steps)".
//
// -data mnist, accepted by train, eval, predict and show, selects the
// embedded MNIST: train uses its 60,000 training images and scores on its
// standard 10,000 test images (not a random split); eval, predict and show
// use the test images. Pixels are divided by 255; a 32x32x1 input gets 2
// zero pixels on each side (examples/lenet5.yaml, docs/mnist.md).
//
// -rename old=new,old2=new2 (or -rename @FILE, one old=new per line),
// accepted wherever a checkpoint is loaded (train -init and -resume, eval,
// predict, show), maps a checkpoint's tensor names onto the network's: old is
// a whole name or the part before its last dot, so features.0=conv1 maps
// features.0.weight to conv1.weight. A checkpoint with other names is
// refused with a list of them and of the expected ones.
//
// Run "cnngen <command> -h" for a command's flags. Descriptions are
// documented in docs/format.md; errors name the file, line and column.
//
// Exit status: 0 on success, 1 when the input is bad or a run fails, 2 for a
// bad command line.
//
// Environment: CNNGEN_ISA=purego|avx2|avx512 forces the kernels that
// generated code runs (default: the fastest the CPU has).
// CNNGEN_DATA_MAX_BYTES, CNNGEN_DATA_MAX_ROWS and CNNGEN_DATA_MAX_MEMORY
// raise (or lower) the limits on a -data file: its text after
// decompression (default 2GiB), its samples (default 5000000) and the
// memory they take once read (default 1GiB); a size may end in KiB, MiB,
// GiB or TiB, and none lifts a limit. A file beyond a limit is refused at
// the line where it was reached.
package main
