package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/runtime/checkpoint"
	"github.com/cnngen/cnngen/runtime/checkpoint/safetensors"
)

// stepLine returns the log line of step n ("step    2  cost/sample …"),
// without the step number, or fails.
func stepLine(t *testing.T, stdout string, n int) string {
	t.Helper()
	m := regexp.MustCompile(fmt.Sprintf(`(?m)^step %4d  (.*)$`, n)).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no step %d in the log:\n%s", n, stdout)
	}
	return m[1]
}

// metadata returns the metadata of the checkpoint at path.
func metadata(t *testing.T, path string) map[string]string {
	t.Helper()
	data := mustReadFile(t, path)
	h, err := safetensors.ReadHeader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return h.Metadata
}

// TestTrainInit trains 2 steps and saves, then starts a new run from those
// weights with -init: its first step sees the weights after 2 steps (the
// cost that a straight run logs at step 2), its optimizer starts afresh (1
// step in its checkpoint, not 3), and another recipe's optimizer (Adam)
// takes the weights too. On the compiled-in generated code and on the
// generic engine.
func TestTrainInit(t *testing.T) {
	small := filepath.Join(t.TempDir(), "small.csv")
	writeDigitsCSV(t, small, 200)
	adam := filepath.Join(t.TempDir(), "digits_adam.yaml")
	writeFile(t, adam, string(mustRead(t, "digits_adam.yaml")))
	for _, tc := range []struct {
		engine string
		data   []string
	}{
		{"generated", nil},
		{"generic", []string{"-data", small}},
	} {
		t.Run(tc.engine, func(t *testing.T) {
			dir := t.TempDir()
			part, tuned, tunedAdam := filepath.Join(dir, "part.safetensors"), filepath.Join(dir, "tuned.safetensors"), filepath.Join(dir, "adam.safetensors")
			args := append([]string{"-engine", tc.engine, "-log-every", "1"}, tc.data...)
			_, straight, _ := mustTrain(t, append(args, "-steps", "3")...)
			mustTrain(t, append(args, "-steps", "2", "-save", part)...)
			before := mustReadFile(t, part)
			_, stdout, stderr := mustTrain(t, append(args, "-init", part, "-steps", "1", "-save", tuned)...)
			if !strings.Contains(stderr, "cnngen: starting from the weights of "+part+"\n") || strings.Contains(stderr, "resuming") {
				t.Errorf("stderr does not say where the weights come from:\n%s", stderr)
			}
			if got, want := stepLine(t, stdout, 0), stepLine(t, straight, 2); got != want {
				t.Errorf("the -init run's step 0 logs %q, want the straight run's step 2: %q", got, want)
			}
			if m := metadata(t, tuned); m[checkpoint.MetaOptimizer] != "sgd" || m[checkpoint.MetaOptimizerSteps] != "1" {
				t.Errorf("the -init run's checkpoint: optimizer %q after %q steps, want sgd after 1", m[checkpoint.MetaOptimizer], m[checkpoint.MetaOptimizerSteps])
			}
			_, stdout, _ = mustTrain(t, append(args, "-init", part, "-steps", "2", "-save", tunedAdam, adam)...)
			if !strings.HasPrefix(stepLine(t, stdout, 0), "cost/sample ") || !strings.Contains(stdout, "\nadam lr 0.001") {
				t.Errorf("the Adam run from the sgd weights:\n%s", stdout)
			}
			if m := metadata(t, tunedAdam); m[checkpoint.MetaOptimizer] != "adam" || m[checkpoint.MetaOptimizerSteps] != "2" {
				t.Errorf("the Adam run's checkpoint: optimizer %q after %q steps, want adam after 2", m[checkpoint.MetaOptimizer], m[checkpoint.MetaOptimizerSteps])
			}
			if !bytes.Equal(mustReadFile(t, part), before) {
				t.Error("-init changed its checkpoint")
			}
		})
	}
}

// TestTrainInitChildProcess starts a network that runs in a child process
// from the weights of a generic run with another seed, and checks that the
// child trained from them: its weights after one step are the generic
// engine's after the same step, to rounding.
func TestTrainInitChildProcess(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	dir := t.TempDir()
	desc := filepath.Join(dir, "tanh_avgpool.yaml")
	writeFile(t, desc, string(mustRead(t, "tanh_avgpool.yaml")))
	small := filepath.Join(dir, "small.csv")
	writeDigitsCSV(t, small, 200)
	part, child, generic := filepath.Join(dir, "part.safetensors"), filepath.Join(dir, "child.safetensors"), filepath.Join(dir, "generic.safetensors")
	common := []string{"-data", small, desc}
	mustTrain(t, append([]string{"-engine", "generic", "-seed", "5", "-steps", "2", "-save", part}, common...)...)
	_, _, stderr := mustTrain(t, append([]string{"-workers", "1", "-init", part, "-steps", "1", "-save", child}, common...)...)
	if !strings.Contains(stderr, "child process") {
		t.Errorf("the network did not run in a child process:\n%s", stderr)
	}
	mustTrain(t, append([]string{"-engine", "generic", "-init", part, "-steps", "1", "-save", generic}, common...)...)
	c, g, p := mustGeneric(t, desc), mustGeneric(t, desc), mustGeneric(t, desc)
	for path, m := range map[string]runtime.Model{child: c, generic: g, part: p} {
		if _, err := checkpoint.Load(path, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	moved := 0.0
	for i, cp := range c.Params() {
		for j, v := range cp.Value {
			if d := math.Abs(float64(v - g.Params()[i].Value[j])); d > 1e-4 {
				t.Fatalf("%s[%d]: child %g, generic %g", cp.Name, j, v, g.Params()[i].Value[j])
			}
			moved = max(moved, math.Abs(float64(v-p.Params()[i].Value[j])))
		}
	}
	if moved == 0 {
		t.Error("the step from the -init weights changed nothing")
	}
}

// renameTensors copies the checkpoint at src to dst with its tensor names
// changed by r (applied to the quoted names in the header), as a state_dict
// of the same layers under other names would be.
func renameTensors(t *testing.T, src, dst string, r *strings.Replacer) {
	t.Helper()
	data := mustReadFile(t, src)
	n := binary.LittleEndian.Uint64(data)
	header := r.Replace(string(data[8 : 8+n]))
	for len(header)%8 != 0 {
		header += " "
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data[8+n:])
	if err := os.WriteFile(dst, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sequentialNames renames the digits network's layers as a PyTorch
// nn.Sequential of the same layers names them, optimizer state included.
var sequentialNames = strings.NewReplacer(
	`"conv1.`, `"features.0.`, `"dense1.`, `"classifier.0.`, `"dense2.`, `"classifier.2.`,
	`"optim.conv1.`, `"optim.features.0.`, `"optim.dense1.`, `"optim.classifier.0.`, `"optim.dense2.`, `"optim.classifier.2.`)

// TestRename loads a checkpoint whose tensors have nn.Sequential names into
// the digits network with -rename, inline and from a file, in every command
// that loads checkpoints; without it the error lists the unknown and the
// expected names and suggests -rename.
func TestRename(t *testing.T) {
	ckpt, _ := trainedDigits(t, 1, 10)
	dir := t.TempDir()
	seq := filepath.Join(dir, "sequential.safetensors")
	renameTensors(t, ckpt, seq, sequentialNames)
	mapFile := filepath.Join(dir, "names.txt")
	writeFile(t, mapFile, "# PyTorch's names = cnngen's\nfeatures.0=conv1\n\nclassifier.0 = dense1\nclassifier.2=dense2\n")
	inline := "features.0=conv1,classifier.0=dense1,classifier.2=dense2"
	csv := digitsCSV(t, 5, true)

	code, stdout, stderr := cli("eval", "-load", seq)
	want := "cnngen: loading checkpoint into network digits of examples/digits.yaml: " + seq +
		": 6 tensors are not parameters of network digits: features.0.weight, features.0.bias, classifier.0.weight, classifier.0.bias, classifier.2.weight, …" +
		" (which has conv1.weight, conv1.bias, dense1.weight, dense1.bias, dense2.weight, dense2.bias);" +
		" if they are the same tensors under other names, map them with -rename old=new (e.g. -rename features.0=conv1)\n"
	if code != 1 || stdout != "" || stderr != want {
		t.Errorf("eval without -rename: exit %d, stderr\n%s\nwant exit 1 and\n%s", code, stderr, want)
	}

	for _, cmd := range [][]string{{"eval"}, {"predict", "-data", csv, "-scale", "0.0625", "-logits"}} {
		_, original, _ := cli(append(cmd, "-load", ckpt)...)
		for _, rename := range [][]string{{"-rename", inline}, {"-rename", "@" + mapFile}, {"-rename", "features.0=conv1", "-rename", "classifier.0=dense1,classifier.2=dense2"}} {
			code, stdout, stderr := cli(append(append(cmd, "-load", seq), rename...)...)
			if code != 0 {
				t.Fatalf("%s %v: exit %d, stderr %q", cmd[0], rename, code, stderr)
			}
			if strings.ReplaceAll(stdout, seq, ckpt) != original {
				t.Errorf("%s %v: the renamed checkpoint gives\n%s\nthe original\n%s", cmd[0], rename, stdout, original)
			}
		}
	}
	if code, _, stderr := cli("show", "-load", seq, "-rename", "@"+mapFile, "-o", filepath.Join(dir, "f.png")); code != 0 {
		t.Errorf("show -rename: exit %d, stderr %q", code, stderr)
	}
	small := filepath.Join(dir, "small.csv")
	writeDigitsCSV(t, small, 200)
	mustTrain(t, "-engine", "generic", "-data", small, "-init", seq, "-rename", inline, "-steps", "1")
	// The optimizer state is renamed too: -resume continues its run.
	adam := filepath.Join(dir, "adam.yaml")
	src := strings.NewReplacer("learning_rate: 0.001", "learning_rate: 0.01", "batch: 32", "batch: 64").Replace(string(mustRead(t, "digits_adam.yaml")))
	writeFile(t, adam, src)
	_, _, stderr = mustTrain(t, "-engine", "generic", "-data", small, "-resume", seq, "-rename", "@"+mapFile, "-steps", "1", adam)
	if !strings.Contains(stderr, "cnngen: resuming "+seq+" at step 10 of 11\n") {
		t.Errorf("-resume -rename:\n%s", stderr)
	}
}

// TestFinetuneErrors checks the usage errors of -init and -rename, and the
// messages for a checkpoint of another network.
func TestFinetuneErrors(t *testing.T) {
	dir := t.TempDir()
	twoconv := initialCheckpoint(t, "twoconv.yaml")
	digitsInitial := initialCheckpoint(t, "digits.yaml")
	adam, _ := trainedDigits(t, 1, 1)
	badMap := filepath.Join(dir, "bad.txt")
	writeFile(t, badMap, "features.0=conv1\nfeatures.1\n")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train", "-init", "a.safetensors", "-resume", "b.safetensors"}, 2, "cnngen train: give -init or -resume, not both"},
		{[]string{"train", "-seeds", "1-2", "-init", "a.safetensors"}, 2, "cnngen train: -init does not go with -seeds"},
		{[]string{"train", "-init", twoconv, "-save", filepath.Join(filepath.Dir(twoconv), ".", filepath.Base(twoconv))}, 2, "would overwrite the -init checkpoint"},
		{[]string{"train", "-rename", "a=b"}, 2, "cnngen train: -rename applies only to a checkpoint loaded with -init or -resume"},
		{[]string{"eval", "-load", twoconv, "-rename", "features.0"}, 2, `invalid value "features.0" for flag -rename: "features.0" is not old=new`},
		{[]string{"eval", "-load", twoconv, "-rename", "a=b,a=c"}, 2, `a is renamed twice: b and c`},
		{[]string{"eval", "-load", twoconv, "-rename", "@" + badMap}, 2, badMap + `:2: "features.1" is not old=new`},
		{[]string{"eval", "-load", twoconv, "-rename", "@" + filepath.Join(dir, "missing.txt")}, 2, "no such file or directory"},
		{[]string{"train", "-engine", "generic", "-init", twoconv}, 1, "cnngen: checkpoint " + twoconv + ` is for network "twoconv" (tensor conv1.weight: the checkpoint's shape is [16 1 2 2], the model's is [32 1 3 3] (PyTorch layout)), not "digits": pass its description, e.g. examples/twoconv.yaml` + "\n"},
		{[]string{"train", "-engine", "generic", "-init", filepath.Join(dir, "missing.safetensors")}, 1, "cnngen: -init " + filepath.Join(dir, "missing.safetensors") + ": no such file or directory\n"},
		// -resume needs the recipe's optimizer state: -init takes the weights alone.
		{[]string{"train", "-engine", "generic", "-resume", digitsInitial}, 1, "cnngen: resuming " + digitsInitial +
			": the checkpoint holds no optimizer state (load it without an optimizer to take only the weights); to start a new run from its weights alone, give -init " + digitsInitial + " instead of -resume\n"},
		{[]string{"train", "-engine", "generic", "-resume", adam}, 1, "cnngen: resuming " + adam +
			": the checkpoint's optimizer is adam, this run's is sgd; to start a new run from its weights alone, give -init " + adam + " instead of -resume\n"},
	} {
		code, _, stderr := cli(tc.args...)
		if code != tc.code || !strings.Contains(withoutProgress(stderr), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}

// batchCounts returns the num_batches_tracked counters of the residual
// network's checkpoint at path, by buffer name.
func batchCounts(t *testing.T, desc, path string) map[string]int64 {
	t.Helper()
	m := mustGeneric(t, desc)
	if _, err := checkpoint.Load(path, m, nil); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, b := range m.Buffers() {
		if b.Count != nil {
			counts[b.Name] = *b.Count
		}
	}
	return counts
}

// TestTrainInitBatchNorm starts a network with batch norm from a
// checkpoint's weights and running statistics, on the generic engine and
// in a child process: the batch counters go on from the checkpoint's.
func TestTrainInitBatchNorm(t *testing.T) {
	dir := t.TempDir()
	desc := filepath.Join(dir, "residual.yaml")
	writeFile(t, desc, string(mustRead(t, "residual.yaml")))
	small := filepath.Join(dir, "small.csv")
	writeDigitsCSV(t, small, 100)
	part := filepath.Join(dir, "part.safetensors")
	mustTrain(t, "-engine", "generic", "-data", small, "-steps", "2", "-save", part, desc)
	before := batchCounts(t, desc, part)
	if len(before) != 2 || before["bn1.num_batches_tracked"] != 2 {
		t.Fatalf("counters after 2 steps: %v", before)
	}
	engines := [][]string{{"-engine", "generic"}}
	if _, err := exec.LookPath("go"); err == nil && !testing.Short() {
		engines = append(engines, []string{"-engine", "generated", "-workers", "1"})
	}
	for _, engine := range engines {
		tuned := filepath.Join(dir, "tuned.safetensors")
		mustTrain(t, append(engine, "-data", small, "-init", part, "-steps", "1", "-save", tuned, desc)...)
		for name, n := range batchCounts(t, desc, tuned) {
			if n != before[name]+1 {
				t.Errorf("%v: %s = %d after -init and 1 step, want %d", engine, name, n, before[name]+1)
			}
		}
	}
}
