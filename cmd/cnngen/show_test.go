package main

import (
	"bytes"
	"image"
	_ "image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/gen/ir"
)

// pngSize decodes the header of the PNG at path.
func pngSize(t *testing.T, path string) (w, h int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || format != "png" {
		t.Fatalf("%s: format %q, err %v: want a PNG", path, format, err)
	}
	return cfg.Width, cfg.Height
}

// TestShowDigits draws the digits network's filters and feature maps. The
// sizes follow from viz's layout (48-pixel tiles, 4-pixel gaps, 16-pixel
// titles, 12 pixels between sections, an 8-pixel margin), worked out by
// hand:
//
//	conv1 filters, 32 tiles in 4 rows of 8: 8·48+7·4 = 412 × 16+4·48+3·4 = 220
//	the input image, one tile:                         48 × 16+48 = 64
//	conv1 + relu1, 32 maps 8×8:                       412 × 220
//	pool1, 32 maps 4×4:                               412 × 220
//
// One picture: 412+16 = 428 wide, 8+220+12+64+12+220+12+220+8 = 776 high.
func TestShowDigits(t *testing.T) {
	ckpt, _ := trainedDigits(t, 1, 5)
	dir := t.TempDir()
	out := filepath.Join(dir, "all.png")
	code, stdout, stderr := cli("show", "-load", ckpt, "-o", out, "-image", "7")
	if code != 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if stderr != "cnngen: wrote "+out+" (conv filters and feature maps, 428x776)\n" {
		t.Errorf("stderr %q, want the picture's report", stderr)
	}
	if w, h := pngSize(t, out); w != 428 || h != 776 {
		t.Errorf("picture is %dx%d, want 428x776", w, h)
	}

	// Two files: the filters (8+220+8 = 236 high) and the maps
	// (8+64+12+220+12+220+8 = 544 high).
	filters, maps := filepath.Join(dir, "filters.png"), filepath.Join(dir, "maps.png")
	code, _, stderr = cli("show", "-load", ckpt, "-o", filters, "-maps", maps)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "cnngen: wrote " + filters + " (conv filters, 428x236)\ncnngen: wrote " + maps + " (feature maps, 428x544)\n"; stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
	if w, h := pngSize(t, filters); w != 428 || h != 236 {
		t.Errorf("filters are %dx%d, want 428x236", w, h)
	}
	if w, h := pngSize(t, maps); w != 428 || h != 544 {
		t.Errorf("maps are %dx%d, want 428x544", w, h)
	}
}

// TestShowTwoConv draws a network with two conv layers, the second with 16
// input channels, from a label-less CSV:
//
//	conv1 filters, 16 of 2×2 (24× = 48 px), 2 rows of 8:  412 × 16+2·48+4 = 116
//	conv2 filters, 32 rows of 16 channels, 3×3:  16·48+15·4 = 828 × 16+32·48+31·4 = 1676
//	input:                                                 48 × 64
//	conv1 + relu1, 16 maps 7×7 (6× = 42 px):  8·42+7·4 = 364 × 16+2·42+4 = 104
//	conv2 + relu2, 32 maps 4×4:                           412 × 220
//	pool1, 32 maps 2×2 (24× = 48 px):                     412 × 220
//
// 828+16 = 844 wide; 8+116+12+1676+12+64+12+104+12+220+12+220+8 = 2476 high.
func TestShowTwoConv(t *testing.T) {
	ckpt := initialCheckpoint(t, "twoconv.yaml")
	desc := writeExample(t, t.TempDir(), "twoconv.yaml")
	csv := digitsCSV(t, 3, false)
	out := filepath.Join(t.TempDir(), "twoconv.png")
	code, _, stderr := cli("show", desc, "-load", ckpt, "-o", out, "-data", csv, "-image", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if w, h := pngSize(t, out); w != 844 || h != 2476 {
		t.Errorf("picture is %dx%d, want 844x2476", w, h)
	}
}

// TestShowNoConv draws a network without conv layers: no filters, only the
// input image (8+16+48+8 = 80 high; the title sets the width).
func TestShowNoConv(t *testing.T) {
	const mlp = `name: mlp
input: {height: 8, width: 8, channels: 1}
layers: [{kind: flatten}, {kind: dense, units: 10}, {kind: softmax}]
train: {optimizer: {type: sgd, learning_rate: 0.1}, steps: 1}
`
	desc := filepath.Join(t.TempDir(), "mlp.yaml")
	writeFile(t, desc, mlp)
	net, err := ir.Load(desc, []byte(mlp))
	if err != nil {
		t.Fatal(err)
	}
	ckpt := saveInitial(t, net)
	out := filepath.Join(t.TempDir(), "mlp.png")
	code, _, stderr := cli("show", "-load", ckpt, "-o", out, desc)
	if code != 0 || stderr != "cnngen: network mlp has no conv layer: drawing no filters\ncnngen: wrote "+out+" (feature maps, "+strconv.Itoa(16+7*len("input: sample 0 of digits.csv.gz, label 0"))+"x80)\n" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	title := len("input: sample 0 of digits.csv.gz, label 0")
	if w, h := pngSize(t, out); w != 16+7*title || h != 80 {
		t.Errorf("picture is %dx%d, want %dx80", w, h, 16+7*title)
	}
}

func TestShowErrors(t *testing.T) {
	ckpt := initialCheckpoint(t, "digits.yaml")
	dir := t.TempDir()
	out := filepath.Join(dir, "x.png")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-load", ckpt}, 2, "cnngen show: -o PICTURE.png is required\n"},
		{[]string{"-load", ckpt, "-o", out, "-image", "1797"}, 2, "cnngen show: -image 1797: digits.csv.gz has 1797 samples (0..1796)\n"},
		{[]string{"-load", ckpt, "-o", out, "-image", "-1"}, 2, "cnngen show: -image -1: want 0 or more\n"},
		{[]string{"-load", ckpt, "-o", out, "-maps", out}, 2, "cnngen show: -maps must name another file than -o\n"},
		{[]string{"-load", ckpt, "-o", filepath.Join(dir, "no", "x.png")}, 1, "cnngen: -o " + filepath.Join(dir, "no", "x.png") + ": directory " + filepath.Join(dir, "no") + " does not exist\n"},
	} {
		code, _, stderr := cli(append([]string{"show"}, tc.args...)...)
		if code != tc.code || !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed show left %s behind", out)
	}
}
