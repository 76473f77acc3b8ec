package emit_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cnngen/cnngen/gen/emit"
	"github.com/cnngen/cnngen/runtime"
)

// mobileNetV1 is MLPerf Tiny's visual wake words model: MobileNetV1 with
// width 0.25 on 96×96×3 images (13 depthwise-separable blocks, batch norm
// and ReLU after every convolution, global average pooling, 2 classes).
func mobileNetV1() runtime.Arch {
	a := runtime.Arch{Name: "mobilenet", Input: runtime.Shape{Height: 96, Width: 96, Channels: 3}}
	last := runtime.InputName
	layer := func(l runtime.LayerSpec) {
		l.Inputs = []string{last}
		a.Layers = append(a.Layers, l)
		last = l.Name
	}
	convBN := func(name string, filters, kernel, stride, groups int) {
		fanIn := kernel * kernel * channelsIn(a, last) / groups
		layer(runtime.LayerSpec{Kind: runtime.Conv2D, Name: name, Filters: filters, KernelH: kernel, KernelW: kernel,
			StrideH: stride, StrideW: stride, Padding: runtime.Same, Groups: groups, NoBias: true, WeightInit: heInit(fanIn)})
		layer(runtime.LayerSpec{Kind: runtime.BatchNorm, Name: name + "bn", Momentum: 0.1, Epsilon: 1e-5})
		layer(runtime.LayerSpec{Kind: runtime.ReLU, Name: name + "relu"})
	}
	convBN("conv0", 8, 3, 2, 1)
	channels := 8
	for i, b := range []struct{ filters, stride int }{
		{16, 1}, {32, 2}, {32, 1}, {64, 2}, {64, 1}, {128, 2}, {128, 1}, {128, 1}, {128, 1}, {128, 1}, {128, 1}, {256, 2}, {256, 1},
	} {
		convBN(fmt.Sprintf("dw%d", i+1), channels, 3, b.stride, channels)
		convBN(fmt.Sprintf("pw%d", i+1), b.filters, 1, 1, 1)
		channels = b.filters
	}
	layer(runtime.LayerSpec{Kind: runtime.GlobalAvgPool, Name: "gap"})
	layer(runtime.LayerSpec{Kind: runtime.Flatten, Name: "flat"})
	layer(runtime.LayerSpec{Kind: runtime.Dense, Name: "fc", Units: 2, WeightInit: heInit(256)})
	layer(runtime.LayerSpec{Kind: runtime.Softmax, Name: "softmax"})
	return a
}

// resNet8 is MLPerf Tiny's image classification model on 32×32×3 images:
// a 16-filter stem and three residual stacks (16, 32, 64 filters; the last
// two strided, with a 1×1 convolution on the shortcut), batch norm after
// every 3×3 convolution, global average pooling, 10 classes.
func resNet8() runtime.Arch {
	a := runtime.Arch{Name: "resnet", Input: runtime.Shape{Height: 32, Width: 32, Channels: 3}}
	add := func(l runtime.LayerSpec, inputs ...string) string {
		l.Inputs = inputs
		if l.Kind == runtime.Conv2D {
			l.KernelW, l.StrideW, l.Padding = l.KernelH, l.StrideH, runtime.Same
			l.WeightInit = heInit(l.KernelH * l.KernelW * channelsIn(a, inputs[0]))
			l.BiasInit = runtime.Init{Kind: runtime.InitZeros}
		}
		a.Layers = append(a.Layers, l)
		return l.Name
	}
	bn := func(name, in string) string {
		return add(runtime.LayerSpec{Kind: runtime.BatchNorm, Name: name, Momentum: 0.1, Epsilon: 1e-5}, in)
	}
	relu := func(name, in string) string { return add(runtime.LayerSpec{Kind: runtime.ReLU, Name: name}, in) }
	x := relu("stemrelu", bn("stembn", add(runtime.LayerSpec{Kind: runtime.Conv2D, Name: "stem", Filters: 16, KernelH: 3, StrideH: 1}, runtime.InputName)))
	for i, filters := range []int{16, 32, 64} {
		stride := 1
		if i > 0 {
			stride = 2
		}
		p := fmt.Sprintf("s%d", i+1)
		y := relu(p+"relu1", bn(p+"bn1", add(runtime.LayerSpec{Kind: runtime.Conv2D, Name: p + "conv1", Filters: filters, KernelH: 3, StrideH: stride}, x)))
		y = bn(p+"bn2", add(runtime.LayerSpec{Kind: runtime.Conv2D, Name: p + "conv2", Filters: filters, KernelH: 3, StrideH: 1}, y))
		short := x
		if stride > 1 {
			short = add(runtime.LayerSpec{Kind: runtime.Conv2D, Name: p + "short", Filters: filters, KernelH: 1, StrideH: stride}, x)
		}
		x = relu(p+"relu2", add(runtime.LayerSpec{Kind: runtime.Add, Name: p + "add"}, y, short))
	}
	x = add(runtime.LayerSpec{Kind: runtime.GlobalAvgPool, Name: "gap"}, x)
	x = add(runtime.LayerSpec{Kind: runtime.Flatten, Name: "flat"}, x)
	x = add(runtime.LayerSpec{Kind: runtime.Dense, Name: "fc", Units: 10, WeightInit: heInit(64)}, x)
	add(runtime.LayerSpec{Kind: runtime.Softmax, Name: "softmax"}, x)
	return a
}

// heInit is He's normal initialisation for a layer of fanIn inputs per
// output.
func heInit(fanIn int) runtime.Init {
	return runtime.Init{Kind: runtime.InitNormal, Scale: math.Sqrt(2 / float64(fanIn))}
}

// channelsIn returns the channels of the output of layer name in a (the
// input's for runtime.InputName), which the convolutions and batch norms
// of the reference models keep up to date through Filters.
func channelsIn(a runtime.Arch, name string) int {
	if name == runtime.InputName {
		return a.Input.Channels
	}
	for i := len(a.Layers) - 1; i >= 0; i-- {
		if a.Layers[i].Name == name {
			if l := a.Layers[i]; l.Kind == runtime.Conv2D {
				return l.Filters
			}
			if len(a.Layers[i].Inputs) > 0 {
				return channelsIn(a, a.Layers[i].Inputs[0])
			}
			return channelsIn(a, a.Layers[i-1].Name)
		}
	}
	return 1
}

// TestReferenceModelsGenerate checks that the large reference models
// generate quickly and into packages of reasonable size: unrolling must
// not grow with their 96×96 and 32×32 maps.
func TestReferenceModelsGenerate(t *testing.T) {
	for _, c := range []struct {
		pkg  string
		arch runtime.Arch
	}{{"mobilenet", mobileNetV1()}, {"resnet", resNet8()}} {
		nt := archNet(t, c.pkg, c.arch)
		start := time.Now()
		files, err := emit.Generate(nt.net, emit.Options{Package: c.pkg})
		if err != nil {
			t.Fatalf("%s: %v", c.pkg, err)
		}
		took := time.Since(start)
		total, asm := 0, 0
		for _, f := range files {
			total += len(f.Contents)
			if f.Name == "simd_amd64.s" {
				asm = len(f.Contents)
			}
		}
		t.Logf("%s: %d files, %d bytes (%d of assembly) in %v", c.pkg, len(files), total, asm, took)
		if took > 20*time.Second || total > 8<<20 {
			t.Errorf("%s: %d bytes in %v: too large or too slow", c.pkg, total, took)
		}
	}
}

// TestGraphsVet compiles and vets the generated packages of random graphs
// (with and without batch norm) and of the reference models for amd64 and
// arm64, with and without the purego tag.
func TestGraphsVet(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles generated code")
	}
	nets := append(randomGraphNets(t, 3, 2, false), randomGraphNets(t, 4, 2, true)...)
	nets = append(nets, archNet(t, "mobilenet", mobileNetV1()), archNet(t, "resnet", resNet8()))
	dir := t.TempDir()
	writeModule(t, dir, nets)
	for _, env := range [][]string{{"GOARCH=amd64"}, {"GOARCH=arm64"}} {
		for _, tags := range []string{"", "purego"} {
			args := []string{"vet"}
			if tags != "" {
				args = append(args, "-tags", tags)
			}
			out, err := goCmdEnv(t, dir, env, append(args, "./...")...)
			if err != nil {
				t.Errorf("%v go %v: %v\n%s", env, args, err, out)
			}
		}
	}
}

// TestDifferentialReference is TestDifferential on the reference models
// built from runtime Archs (MobileNetV1 0.25 at 96×96×3, ResNet-8 at
// 32×32×3), checked as heavy networks: one sample and one batch of
// Tile+5, two SGD steps, one and two workers.
func TestDifferentialReference(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles generated code and trains large networks")
	}
	runDifferential(t, []namedNet{archNet(t, "mobilenet", mobileNetV1()), archNet(t, "resnet", resNet8())})
}
