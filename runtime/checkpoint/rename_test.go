package checkpoint_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/runtime/checkpoint"
)

func TestRename(t *testing.T) {
	rename := map[string]string{"features.0": "conv1", "classifier.2.weight": "fc2.weight", "fc": "fc1"}
	for _, tc := range []struct{ in, want string }{
		{"features.0.weight", "conv1.weight"},
		{"features.0.bias", "conv1.bias"},
		{"features.0.running_mean", "conv1.running_mean"},
		{"features.01.weight", "features.01.weight"}, // a prefix, not a string prefix
		{"features.1.weight", "features.1.weight"},
		{"classifier.2.weight", "fc2.weight"}, // a whole name
		{"classifier.2.bias", "classifier.2.bias"},
		{"fc.weight", "fc1.weight"},
		{"optim.features.0.weight.exp_avg", "optim.conv1.weight.exp_avg"},
		{"optim.classifier.2.weight.exp_avg_sq", "optim.fc2.weight.exp_avg_sq"},
		{"features", "features"},
	} {
		if got := checkpoint.Rename(tc.in, rename); got != tc.want {
			t.Errorf("Rename(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := checkpoint.Rename("features.0.weight", nil); got != "features.0.weight" {
		t.Errorf("Rename without a mapping = %q", got)
	}
}

// sequentialFile is tinyNet's checkpoint with PyTorch nn.Sequential names.
func sequentialFile(t *testing.T) ([]byte, []byte) {
	t.Helper()
	m := tinyNet(2)
	fill(m, 1)
	var b bytes.Buffer
	if err := checkpoint.Write(&b, m, adamFor(t, m, 2), nil); err != nil {
		t.Fatal(err)
	}
	original := b.Bytes()
	header, data := splitFile(t, original)
	r := strings.NewReplacer(`"conv1.`, `"features.0.`, `"fc1.`, `"classifier.0.`, `"fc2.`, `"classifier.2.`,
		`"optim.conv1.`, `"optim.features.0.`, `"optim.fc1.`, `"optim.classifier.0.`, `"optim.fc2.`, `"optim.classifier.2.`)
	return original, joinFile(r.Replace(header), data)
}

// TestLoadRenamed loads a checkpoint whose tensors are named as in an
// nn.Sequential, weights and optimizer state, through a mapping; without
// one, the error lists the unknown names and the expected ones.
func TestLoadRenamed(t *testing.T) {
	original, seq := sequentialFile(t)
	want := tinyNet(2)
	if _, err := checkpoint.Read(bytes.NewReader(original), int64(len(original)), want, nil); err != nil {
		t.Fatal(err)
	}
	rename := map[string]string{"features.0": "conv1", "classifier.0": "fc1", "classifier.2": "fc2"}
	got := tinyNet(2)
	opt := adamFor(t, got, 0)
	if _, err := checkpoint.ReadRenamed(bytes.NewReader(seq), int64(len(seq)), got, opt, rename); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(snapshot(got), snapshot(want)) {
		t.Error("the renamed checkpoint loads other values")
	}
	if s := opt.State(); s.Steps != 2 || len(s.Buffers) == 0 {
		t.Errorf("optimizer state %d steps, %d buffers; want 2 steps and the buffers", s.Steps, len(s.Buffers))
	}

	_, err := checkpoint.Read(bytes.NewReader(seq), int64(len(seq)), tinyNet(2), nil)
	var ne *checkpoint.NamesError
	if !errors.As(err, &ne) {
		t.Fatalf("without a mapping: %v, want a NamesError", err)
	}
	const msg = "checkpoint: 6 tensors are not parameters of network tiny: features.0.weight, features.0.bias, classifier.0.weight, classifier.0.bias, classifier.2.weight, … (which has conv1.weight, conv1.bias, fc1.weight, fc1.bias, fc2.weight, fc2.bias)"
	if err.Error() != msg {
		t.Errorf("without a mapping:\n got %s\nwant %s", err, msg)
	}
	if len(ne.Unknown) != 6 || len(ne.Expected) != 6 {
		t.Errorf("NamesError %+v", ne)
	}

	// Part of the mapping: the other names are reported.
	_, err = checkpoint.ReadRenamed(bytes.NewReader(seq), int64(len(seq)), tinyNet(2), nil, map[string]string{"features.0": "conv1", "classifier.0": "fc1"})
	if !errors.As(err, &ne) || !reflect.DeepEqual(ne.Unknown, []string{"classifier.2.weight", "classifier.2.bias"}) {
		t.Errorf("half a mapping: %v", err)
	}
	// Two tensors onto one name.
	_, err = checkpoint.ReadRenamed(bytes.NewReader(seq), int64(len(seq)), tinyNet(2), nil, map[string]string{"features.0": "conv1", "classifier.0": "fc1", "classifier.2": "fc1"})
	if err == nil || !strings.Contains(err.Error(), "tensors classifier.0.weight and classifier.2.weight are both renamed fc1.weight") {
		t.Errorf("two onto one: %v", err)
	}
	// A mapped tensor of the wrong shape names both names.
	_, err = checkpoint.ReadRenamed(bytes.NewReader(seq), int64(len(seq)), tinyNet(3), nil, rename)
	if err == nil || !strings.Contains(err.Error(), "tensor conv1.weight (features.0.weight in the file): the checkpoint's shape is [2 1 3 3], the model's is [3 1 3 3]") {
		t.Errorf("wrong shape: %v", err)
	}
}
