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
//	generate [-o DIR] [-pkg NAME] FILE.yaml
//	    Write a shape-specialized Go package for the network: every
//	    dimension a constant, every buffer a fixed-size array. Only files
//	    whose contents change are written, so it is safe in go:generate.
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
//	    -seeds 1-5 runs several seeds. Ctrl-C finishes the current
//	    step, saves and exits.
//
//	eval -load CKPT [-data CSV] [FILE.yaml]
//	    Print the accuracy, per-class precision and recall, and the
//	    confusion matrix of a trained checkpoint.
//
//	predict -load CKPT -data CSV [-probs] [FILE.yaml]
//	    Print the predicted class (and with -probs the probabilities) of
//	    each row of a CSV file.
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
// Run "cnngen <command> -h" for a command's flags. Descriptions are
// documented in docs/format.md; errors name the file, line and column.
//
// Exit status: 0 on success, 1 when the input is bad or a run fails, 2 for a
// bad command line.
//
// Environment: CNNGEN_ISA=purego|avx2|avx512 forces the kernels that
// generated code runs (default: the fastest the CPU has).
package main
