package asm

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// goldenKernels is a small set whose whole output is kept in
// testdata/small.golden, so that a change to a template or a plan shows up
// as a reviewable diff (go test ./gen/asm -run Golden -update rewrites it).
var goldenKernels = []Kernel{
	{Op: DenseForward, Name: "denseForward", In: 3, Units: 10, ReLU: true},
	{Op: DenseForwardOne, Name: "denseForwardOne", In: 3, Units: 10, Padded: true},
	{Op: DenseBackwardInput, Name: "denseBackwardInput", In: 3, Units: 10, ReLU: true},
	{Op: DenseBackwardWeights, Name: "denseBackwardWeights", In: 3, Units: 10},
	{Op: Conv2DForward, Name: "convForward", ReLU: true, Conv: ConvShape{InH: 3, InW: 3, InC: 1, KernelH: 2, KernelW: 2, StrideH: 1, StrideW: 1, OutH: 2, OutW: 2, Filters: 12}},
	{Op: Conv2DBackwardWeights, Name: "convBackwardWeights", Conv: ConvShape{InH: 3, InW: 3, InC: 1, KernelH: 2, KernelW: 2, StrideH: 1, StrideW: 1, OutH: 2, OutW: 2, Filters: 12}},
	{Op: Conv2DBackwardInput, Name: "convBackwardInput", ReLU: true, Conv: ConvShape{InH: 3, InW: 3, InC: 2, KernelH: 2, KernelW: 2, StrideH: 1, StrideW: 1, OutH: 2, OutW: 2, Filters: 3}},
	{Op: MaxPool2DForward, Name: "poolForward", Pool: PoolShape{InH: 2, InW: 2, Channels: 10, KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, OutH: 1, OutW: 1}},
	{Op: MaxPool2DBackward, Name: "poolBackward", ReLU: true, Pool: PoolShape{InH: 2, InW: 2, Channels: 10, KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, OutH: 1, OutW: 1}},
}

func TestGolden(t *testing.T) {
	files, err := Render("small", goldenKernels)
	if err != nil {
		t.Fatal(err)
	}
	// txtar layout: "-- name --" then the file.
	var got bytes.Buffer
	for _, f := range files {
		got.WriteString("-- " + f.Name + " --\n")
		got.Write(f.Data)
	}
	path := filepath.Join("testdata", "small.golden")
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		gl, wl := bytes.Split(got.Bytes(), []byte("\n")), bytes.Split(want, []byte("\n"))
		for i := range min(len(gl), len(wl)) {
			if !bytes.Equal(gl[i], wl[i]) {
				t.Fatalf("output differs from %s at line %d:\n got %s\nwant %s\n(run with -update if the change is intended)", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("output differs from %s in length: %d lines, want %d (run with -update if intended)", path, len(gl), len(wl))
	}
}
