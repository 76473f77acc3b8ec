package gorgonia

import (
	"math"
	"os"
	"testing"
	"time"
)

// datasetPath is the repository's copy of the digits data, relative to this
// package's directory (go test runs there).
const datasetPath = "../../datasets/digits.csv.gz"

func loadSplit(tb testing.TB) (train, test Dataset) {
	tb.Helper()
	d, err := LoadDigits(datasetPath)
	if err != nil {
		tb.Fatal(err)
	}
	if d.Len() != 1797 {
		tb.Fatalf("digits: %d samples, want 1797", d.Len())
	}
	return Split(d, 1)
}

// referenceLoss computes the logits and the summed cross-entropy of the first
// batch samples of d in float64 with plain loops, independently of Gorgonia,
// with the parameters in p (NCHW layout, as Gorgonia holds them).
func referenceLoss(p *Params, d Dataset, batch int) (logits [][]float64, loss float64) {
	f32 := func(t interface{ Data() any }) []float32 { return t.Data().([]float32) }
	convW, convB := f32(p.ConvW), f32(p.ConvB)
	denseW, denseB := f32(p.DenseW), f32(p.DenseB)
	outW, outB := f32(p.OutputW), f32(p.OutputB)
	for s := range batch {
		img := d.Images[s*Pixels : (s+1)*Pixels]
		var conv [ConvFilters][ImageSide][ImageSide]float64
		for f := range ConvFilters {
			for i := range ImageSide {
				for j := range ImageSide {
					sum := float64(convB[f])
					for di := range 3 {
						for dj := range 3 {
							r, c := i+di-1, j+dj-1
							if r < 0 || r >= ImageSide || c < 0 || c >= ImageSide {
								continue
							}
							sum += float64(convW[f*9+di*3+dj]) * float64(img[r*ImageSide+c])
						}
					}
					conv[f][i][j] = max(sum, 0)
				}
			}
		}
		flat := make([]float64, 0, FlatFeatures)
		for f := range ConvFilters {
			for i := range PooledSide {
				for j := range PooledSide {
					flat = append(flat, max(conv[f][2*i][2*j], conv[f][2*i][2*j+1], conv[f][2*i+1][2*j], conv[f][2*i+1][2*j+1]))
				}
			}
		}
		hidden := make([]float64, HiddenUnits)
		for u := range HiddenUnits {
			sum := float64(denseB[u])
			for k, v := range flat {
				sum += v * float64(denseW[k*HiddenUnits+u])
			}
			hidden[u] = max(sum, 0)
		}
		out := make([]float64, Classes)
		maxLogit := math.Inf(-1)
		for c := range Classes {
			sum := float64(outB[c])
			for u, v := range hidden {
				sum += v * float64(outW[u*Classes+c])
			}
			out[c] = sum
			maxLogit = max(maxLogit, sum)
		}
		var z float64
		for _, v := range out {
			z += math.Exp(v - maxLogit)
		}
		loss -= out[d.Labels[s]] - maxLogit - math.Log(z)
		logits = append(logits, out)
	}
	return logits, loss
}

// TestForwardMatchesReference checks that the Gorgonia graph computes the
// intended network: its logits agree with plain float64 loops.
func TestForwardMatchesReference(t *testing.T) {
	train, _ := loadSplit(t)
	const batch = 5
	p := NewParams(1)
	net, err := NewNet(p, batch, false)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	if err := net.Load(train); err != nil {
		t.Fatal(err)
	}
	got, err := net.Forward()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := referenceLoss(p, train, batch)
	for s := range batch {
		for c := range Classes {
			if g, w := float64(got[s*Classes+c]), want[s][c]; math.Abs(g-w) > 1e-4*(1+math.Abs(w)) {
				t.Errorf("sample %d class %d: logit %.6g, reference %.6g", s, c, g, w)
			}
		}
	}
}

// TestGradientsMatchFiniteDifferences checks Gorgonia's summed loss against
// the reference and a few entries of each parameter's gradient against
// central differences of the float64 reference loss.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	train, _ := loadSplit(t)
	const batch = 4
	p := NewParams(2)
	net, err := NewNet(p, batch, true)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	if err := net.Load(train); err != nil {
		t.Fatal(err)
	}
	loss, grads, err := net.Gradients()
	if err != nil {
		t.Fatal(err)
	}
	if _, want := referenceLoss(p, train, batch); math.Abs(float64(loss)-want) > 1e-4*want {
		t.Fatalf("loss %.6g, reference %.6g", loss, want)
	}
	params := [][]float32{
		p.ConvW.Data().([]float32), p.ConvB.Data().([]float32),
		p.DenseW.Data().([]float32), p.DenseB.Data().([]float32),
		p.OutputW.Data().([]float32), p.OutputB.Data().([]float32),
	}
	names := []string{"convW", "convB", "denseW", "denseB", "outW", "outB"}
	const h = 1e-4
	for i, values := range params {
		for _, k := range []int{0, len(values) / 3, len(values) - 1} {
			orig := values[k]
			values[k] = orig + h
			_, plus := referenceLoss(p, train, batch)
			values[k] = orig - h
			_, minus := referenceLoss(p, train, batch)
			values[k] = orig
			// The step is exact in float32 only up to rounding of orig±h.
			numeric := (plus - minus) / (float64(orig+h) - float64(orig-h))
			if g := float64(grads[i][k]); math.Abs(g-numeric) > 2e-3*(1+math.Abs(numeric)) {
				t.Errorf("%s[%d]: gradient %.6g, finite difference %.6g", names[i], k, g, numeric)
			}
		}
	}
}

// TestTrainingLowersLoss runs a few full-batch SGD steps and expects the
// summed loss to fall, as the tutorial's log does from its first steps.
func TestTrainingLowersLoss(t *testing.T) {
	train, _ := loadSplit(t)
	const batch = 256
	net, err := NewNet(NewParams(3), batch, true)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	if err := net.Load(train); err != nil {
		t.Fatal(err)
	}
	var first, last float32
	for step := range 5 {
		loss, err := net.TrainStep()
		if err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			first = loss
		}
		last = loss
	}
	if !(last < first) {
		t.Fatalf("summed loss went from %g to %g in 5 steps", first, last)
	}
}

// TestTutorialRun is the 2000-step full-batch tutorial run end to end. It
// takes minutes, so it runs only with CNNGEN_GORGONIA_TUTORIAL=1:
//
//	CNNGEN_GORGONIA_TUTORIAL=1 go test -run TutorialRun -v -timeout 1h
//
// It logs the time and the final test accuracy, and fails below 0.9.
func TestTutorialRun(t *testing.T) {
	if os.Getenv("CNNGEN_GORGONIA_TUTORIAL") != "1" {
		t.Skip("set CNNGEN_GORGONIA_TUTORIAL=1 to run the 2000-step tutorial (minutes)")
	}
	train, test := loadSplit(t)
	p := NewParams(1)
	net, err := NewNet(p, train.Len(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	if err := net.Load(train); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for step := range 2000 {
		loss, err := net.TrainStep()
		if err != nil {
			t.Fatal(err)
		}
		if step%500 == 0 || step == 1999 {
			t.Logf("step %4d: cost/sample %.4f", step, loss/float32(train.Len()))
		}
	}
	elapsed := time.Since(start)
	eval, err := NewNet(p, test.Len(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer eval.Close()
	acc, err := eval.Accuracy(test)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("2000 steps in %v (%.1f ms/step), test accuracy %.4f", elapsed, elapsed.Seconds()/2, acc)
	if acc < 0.9 {
		t.Errorf("test accuracy %.4f, want at least 0.9", acc)
	}
}
