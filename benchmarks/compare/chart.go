package main

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// series is one line of the chart: an engine configuration's throughput per
// network.
type series struct {
	label  string
	train  bool
	engine string // "generated" or "generic"
	// workers picks the generated configuration; its best ISA path per
	// network is drawn.
	workers int
	dashed  bool
	color   color.Color
}

// writeChart draws samples/s against MACs/sample, both on log scales, for
// forward and training, generated (best ISA path, 1 and 2 workers) and
// generic, and saves it to path (the extension picks PNG or SVG).
func writeChart(rows []scalingRow, path string) error {
	if len(rows) == 0 {
		return errors.New("no scaling results to draw")
	}
	blue := color.RGBA{R: 31, G: 119, B: 180, A: 255}
	green := color.RGBA{R: 44, G: 160, B: 44, A: 255}
	grey := color.RGBA{R: 110, G: 110, B: 110, A: 255}
	all := []series{
		{"generated (best ISA path), 2 workers, inference", false, "generated", 2, false, blue},
		{"generated (best ISA path), 1 worker, inference", false, "generated", 1, false, green},
		{"generic, inference", false, "generic", 1, false, grey},
		{"generated (best ISA path), 2 workers, training step", true, "generated", 2, true, blue},
		{"generated (best ISA path), 1 worker, training step", true, "generated", 1, true, green},
		{"generic, training step", true, "generic", 1, true, grey},
	}
	p := plot.New()
	p.Title.Text = "cnngen: throughput against network size (batch 256)"
	p.X.Label.Text = "multiply-accumulates per sample (forward)"
	p.Y.Label.Text = "samples per second"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	// The networks span less than a decade of MACs: tick each one.
	var ticks []plot.Tick
	for _, net := range scalingNets {
		for _, r := range rows {
			if r.Net == net && r.MACs > 0 {
				ticks = append(ticks, plot.Tick{Value: r.MACs, Label: fmt.Sprintf("%s\n%.0fk", net, r.MACs/1e3)})
				break
			}
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = false
	for _, s := range all {
		var xys plotter.XYs
		for _, net := range scalingNets {
			best := math.NaN()
			for _, r := range rows {
				if r.Net != net || r.Engine != s.engine || r.Workers != s.workers {
					continue
				}
				m := r.Forward
				if s.train {
					m = r.Train
				}
				if v := m.SamplesPerSec; v > 0 && (math.IsNaN(best) || v > best) {
					best = v
				}
				if math.IsNaN(best) || r.MACs <= 0 {
					continue
				}
			}
			for _, r := range rows {
				if r.Net == net && r.MACs > 0 && !math.IsNaN(best) {
					xys = append(xys, plotter.XY{X: r.MACs, Y: best})
					break
				}
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return err
		}
		line.Color, points.Color = s.color, s.color
		line.Width = vg.Points(1.5)
		if s.dashed {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			points.Shape = draw.TriangleGlyph{}
		} else {
			points.Shape = draw.CircleGlyph{}
		}
		p.Add(line, points)
		p.Legend.Add(s.label, line, points)
	}
	if err := p.Save(8*vg.Inch, 5.5*vg.Inch, path); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return nil
}
