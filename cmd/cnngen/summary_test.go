package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSummaryDigits(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"summary", "../../examples/digits.yaml"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	// conv1: 3·3·1·32+32 params, 8·8·32·9 MACs; dense1: 512·300+300 and
	// 512·300; dense2: 300·10+10 and 300·10; bytes are 4 per value.
	const want = `network digits: input 8x8x1, 10 classes

LAYER     KIND     WINDOW      PAD T B L R  OUTPUT  PARAMS  MACS    ACTIVATION BYTES
conv1     conv2d   3x3/1 same  1 1 1 1      8x8x32  320     18432   8192
relu1     relu     -           -            8x8x32  0       0       8192
pool1     maxpool  2x2/2 same  -            4x4x32  0       0       2048
flatten1  flatten  -           -            512     0       0       2048
dense1    dense    -           -            300     153900  153600  1200
relu2     relu     -           -            300     0       0       1200
dense2    dense    -           -            10      3010    3000    40
softmax1  softmax  -           -            10      0       0       40
total                                               157230  175032  22960

train: softmax cross-entropy (sum), sgd lr 0.0001, full batch, 2000 steps, seed 1, test fraction 0.1
`
	if got := stdout.String(); got != want {
		t.Errorf("summary:\n%s\nwant:\n%s", got, want)
	}
}

func TestSummaryImplicitFlatten(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"summary", "../../examples/twoconv.yaml"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	const want = `network twoconv: input 8x8x1, 10 classes

LAYER     KIND     WINDOW       PAD T B L R  OUTPUT  PARAMS  MACS   ACTIVATION BYTES
conv1     conv2d   2x2/1 valid  -            7x7x16  80      3136   3136
relu1     relu     -            -            7x7x16  0       0      3136
conv2     conv2d   3x3/2 same   1 1 1 1      4x4x32  4640    73728  2048
relu2     relu     -            -            4x4x32  0       0      2048
pool1     maxpool  2x2/2 valid  -            2x2x32  0       0      512
flatten1  flatten  (implicit)   -            128     0       0      512
dense1    dense    -            -            64      8256    8192   256
relu3     relu     -            -            64      0       0      256
dense2    dense    -            -            10      650     640    40
softmax1  softmax  -            -            10      0       0      40
total                                                13626   85696  11984

train: softmax cross-entropy (mean), sgd lr 0.02, batch 64, 60 epochs, seed 1, test fraction 0.1
`
	if got := stdout.String(); got != want {
		t.Errorf("summary:\n%s\nwant:\n%s", got, want)
	}
}

func TestSummaryErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	src := `input: {height: 8, width: 8, channels: 1}
layers:
  - {kind: maxpool, window: 4}
  - {kind: conv2d, filters: 2, kernel: 5}
  - {kind: relux}
  - softmax
train: {optimizer: {type: sgd, learning_rate: 0.1}, steps: 1}
`
	if err := os.WriteFile(bad, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	shape := filepath.Join(dir, "shape.yaml")
	if err := os.WriteFile(shape, bytes.Replace([]byte(src), []byte("  - {kind: relux}\n"), nil, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args       []string
		code       int
		wantStderr string
	}{
		{[]string{"summary", bad}, 1,
			"cnngen: " + bad + `:5:12: layer 3: unknown layer kind "relux": want one of conv2d, relu, sigmoid, tanh, maxpool, avgpool, flatten, dense, softmax, batchnorm, add, concat, globalavgpool, dropout, relu6, leaky_relu` + "\n"},
		{[]string{"summary", shape}, 1,
			"cnngen: " + shape + ":4:40: conv1: kernel 5x5 is larger than its 2x2 input (from pool1)\n" +
				shape + ":5:5: softmax1: softmax needs a dense layer before it to compute the class scores\n"},
		{[]string{"summary", filepath.Join(dir, "missing.yaml")}, 1,
			"cnngen: open " + filepath.Join(dir, "missing.yaml") + ": no such file or directory\n"},
		{[]string{"summary"}, 2, "cnngen summary: want one description file\nrun 'cnngen summary -h' for usage\n"},
		{[]string{"summary", bad, bad}, 2, "cnngen summary: want one description file\nrun 'cnngen summary -h' for usage\n"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(tt.args, &stdout, &stderr)
		if code != tt.code || stderr.String() != tt.wantStderr || stdout.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s\nwant exit %d, stderr:\n%s", tt.args, code, stdout.String(), stderr.String(), tt.code, tt.wantStderr)
		}
	}
}

func TestSummaryGraph(t *testing.T) {
	// A residual block whose shortcut is written last, batch norm, a
	// depthwise conv, dropout, global pooling and a regression output.
	src := `name: small
input: {height: 4, width: 4, channels: 2}
layers:
  - {kind: conv2d, name: a, filters: 4, kernel: 3, padding: same, bias: false}
  - {kind: batchnorm, name: a_bn}
  - {kind: relu6, name: act}
  - {kind: conv2d, name: dw, filters: 4, groups: 4, kernel: 3, padding: same}
  - {kind: conv2d, name: short, input: input, filters: 4, kernel: 1}
  - {kind: add, name: sum, inputs: [short, dw]}
  - {kind: dropout, rate: 0.5}
  - globalavgpool
  - {kind: dense, units: 3}
train: {loss: {type: mse}, optimizer: {type: sgd, learning_rate: 0.1}, steps: 1}
`
	file := filepath.Join(t.TempDir(), "small.yaml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"summary", file}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	// a: 3·3·2·4 weights, no bias, 4·4·4·18 MACs; a_bn: γ and β of 4
	// channels, running mean and variance; dw: 3·3·1·4+4, 4·4·4·9 MACs;
	// short: 2·4+4, 4·4·4·2; dense1: 4·3+3, 4·3.
	const want = `network small: input 4x4x2, 3 outputs (regression)

LAYER     KIND           INPUTS    WINDOW       SETTINGS                    PAD T B L R  OUTPUT  PARAMS  MACS  ACTIVATION BYTES
a         conv2d         input     3x3/1 same   no bias                     1 1 1 1      4x4x4   72      1152  256
a_bn      batchnorm      a         -            momentum 0.1 epsilon 1e-05  -            4x4x4   8       0     256
act       relu6          a_bn      -            -                           -            4x4x4   0       0     256
dw        conv2d         act       3x3/1 same   groups 4                    1 1 1 1      4x4x4   40      576   256
short     conv2d         input     1x1/1 valid  -                           -            4x4x4   12      128   256
sum       add            short,dw  -            -                           -            4x4x4   0       0     256
dropout1  dropout        sum       -            rate 0.5                    -            4x4x4   0       0     256
gap1      globalavgpool  dropout1  4x4 global   -                           -            1x1x4   0       0     16
dense1    dense          gap1      -            -                           -            3       15      12    12
total                                                                                            147     1868  1820

parameters: 147 trained, 8 running statistics (the means and variances of 1 batchnorm layer, with a batch counter)

train: mse (sum) against the last 3 columns, sgd lr 0.1, full batch, 1 step, seed 1, test fraction 0.1
`
	if got := stdout.String(); got != want {
		t.Errorf("summary:\n%s\nwant:\n%s", got, want)
	}
}
