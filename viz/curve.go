package viz

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/cnngen/cnngen/runtime"
)

// The size of a learning-curve picture in pixels.
const (
	CurveWidth  = 800
	CurveHeight = 600
	// curveDPI turns the pixel size into the points that gonum/plot works in.
	curveDPI = 100
)

// Point is the state of a training run at one step, as the learning curve
// plots it.
type Point struct {
	Step int
	// Cost is the cost per sample of the step's batch.
	Cost float64
	// TrainAccuracy is the batch's accuracy.
	TrainAccuracy float64
	// TestAccuracy is the accuracy on the test set, when Tested.
	TestAccuracy float64
	Tested       bool
}

// PointOf returns the point of a training log entry (without a test
// accuracy).
func PointOf(s runtime.StepLog) Point {
	return Point{Step: s.Step, Cost: s.Cost, TrainAccuracy: s.TrainAccuracy()}
}

// Curve draws the learning curve of a run into a CurveWidth×CurveHeight PNG
// at path: the cost per sample against the step above (on a log scale when
// every cost is positive), the train accuracy and, where measured, the test
// accuracy against the step below.
func Curve(history []Point, path string) error {
	img, err := CurveImage(history)
	if err != nil {
		return err
	}
	return WritePNG(path, img)
}

// CurveImage draws the picture that [Curve] writes.
func CurveImage(history []Point) (image.Image, error) {
	top, bottom, err := curvePlots(history)
	if err != nil {
		return nil, err
	}
	c := vgimg.NewWith(
		vgimg.UseWH(CurveWidth*vg.Inch/curveDPI, CurveHeight*vg.Inch/curveDPI),
		vgimg.UseDPI(curveDPI),
		vgimg.UseBackgroundColor(color.White),
	)
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4, PadY: vg.Millimeter * 4}
	canvases := plot.Align([][]*plot.Plot{{top}, {bottom}}, tiles, dc)
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	return c.Image(), nil
}

// curvePlots builds the two plots of the learning curve: the cost above,
// the accuracies below, both against the step.
func curvePlots(history []Point) (top, bottom *plot.Plot, err error) {
	if len(history) == 0 {
		return nil, nil, errors.New("viz: no training steps to plot")
	}
	costs := make(plotter.XYs, len(history))
	train := make(plotter.XYs, len(history))
	var test plotter.XYs
	positive := true
	for i, p := range history {
		if math.IsNaN(p.Cost) || math.IsInf(p.Cost, 0) {
			return nil, nil, fmt.Errorf("viz: step %d: cost %v cannot be plotted", p.Step, p.Cost)
		}
		positive = positive && p.Cost > 0
		costs[i] = plotter.XY{X: float64(p.Step), Y: p.Cost}
		train[i] = plotter.XY{X: float64(p.Step), Y: p.TrainAccuracy}
		if p.Tested {
			test = append(test, plotter.XY{X: float64(p.Step), Y: p.TestAccuracy})
		}
	}

	top = plot.New()
	top.Title.Text = "cost per sample"
	top.X.Label.Text = "step"
	top.X.Tick.Marker = stepTicks{}
	if positive {
		top.Y.Scale = plot.LogScale{}
		top.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if err := addLine(top, costs, "cost", color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, false); err != nil {
		return nil, nil, err
	}
	top.Add(plotter.NewGrid())

	bottom = plot.New()
	bottom.Title.Text = "accuracy"
	bottom.X.Label.Text = "step"
	bottom.X.Tick.Marker = stepTicks{}
	bottom.Y.Min, bottom.Y.Max = 0, 1
	bottom.Legend.Top = false
	bottom.Legend.Left = false
	bottom.Legend.XOffs = -vg.Millimeter * 2
	bottom.Legend.YOffs = vg.Millimeter * 2
	if err := addLine(bottom, train, "train (batch)", color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, true); err != nil {
		return nil, nil, err
	}
	if len(test) > 0 {
		// Dots mark the measured steps, so that a single measurement
		// (a run too short for a line) shows too.
		orange := color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
		if err := addLine(bottom, test, "test", orange, true); err != nil {
			return nil, nil, err
		}
		dots, err := plotter.NewScatter(test)
		if err != nil {
			return nil, nil, fmt.Errorf("viz: test: %v", err)
		}
		dots.GlyphStyle = draw.GlyphStyle{Color: orange, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
		bottom.Add(dots)
	}
	bottom.Add(plotter.NewGrid())

	return top, bottom, nil
}

// addLine adds a line through xys to p, with a legend entry when legend is
// set.
func addLine(p *plot.Plot, xys plotter.XYs, name string, col color.Color, legend bool) error {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("viz: %s: %v", name, err)
	}
	l.Color = col
	l.Width = vg.Points(1.5)
	p.Add(l)
	if legend {
		p.Legend.Add(name, l)
	}
	return nil
}

// maxStepLabels bounds the number of labelled ticks on the step axis.
const maxStepLabels = 6

// stepTicks marks the step axis at whole steps, labelled as integers ("250",
// not "250.00"): labels every 1, 2 or 5 times a power of ten steps, at most
// maxStepLabels of them, with unlabelled ticks between them at whole steps.
type stepTicks struct{}

// Ticks returns the ticks for steps from min to max.
func (stepTicks) Ticks(min, max float64) []plot.Tick {
	lo, hi := math.Ceil(min), math.Floor(max)
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || hi < lo {
		return nil
	}
	delta := 1.0
	for i := 0; (hi-lo)/delta >= maxStepLabels; i++ {
		delta *= []float64{2, 2.5, 2}[i%3] // 1, 2, 5, 10, 20, 50, ...
	}
	minor := 0.0
	switch {
	case delta >= 5 && math.Mod(delta, 5) == 0:
		minor = delta / 5
	case delta >= 2:
		minor = delta / 2
	}
	var ticks []plot.Tick
	if minor > 0 {
		for v := math.Ceil(lo/minor) * minor; v <= hi; v += minor {
			if math.Mod(v, delta) != 0 {
				ticks = append(ticks, plot.Tick{Value: v})
			}
		}
	}
	for v := math.Ceil(lo/delta) * delta; v <= hi; v += delta {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64)})
	}
	return ticks
}
