// Command app shows cnngen used from a module of its own: go generate turns
// net.yaml into package net (with the cnngen CLI that go.mod declares as a
// tool), and this program trains that network on the digits embedded in
// github.com/cnngen/cnngen/datasets, freezes it and prints a prediction.
//
//	go generate ./...
//	go run .
package main

//go:generate go tool cnngen generate -o net -pkg net net.yaml

import (
	_ "embed"
	"fmt"
	"log"

	"github.com/cnngen/cnngen/datasets"
	"github.com/cnngen/cnngen/gen/ir"
	"github.com/cnngen/cnngen/runtime"

	"example.com/app/net"
)

// netYAML is the network's description, whose train section is the recipe.
//
//go:embed net.yaml
var netYAML []byte

func main() {
	log.SetFlags(0)
	data, err := datasets.Digits()
	if err != nil {
		log.Fatal(err)
	}
	train, test, err := data.Split(0.1, 1)
	if err != nil {
		log.Fatal(err)
	}

	// Train the generated model with the runtime's loop and the recipe of
	// net.yaml's train section (embedded as netYAML): what `cnngen train
	// net.yaml` runs.
	desc, err := ir.Load("net.yaml", netYAML)
	if err != nil {
		log.Fatal(err)
	}
	cfg := desc.TrainConfig()
	m := net.New()
	res, err := runtime.Train(m, train, test, cfg, runtime.TrainOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("trained %d steps: test accuracy %v\n", res.Steps, res.Test)

	// Freeze makes a read-only copy for inference, safe for any number of
	// goroutines; Predict takes one sample as a fixed-size array.
	f := m.Freeze()
	x := (*[net.InputSize]float32)(test.Sample(0))
	var probs [net.Classes]float32
	f.Predict(x, &probs)
	best := 0
	for c := range probs {
		if probs[c] > probs[best] {
			best = c
		}
	}
	fmt.Printf("test sample 0: predicted %d (probability %.3f), label %d\n", best, probs[best], test.Y[0])
}
