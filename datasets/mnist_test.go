package datasets

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/cnngen/cnngen/runtime"
)

// mnistSHA256 are the checksums of the compressed MNIST files recorded in
// README.md.
var mnistSHA256 = map[string]string{
	MNISTTrainImagesFile: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
	MNISTTrainLabelsFile: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
	MNISTTestImagesFile:  "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
	MNISTTestLabelsFile:  "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

func TestMNISTChecksums(t *testing.T) {
	files := MNISTFiles()
	if len(files) != len(mnistSHA256) {
		t.Errorf("%d embedded MNIST files, want %d", len(files), len(mnistSHA256))
	}
	for name, want := range mnistSHA256 {
		sum := sha256.Sum256(files[name])
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("SHA-256 of the embedded %s = %s, want %s", name, got, want)
		}
	}
}

// TestMNISTChecksumsInREADME keeps README.md's checksums the ones verified.
func TestMNISTChecksumsInREADME(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for name, sum := range mnistSHA256 {
		if !strings.Contains(readme, sum) || !strings.Contains(readme, name) {
			t.Errorf("README.md does not record %s with SHA-256 %s", name, sum)
		}
	}
}

// mnist0 is MNIST(0), loaded once for the tests that read it.
var mnist0 = sync.OnceValues(func() ([2]*runtime.Dataset, error) {
	train, test, err := MNIST(0)
	return [2]*runtime.Dataset{train, test}, err
})

func TestMNIST(t *testing.T) {
	sets, err := mnist0()
	if err != nil {
		t.Fatal(err)
	}
	train, test := sets[0], sets[1]
	for _, c := range []struct {
		name    string
		d       int
		want    int
		classes [10]int
	}{
		// The class counts published with MNIST.
		{"train", train.Len(), MNISTTrainSize, [10]int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}},
		{"test", test.Len(), MNISTTestSize, [10]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}},
	} {
		if c.d != c.want {
			t.Errorf("%s: %d samples, want %d", c.name, c.d, c.want)
		}
		var counts [10]int
		d := train
		if c.name == "test" {
			d = test
		}
		for _, y := range d.Y {
			counts[y]++
		}
		if counts != c.classes {
			t.Errorf("%s: class counts %v, want %v", c.name, counts, c.classes)
		}
		if d.Shape.String() != "28x28x1" || d.Classes != 10 || len(d.X) != d.Len()*784 {
			t.Errorf("%s: shape %v, %d classes, %d values; want 28x28x1, 10, %d", c.name, d.Shape, d.Classes, len(d.X), d.Len()*784)
		}
		lo, hi := float32(1), float32(0)
		for _, v := range d.X {
			lo, hi = min(lo, v), max(hi, v)
		}
		if lo != 0 || hi != 1 {
			t.Errorf("%s: pixels span [%v, %v], want [0, 1]", c.name, lo, hi)
		}
	}
	// The first training image is a 5, the first test image a 7.
	if train.Y[0] != 5 || test.Y[0] != 7 {
		t.Errorf("first labels: train %d, test %d; want 5 and 7", train.Y[0], test.Y[0])
	}
	// Pixel sums (in 0..255 units) of the first and last images, computed
	// from the published files with Python's gzip module.
	for _, c := range []struct {
		name  string
		image []float32
		want  float64
	}{
		{"first training image", train.Sample(0), 27525},
		{"last training image", train.Sample(MNISTTrainSize - 1), 20920},
		{"first test image", test.Sample(0), 18454},
		{"last test image", test.Sample(MNISTTestSize - 1), 41833},
	} {
		var sum float64
		for _, v := range c.image {
			sum += float64(v) * 255
		}
		if math.Abs(sum-c.want) > 0.01 {
			t.Errorf("%s: pixel sum %.3f, want %v", c.name, sum, c.want)
		}
	}
	// Row 14 of the first training image, from the published file.
	row := []byte{0x51, 0xf0, 0xfd, 0xfd, 0x77, 0x19}
	for k, v := range row {
		if got := train.Sample(0)[14*28+13+k]; got != float32(v)/255 {
			t.Errorf("training image 0 at (14, %d) = %v, want %d/255", 13+k, got, v)
		}
	}
}

func TestMNISTPadded(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes MNIST a second time; TestMNISTDatasetChecks covers the padding on a small set")
	}
	sets, err := mnist0()
	if err != nil {
		t.Fatal(err)
	}
	plain, plainTest := sets[0], sets[1]
	padded, paddedTest, err := MNIST(2)
	if err != nil {
		t.Fatal(err)
	}
	if padded.Shape.String() != "32x32x1" || paddedTest.Shape.String() != "32x32x1" {
		t.Fatalf("padded shapes %v and %v, want 32x32x1", padded.Shape, paddedTest.Shape)
	}
	if padded.Len() != plain.Len() || paddedTest.Len() != plainTest.Len() {
		t.Fatalf("padded sets have %d and %d samples, want %d and %d", padded.Len(), paddedTest.Len(), plain.Len(), plainTest.Len())
	}
	for _, i := range []int{0, 1, 59999} {
		src, dst := plain.Sample(i), padded.Sample(i)
		for r := range 32 {
			for c := range 32 {
				want := float32(0)
				if r >= 2 && r < 30 && c >= 2 && c < 30 {
					want = src[(r-2)*28+c-2]
				}
				if got := dst[r*32+c]; got != want {
					t.Fatalf("padded image %d at (%d, %d) = %v, want %v", i, r, c, got, want)
				}
			}
		}
		if padded.Y[i] != plain.Y[i] {
			t.Errorf("padded label %d = %d, want %d", i, padded.Y[i], plain.Y[i])
		}
	}
	if _, _, err := MNIST(-1); err == nil {
		t.Error("MNIST(-1): no error")
	}
}

// idxFile builds an IDX file: the big-endian header words, then payload.
func idxFile(payload []byte, header ...uint32) []byte {
	var b bytes.Buffer
	for _, w := range header {
		binary.Write(&b, binary.BigEndian, w)
	}
	b.Write(payload)
	return b.Bytes()
}

func gzipped(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReadIDXImages(t *testing.T) {
	pixels := []byte{0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255}
	raw := idxFile(pixels, 2051, 2, 2, 3)
	for _, c := range []struct {
		name string
		data []byte
	}{{"raw", raw}, {"gzip", gzipped(t, raw)}} {
		im, err := ReadIDXImages(bytes.NewReader(c.data), "x.idx")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if im.Count != 2 || im.Rows != 2 || im.Cols != 3 || !bytes.Equal(im.Pixels, pixels) {
			t.Errorf("%s: got %d images of %dx%d, pixels %v", c.name, im.Count, im.Rows, im.Cols, im.Pixels)
		}
		if !bytes.Equal(im.Image(1), pixels[6:]) {
			t.Errorf("%s: image 1 = %v, want %v", c.name, im.Image(1), pixels[6:])
		}
	}
}

func TestReadIDXLabels(t *testing.T) {
	labels := []byte{5, 0, 4, 1, 9}
	for _, data := range [][]byte{idxFile(labels, 2049, 5), gzipped(t, idxFile(labels, 2049, 5))} {
		got, err := ReadIDXLabels(bytes.NewReader(data), "y.idx")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, labels) {
			t.Errorf("labels %v, want %v", got, labels)
		}
	}
}

// TestReadIDXMalformed checks that every kind of damage is an error that
// names the file and what is wrong, and never a panic.
func TestReadIDXMalformed(t *testing.T) {
	good := idxFile(make([]byte, 2*2*3), 2051, 2, 2, 3)
	images := func(data []byte) error {
		_, err := ReadIDXImages(bytes.NewReader(data), "bad.idx")
		return err
	}
	labels := func(data []byte) error {
		_, err := ReadIDXLabels(bytes.NewReader(data), "bad.idx")
		return err
	}
	truncatedGzip := gzipped(t, good)
	truncatedGzip = truncatedGzip[:len(truncatedGzip)-10]
	for _, c := range []struct {
		name string
		read func([]byte) error
		data []byte
		want string
	}{
		{"empty", images, nil, "truncated header: 0 of 16 bytes"},
		{"short header", images, good[:10], "truncated header: 10 of 16 bytes"},
		{"label magic in an image file", images, idxFile(nil, 2049, 1), "magic number 2049 (0x00000801), want 2051 (0x00000803) for an IDX file of images"},
		{"image magic in a label file", labels, idxFile(make([]byte, 12), 2051, 2, 2, 3), "magic number 2051 (0x00000803), want 2049 (0x00000801) for an IDX file of labels"},
		{"float element type", images, idxFile(make([]byte, 4), 0x0D03, 1, 1, 1), "magic number 3331"},
		{"zero count", images, idxFile(nil, 2051, 0, 28, 28), "image count is 0, want at least 1"},
		{"negative rows", images, idxFile(nil, 2051, 1, 0xFFFFFFFF, 28), "rows is -1, want at least 1"},
		{"zero columns", images, idxFile(nil, 2051, 1, 28, 0), "columns is 0, want at least 1"},
		{"zero labels", labels, idxFile(nil, 2049, 0), "label count is 0"},
		{"huge header", images, idxFile(nil, 2051, 0x7FFFFFFF, 0x7FFFFFFF, 0x7FFFFFFF), "announce more than"},
		{"truncated pixels", images, good[:len(good)-1], "truncated: 11 of the 12 bytes of images"},
		{"truncated labels", labels, idxFile([]byte{1, 2}, 2049, 3), "truncated: 2 of the 3 bytes of labels"},
		{"extra bytes", images, append(append([]byte{}, good...), 0), "bytes after the 12 bytes of images"},
		{"gzip without its end", images, truncatedGzip, "truncated: the compressed data ends before its end marker"},
		{"truncated gzip", images, gzipped(t, good)[:20], "truncated"},
		{"bad gzip header", images, []byte{0x1f, 0x8b, 0, 0}, "bad.idx: "},
	} {
		err := c.read(c.data)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "bad.idx: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want one starting with bad.idx: and containing %q", c.name, err, c.want)
		}
	}
}

func TestMNISTDatasetChecks(t *testing.T) {
	im := &IDXImages{Count: 2, Rows: 2, Cols: 2, Pixels: []byte{0, 255, 51, 102, 1, 2, 3, 4}}
	for _, c := range []struct {
		name   string
		labels []byte
		want   string
	}{
		{"label 10", idxFile([]byte{3, 10}, 2049, 2), "lab.idx: label 10 of image 1 is outside 0..9"},
		{"too few labels", idxFile([]byte{3}, 2049, 1), "lab.idx: 1 labels for the 2 images of img.idx"},
		{"bad labels file", idxFile([]byte{3}, 2051, 1), "lab.idx: magic number 2051"},
	} {
		_, err := mnistDataset(im, "img.idx", c.labels, "lab.idx", 0)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	d, err := mnistDataset(im, "img.idx", idxFile([]byte{3, 9}, 2049, 2), "lab.idx", 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{
		0, 0, 0, 0,
		0, 0, 1, 0,
		0, 0.2, 0.4, 0,
		0, 0, 0, 0,
	}
	if d.Shape.String() != "4x4x1" || d.Y[0] != 3 || d.Y[1] != 9 {
		t.Fatalf("shape %v, labels %v; want 4x4x1 and [3 9]", d.Shape, d.Y)
	}
	for i, w := range want {
		if d.X[i] != w {
			t.Errorf("padded sample 0 = %v, want %v", d.X[:16], want)
			break
		}
	}
	// A wrong image count or size in a set is an error naming the file.
	if _, err := mnistSet(idxFile(make([]byte, 4), 2051, 1, 2, 2), "img.idx", idxFile([]byte{1}, 2049, 1), "lab.idx", 1, 0); err == nil ||
		!strings.Contains(err.Error(), "img.idx: 1 images of 2x2, want 1 of 28x28") {
		t.Errorf("2x2 images: error %v", err)
	}
}

// FuzzReadIDX checks that no input makes the IDX readers panic, and that
// what they accept is consistent with its header.
func FuzzReadIDX(f *testing.F) {
	f.Add(idxFile(make([]byte, 12), 2051, 2, 2, 3))
	f.Add(idxFile([]byte{1, 2, 3}, 2049, 3))
	f.Add(gzipped(f, idxFile([]byte{1, 2, 3}, 2049, 3)))
	f.Add(idxFile(nil, 2051, 0x7FFFFFFF, 1, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		if im, err := ReadIDXImages(bytes.NewReader(data), "f"); err == nil {
			if im.Count < 1 || im.Rows < 1 || im.Cols < 1 || len(im.Pixels) != im.Count*im.Rows*im.Cols {
				t.Errorf("accepted %d images of %dx%d with %d pixels", im.Count, im.Rows, im.Cols, len(im.Pixels))
			}
		} else if !strings.HasPrefix(err.Error(), "f: ") {
			t.Errorf("error %q does not name the file", err)
		}
		if labels, err := ReadIDXLabels(bytes.NewReader(data), "f"); err == nil && len(labels) < 1 {
			t.Error("accepted a label file without labels")
		} else if err != nil && !strings.HasPrefix(err.Error(), "f: ") {
			t.Errorf("error %q does not name the file", err)
		}
	})
}
