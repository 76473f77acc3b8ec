package main

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cnngen/cnngen/examples"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
	"github.com/cnngen/cnngen/runtime/checkpoint/safetensors"
	"github.com/cnngen/cnngen/viz"
)

// TestLongCurveSaved saves a checkpoint whose learning curve alone is
// longer than the safetensors header limit: the weights are saved all the
// same, with the curve thinned to its budget (the first and last points
// kept) and the thinning noted in the metadata.
func TestLongCurveSaved(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes over 100 MB of JSON")
	}
	net, err := ir.Load(defaultDescription, examples.Digits)
	if err != nil {
		t.Fatal(err)
	}
	m, err := runtime.NewGeneric(net.Arch())
	if err != nil {
		t.Fatal(err)
	}
	const n = 1_100_000
	points := make([]viz.Point, n)
	for i := range points {
		points[i] = viz.Point{Step: 1_000_000_000 + i, Cost: 0.123456789012345 + float64(i)*1e-9, TrainAccuracy: 0.987654321012345}
	}
	points[n-1].TestAccuracy, points[n-1].Tested = 0.975, true
	if data, _ := json.Marshal(points); len(data) <= safetensors.MaxHeaderSize {
		t.Fatalf("the curve is only %d bytes of JSON: not over the header limit", len(data))
	}
	meta := checkpointMeta(runtime.TrainConfig{Seed: 7})
	kept, err := curveToMeta(meta, points)
	if err != nil {
		t.Fatal(err)
	}
	if kept < 2 || kept >= n || len(meta[metaCurve]) > curveBudget {
		t.Fatalf("kept %d of %d points in %d bytes (budget %d)", kept, n, len(meta[metaCurve]), curveBudget)
	}
	path := filepath.Join(t.TempDir(), "long.safetensors")
	if err := checkpoint.Save(path, m, nil, meta); err != nil {
		t.Fatalf("saving: %v", err)
	}
	m2, err := runtime.NewGeneric(net.Arch())
	if err != nil {
		t.Fatal(err)
	}
	got, err := checkpoint.Load(path, m2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range m.Params() {
		if q := m2.Params()[i]; len(q.Value) != len(p.Value) || q.Value[0] != p.Value[0] || q.Value[len(q.Value)-1] != p.Value[len(p.Value)-1] {
			t.Fatalf("%s not saved", p.Name)
		}
	}
	curve, err := curveFromMeta(got)
	if err != nil {
		t.Fatal(err)
	}
	if len(curve) != kept || curve[0] != points[0] || curve[len(curve)-1] != points[n-1] {
		t.Errorf("the saved curve has %d points, from %+v to %+v", len(curve), curve[0], curve[len(curve)-1])
	}
	for i := 1; i < len(curve); i++ {
		if d := curve[i].Step - curve[i-1].Step; d < n/kept || d > n/kept+1 {
			t.Fatalf("points %d and %d are %d steps apart, want about %d", i-1, i, d, n/kept)
		}
	}
	if want := "kept " + strconv.Itoa(kept) + " of 1100000 logged points"; got[metaCurveThinned] != want {
		t.Errorf("metadata %s = %q, want %q", metaCurveThinned, got[metaCurveThinned], want)
	}
}

// TestShortCurveKept keeps a curve under the budget whole, without a note.
func TestShortCurveKept(t *testing.T) {
	points := []viz.Point{{Step: 0, Cost: 2}, {Step: 1, Cost: 1}, {Step: 2, Cost: 0.5}}
	meta := map[string]string{}
	if kept, err := curveToMeta(meta, points); err != nil || kept != 3 {
		t.Fatalf("kept %d, %v", kept, err)
	}
	if _, ok := meta[metaCurveThinned]; ok {
		t.Errorf("a short curve is noted as thinned: %q", meta[metaCurveThinned])
	}
	if got, err := curveFromMeta(meta); err != nil || len(got) != 3 {
		t.Errorf("curve %v, %v", got, err)
	}
}
