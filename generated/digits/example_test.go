package digits_test

import (
	"fmt"
	"sync"

	"github.com/cnngen/cnngen/datasets"
	"github.com/cnngen/cnngen/generated/digits"
)

// Train briefly, freeze, and classify from several goroutines at once.
func ExampleModel_Freeze() {
	data, err := datasets.Digits()
	if err != nil {
		panic(err)
	}
	train, test, err := data.Split(0.1, 1)
	if err != nil {
		panic(err)
	}
	m := digits.New()
	m.Init(1)
	for range 100 {
		m.Step(train.X, train.Y, 0.0005)
	}
	f := m.Freeze() // later steps of m do not reach f

	// Each goroutine classifies every other test sample.
	correct := make([]int, 2)
	var wg sync.WaitGroup
	for g := range correct {
		wg.Go(func() {
			for i := g; i < test.Len(); i += len(correct) {
				var probs [digits.Classes]float32
				f.Predict((*[digits.InputSize]float32)(test.Sample(i)), &probs)
				best := 0
				for c := range probs {
					if probs[c] > probs[best] {
						best = c
					}
				}
				if int32(best) == test.Y[i] {
					correct[g]++
				}
			}
		})
	}
	wg.Wait()
	accuracy := float64(correct[0]+correct[1]) / float64(test.Len())
	fmt.Println("test accuracy above 0.9:", accuracy > 0.9)
	// Output: test accuracy above 0.9: true
}
