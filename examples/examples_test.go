package examples_test

import (
	"bytes"
	"testing"

	"github.com/cnngen/cnngen/examples"
)

func TestEmbedded(t *testing.T) {
	digits, err := examples.FS.ReadFile(examples.DigitsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(digits, examples.Digits) || len(digits) == 0 {
		t.Errorf("Digits differs from %s in FS", examples.DigitsFile)
	}
	for _, name := range []string{
		"twoconv.yaml", "tanh_avgpool.yaml",
		"resnet8.yaml", "dscnn.yaml", "mobilenet_vww.yaml", "autoencoder.yaml",
	} {
		data, err := examples.FS.ReadFile(name)
		if err != nil {
			t.Error(err)
			continue
		}
		if !bytes.Contains(data, []byte("\nlayers:\n")) {
			t.Errorf("%s has no layers section", name)
		}
	}
}
