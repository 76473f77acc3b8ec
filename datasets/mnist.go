package datasets

import (
	"bytes"
	_ "embed"
	"fmt"

	"github.com/cnngen/cnngen/runtime"
)

// The four MNIST files, gzip-compressed IDX exactly as published. See
// README.md for their source, licence and checksums.
var (
	//go:embed train-images-idx3-ubyte.gz
	mnistTrainImages []byte
	//go:embed train-labels-idx1-ubyte.gz
	mnistTrainLabels []byte
	//go:embed t10k-images-idx3-ubyte.gz
	mnistTestImages []byte
	//go:embed t10k-labels-idx1-ubyte.gz
	mnistTestLabels []byte
)

// MNIST file names, as published and as errors and logs name them.
const (
	MNISTTrainImagesFile = "train-images-idx3-ubyte.gz"
	MNISTTrainLabelsFile = "train-labels-idx1-ubyte.gz"
	MNISTTestImagesFile  = "t10k-images-idx3-ubyte.gz"
	MNISTTestLabelsFile  = "t10k-labels-idx1-ubyte.gz"
)

// MNIST's fixed sizes: its standard split and its image side.
const (
	MNISTTrainSize = 60000
	MNISTTestSize  = 10000
	MNISTSide      = 28
)

// MNISTFiles returns the four embedded MNIST files as stored
// (gzip-compressed IDX), by file name. The slices are shared: do not modify
// them.
func MNISTFiles() map[string][]byte {
	return map[string][]byte{
		MNISTTrainImagesFile: mnistTrainImages,
		MNISTTrainLabelsFile: mnistTrainLabels,
		MNISTTestImagesFile:  mnistTestImages,
		MNISTTestLabelsFile:  mnistTestLabels,
	}
}

// MNIST returns the MNIST database of handwritten digits in its standard
// split: the 60,000 training images and the 10,000 test images, 10 classes,
// in file order, each of shape 28×28×1 with pixels scaled from 0..255 to
// 0..1 (divided by 255). pad > 0 surrounds every image with pad zero pixels
// on each side (pad 2 gives the 32×32 of the original LeNet-5); pad must lie
// in 0..64.
func MNIST(pad int) (train, test *runtime.Dataset, err error) {
	if pad < 0 || pad > 64 {
		return nil, nil, fmt.Errorf("MNIST padding %d: want 0 to 64 pixels", pad)
	}
	train, err = mnistSet(mnistTrainImages, MNISTTrainImagesFile, mnistTrainLabels, MNISTTrainLabelsFile, MNISTTrainSize, pad)
	if err != nil {
		return nil, nil, err
	}
	test, err = mnistSet(mnistTestImages, MNISTTestImagesFile, mnistTestLabels, MNISTTestLabelsFile, MNISTTestSize, pad)
	if err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// mnistSet decodes one part of MNIST from its image and label files, which
// must hold count 28×28 images and count labels in 0..9, and pads each image
// with pad zero pixels on each side.
func mnistSet(images []byte, imagesName string, labels []byte, labelsName string, count, pad int) (*runtime.Dataset, error) {
	im, err := ReadIDXImages(bytes.NewReader(images), imagesName)
	if err != nil {
		return nil, err
	}
	if im.Count != count || im.Rows != MNISTSide || im.Cols != MNISTSide {
		return nil, fmt.Errorf("%s: %d images of %dx%d, want %d of %dx%d",
			imagesName, im.Count, im.Rows, im.Cols, count, MNISTSide, MNISTSide)
	}
	return mnistDataset(im, imagesName, labels, labelsName, pad)
}

// mnistDataset combines decoded images with the label file, checking that
// there is one label in 0..9 per image, into a data set with pixels divided
// by 255 and pad zero pixels around each image.
func mnistDataset(im *IDXImages, imagesName string, labels []byte, labelsName string, pad int) (*runtime.Dataset, error) {
	ys, err := ReadIDXLabels(bytes.NewReader(labels), labelsName)
	if err != nil {
		return nil, err
	}
	if len(ys) != im.Count {
		return nil, fmt.Errorf("%s: %d labels for the %d images of %s", labelsName, len(ys), im.Count, imagesName)
	}
	shape := runtime.Shape{Height: im.Rows + 2*pad, Width: im.Cols + 2*pad, Channels: 1}
	d := &runtime.Dataset{
		Shape:   shape,
		Classes: 10,
		X:       make([]float32, im.Count*shape.Size()),
		Y:       make([]int32, im.Count),
	}
	for i, y := range ys {
		if y > 9 {
			return nil, fmt.Errorf("%s: label %d of image %d is outside 0..9", labelsName, y, i)
		}
		d.Y[i] = int32(y)
		src, dst := im.Image(i), d.Sample(i)
		for r := range im.Rows {
			row := dst[(r+pad)*shape.Width+pad:]
			for c, v := range src[r*im.Cols : (r+1)*im.Cols] {
				row[c] = float32(v) / 255
			}
		}
	}
	return d, nil
}
