// Package viz draws pictures of training runs and trained networks: the
// learning curve (cost and accuracies against the step, with gonum/plot) and
// sheets of small grayscale tiles (conv filters, an input image and its
// feature maps, with the standard image packages), all written as PNG.
//
// It lives outside runtime/ so that generated packages, which import
// runtime, do not link a plotting library.
package viz
