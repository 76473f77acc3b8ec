package viz

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot"

	"github.com/cnngen/cnngen/runtime"
)

// decodeConfig opens the PNG at path and returns its size.
func decodeConfig(t *testing.T, path string) (w, h int) {
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

func history(n int, tested bool) []Point {
	var h []Point
	for i := range n {
		p := Point{Step: 10 * i, Cost: 2.3 / float64(i+1), TrainAccuracy: 0.1 + 0.9*float64(i)/float64(n)}
		if tested && i%2 == 0 {
			p.TestAccuracy, p.Tested = 0.9*p.TrainAccuracy, true
		}
		h = append(h, p)
	}
	return h
}

func TestCurve(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		h    []Point
	}{
		{"tested", history(20, true)},
		{"untested", history(20, false)},
		{"one point", history(1, false)},
		{"zero cost", []Point{{Step: 0, Cost: 1}, {Step: 1, Cost: 0, TrainAccuracy: 1}}},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".png")
		if err := Curve(tc.h, path); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if w, h := decodeConfig(t, path); w != CurveWidth || h != CurveHeight {
			t.Errorf("%s: picture is %dx%d, want %dx%d", tc.name, w, h, CurveWidth, CurveHeight)
		}
	}
}

// TestCurveDraws checks that the curve is not a blank page: the cost line's
// red and the accuracy line's blue both appear.
func TestCurveDraws(t *testing.T) {
	img, err := CurveImage(history(20, true))
	if err != nil {
		t.Fatal(err)
	}
	var red, blue, orange int
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			switch {
			case r>>8 > 0xc0 && g>>8 < 0x60 && bl>>8 < 0x60:
				red++
			case bl>>8 > 0xa0 && r>>8 < 0x60:
				blue++
			case r>>8 > 0xe0 && g>>8 > 0x60 && g>>8 < 0xa0 && bl>>8 < 0x40:
				orange++
			}
		}
	}
	if red < 100 || blue < 100 || orange < 50 {
		t.Errorf("%d red (cost), %d blue (train), %d orange (test) pixels: a line is missing", red, blue, orange)
	}
}

// TestStepTicks checks that the step axis is labelled with whole steps
// ("250", not "250.00"), a few labels at round intervals.
func TestStepTicks(t *testing.T) {
	for _, tc := range []struct {
		min, max float64
		want     []string
	}{
		{0, 1999, []string{"0", "500", "1000", "1500"}},
		{0, 2000, []string{"0", "500", "1000", "1500", "2000"}},
		{0, 3, []string{"0", "1", "2", "3"}},
		{0, 2, []string{"0", "1", "2"}},
		{3, 5, []string{"3", "4", "5"}},
		{0, 7, []string{"0", "2", "4", "6"}},
		{100, 340, []string{"100", "150", "200", "250", "300"}},
		{0, 59999, []string{"0", "10000", "20000", "30000", "40000", "50000"}},
		{0.5, 0.7, nil},
	} {
		var labels []string
		for _, tk := range (stepTicks{}).Ticks(tc.min, tc.max) {
			if tk.Value != math.Trunc(tk.Value) || tk.Value < tc.min || tk.Value > tc.max {
				t.Errorf("%v..%v: tick at %v", tc.min, tc.max, tk.Value)
			}
			if !tk.IsMinor() {
				labels = append(labels, tk.Label)
			}
		}
		if !slices.Equal(labels, tc.want) {
			t.Errorf("%v..%v: labels %q, want %q", tc.min, tc.max, labels, tc.want)
		}
	}
	// Both plots of a curve use it.
	for _, n := range []int{1, 3, 200} {
		top, bottom, err := curvePlots(history(n, true))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []*plot.Plot{top, bottom} {
			if _, ok := p.X.Tick.Marker.(stepTicks); !ok {
				t.Errorf("%d points: %q's step axis has ticks %T", n, p.Title.Text, p.X.Tick.Marker)
			}
		}
	}
}

func TestCurveErrors(t *testing.T) {
	if _, err := CurveImage(nil); err == nil || err.Error() != "viz: no training steps to plot" {
		t.Errorf("no history: err = %v", err)
	}
	nan := []Point{{Step: 3, Cost: 0}}
	nan[0].Cost = nan[0].Cost / nan[0].Cost // NaN
	if _, err := CurveImage(nan); err == nil || err.Error() != "viz: step 3: cost NaN cannot be plotted" {
		t.Errorf("NaN cost: err = %v", err)
	}
	if err := Curve(history(3, false), filepath.Join(t.TempDir(), "missing", "c.png")); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

func TestPointOf(t *testing.T) {
	p := PointOf(runtime.StepLog{Step: 7, Steps: 10, Cost: 0.5, Correct: 3, Samples: 4})
	if p != (Point{Step: 7, Cost: 0.5, TrainAccuracy: 0.75}) {
		t.Errorf("PointOf = %+v", p)
	}
}

// TestSheetLayout checks the size of a sheet against the layout constants,
// computed by hand, and where the tiles land.
func TestSheetLayout(t *testing.T) {
	// A 3x3 tile is magnified 16 times (48 px), a 4x4 one 12 times (48 px).
	ramp := Tile{Width: 3, Height: 3, Values: []float32{0, 1, 2, 3, 4, 5, 6, 7, 8}}
	flat := Tile{Width: 4, Height: 4, Values: make([]float32, 16)}
	a := Section{Title: "ramps", Tiles: []Tile{ramp, ramp, ramp}, Columns: 2}
	b := Section{Title: "flat", Tiles: []Tile{flat}}
	img, err := Sheet([]Section{a, b})
	if err != nil {
		t.Fatal(err)
	}
	// a: 2 columns, 2 rows: 2·48+4 = 100 wide, 16 + 2·48+4 = 116 high.
	// b: 48 wide, 16+48 = 64 high. Sheet: 8+100+8 = 116 wide,
	// 8 + 116 + 12 + 64 + 8 = 208 high.
	if got := img.Bounds().Size(); got != (image.Point{X: 116, Y: 208}) {
		t.Fatalf("sheet is %v, want 116x208", got)
	}
	gray := func(x, y int) uint8 { return color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y }
	// The first tile starts at (8, 8+16): its top-left value 0 is black, its
	// bottom-right 8 white, its centre 4 mid-grey (255·4/8 rounded).
	if g := gray(8, 24); g != 0 {
		t.Errorf("first tile's first pixel is %d, want 0", g)
	}
	if g := gray(8+47, 24+47); g != 255 {
		t.Errorf("first tile's last pixel is %d, want 255", g)
	}
	if g := gray(8+16+8, 24+16+8); g != 128 {
		t.Errorf("first tile's centre is %d, want 128", g)
	}
	// The gap between the two tiles of the first row is background.
	if g := gray(8+48+1, 24); g != 255 {
		t.Errorf("gap pixel is %d, want white", g)
	}
	// The third tile starts the second row, at (8, 24+48+4).
	if g := gray(8+47, 76+47); g != 255 {
		t.Errorf("third tile's last pixel is %d, want 255", g)
	}
	// A constant tile is black: section b's tile starts at (8, 8+116+12+16)
	// and is 48 pixels wide, then comes background.
	if g := gray(8+20, 152+20); g != 0 {
		t.Errorf("constant tile is %d, want 0", g)
	}
	if g := gray(8+48, 152+20); g != 255 {
		t.Errorf("pixel right of the constant tile is %d, want white background", g)
	}
	// The title is drawn: some dark pixels in section a's title line.
	dark := 0
	for y := 8; y < 24; y++ {
		for x := 8; x < 8+5*7; x++ {
			if gray(x, y) < 128 {
				dark++
			}
		}
	}
	if dark < 20 {
		t.Errorf("%d dark pixels in the title line: the title is missing", dark)
	}
}

func TestSheetErrors(t *testing.T) {
	if _, err := Sheet(nil); err == nil {
		t.Error("an empty sheet was drawn")
	}
	if _, err := Sheet([]Section{{Title: "x"}}); err == nil || !strings.Contains(err.Error(), `section "x" has no tiles`) {
		t.Errorf("err = %v", err)
	}
	bad := Section{Title: "y", Tiles: []Tile{{Width: 2, Height: 2, Values: []float32{1}}}}
	if _, err := Sheet([]Section{bad}); err == nil || !strings.Contains(err.Error(), "tile 0 is 2x2 with 1 values") {
		t.Errorf("err = %v", err)
	}
}

// TestFilterSection checks that an HWIO weight becomes one tile per filter
// (and input channel) with the kernel's rows and columns in place.
func TestFilterSection(t *testing.T) {
	// [KH=2, KW=3, Cin=2, F=2]: value = 1000·ky + 100·kx + 10·c + f.
	p := runtime.Param{ParamInfo: runtime.ParamInfo{Name: "conv1.weight", Shape: []int{2, 3, 2, 2}}}
	for ky := range 2 {
		for kx := range 3 {
			for c := range 2 {
				for f := range 2 {
					p.Value = append(p.Value, float32(1000*ky+100*kx+10*c+f))
				}
			}
		}
	}
	s, err := FilterSection("conv1", p)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Tiles) != 4 || s.Columns != 2 {
		t.Fatalf("%d tiles in %d columns, want 4 in 2 (a row per filter)", len(s.Tiles), s.Columns)
	}
	// Tile order: filter 0 channel 0, filter 0 channel 1, filter 1 channel 0, …
	for i, tile := range s.Tiles {
		f, c := i/2, i%2
		if tile.Width != 3 || tile.Height != 2 {
			t.Fatalf("tile %d is %dx%d, want 3x2", i, tile.Width, tile.Height)
		}
		for ky := range 2 {
			for kx := range 3 {
				if want := float32(1000*ky + 100*kx + 10*c + f); tile.Values[ky*3+kx] != want {
					t.Errorf("tile %d (filter %d, channel %d) [%d,%d] = %g, want %g", i, f, c, ky, kx, tile.Values[ky*3+kx], want)
				}
			}
		}
	}
	if _, err := FilterSection("dense", runtime.Param{ParamInfo: runtime.ParamInfo{Name: "fc.weight", Shape: []int{4, 2}}, Value: make([]float32, 8)}); err == nil {
		t.Error("a dense weight made a filter section")
	}
}

func TestMapSection(t *testing.T) {
	// 2x2x3, value = 10·(y·2+x) + c.
	var v []float32
	for i := range 4 {
		for c := range 3 {
			v = append(v, float32(10*i+c))
		}
	}
	s, err := MapSection("maps", v, runtime.Shape{Height: 2, Width: 2, Channels: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Tiles) != 3 {
		t.Fatalf("%d tiles, want one per channel", len(s.Tiles))
	}
	for c, tile := range s.Tiles {
		for i, got := range tile.Values {
			if want := float32(10*i + c); got != want {
				t.Errorf("channel %d value %d = %g, want %g", c, i, got, want)
			}
		}
	}
	if _, err := MapSection("x", v[:5], runtime.Shape{Height: 2, Width: 2, Channels: 3}); err == nil {
		t.Error("a short activation made a section")
	}
}

func TestWritePNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.png")
	img := image.NewGray(image.Rect(0, 0, 5, 3))
	if err := WritePNG(path, img); err != nil {
		t.Fatal(err)
	}
	if w, h := decodeConfig(t, path); w != 5 || h != 3 {
		t.Errorf("size %dx%d, want 5x3", w, h)
	}
	f, _ := os.Open(path)
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Error(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("%d files in the directory, want only the picture (no temporary left)", len(entries))
	}
}
