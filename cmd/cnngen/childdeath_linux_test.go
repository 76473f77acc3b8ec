package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowStepNet is a network on the digits whose steps take many seconds
// (about 80 GFLOP each), so that its child trainer writes nothing for long:
// a child that only died when writing to its dead parent's pipe would
// outlive it by that much.
const slowStepNet = `name: slowstep
input: {height: 8, width: 8, channels: 1}
layers:
  - {kind: conv2d, filters: 256, kernel: 3, padding: same}
  - {kind: relu}
  - {kind: conv2d, filters: 256, kernel: 5, padding: same}
  - {kind: relu}
  - {kind: conv2d, filters: 256, kernel: 5, padding: same}
  - {kind: relu}
  - {kind: maxpool, window: 8, padding: valid}
  - {kind: dense, units: 10}
  - {kind: softmax}
train:
  loss: {type: softmax_cross_entropy, reduction: mean}
  optimizer: {type: sgd, learning_rate: 0.01}
  batch: 128
  steps: 1000
  seed: 1
  test_fraction: 0.1
`

// TestChildDiesWithParent builds cnngen, starts it training a network that
// is not compiled in (so on a child trainer), SIGKILLs it once the child
// runs, and requires the child to end within seconds — by the kernel's
// parent-death signal, and, with that turned off, by watching its stdin —
// and the next run to remove the directory the killed one left behind,
// and nothing else.
func TestChildDiesWithParent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cnngen and a child trainer")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	bin := filepath.Join(work, "cnngen")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building cnngen: %v\n%s", err, out)
	}
	desc := filepath.Join(work, "slow.yaml")
	if err := os.WriteFile(desc, []byte(slowStepNet), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"pdeathsig", "stdin"} {
		t.Run(mode, func(t *testing.T) {
			tmp := t.TempDir()
			env := append(os.Environ(), "TMPDIR="+tmp, "CNNGEN_SRC="+root)
			if mode == "stdin" {
				env = append(env, "CNNGEN_TEST_NO_PDEATHSIG=1")
			}
			parent := exec.Command(bin, "train", "-steps", "100000000", "-log-every", "0", desc)
			parent.Env = env
			// A file, not a pipe that Wait would drain: the child holds it
			// too, and Wait would wait for the child.
			errFile, err := os.Create(filepath.Join(work, mode+".stderr"))
			if err != nil {
				t.Fatal(err)
			}
			defer errFile.Close()
			parent.Stderr = errFile
			stderr := func() string { b, _ := os.ReadFile(errFile.Name()); return string(b) }
			if err := parent.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { parent.Wait(); close(exited) }()
			defer func() { parent.Process.Kill(); <-exited }()
			child := 0
			for deadline := time.Now().Add(5 * time.Minute); child == 0; time.Sleep(100 * time.Millisecond) {
				select {
				case <-exited:
					t.Fatalf("cnngen ended before its child started: %s", stderr())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("no child trainer after 5 minutes: %s", stderr())
				}
				child = childNamed(parent.Process.Pid, "cnngenrun")
			}
			time.Sleep(time.Second) // let it settle into training
			leftovers, _ := filepath.Glob(filepath.Join(tmp, trainDirPrefix+strconv.Itoa(parent.Process.Pid)+"-*"))
			if len(leftovers) != 1 {
				t.Fatalf("temporary directories %v, want one", leftovers)
			}
			if !processRunning(child) {
				t.Fatalf("the child trainer %d ended by itself: %s", child, stderr())
			}
			if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			<-exited
			for processRunning(child) {
				if time.Since(start) > 5*time.Second {
					syscall.Kill(child, syscall.SIGKILL)
					t.Fatalf("the child trainer %d still runs 5s after its parent was killed", child)
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("the child %d ended %v after its parent", child, time.Since(start).Round(time.Millisecond))
			if _, err := os.Stat(leftovers[0]); err != nil {
				t.Fatalf("the killed run left no directory to clean: %v", err)
			}

			// Lookalikes that must stay: a live process's (this one's), and
			// names not of the pattern.
			var keep []string
			for _, name := range []string{
				trainDirPrefix + strconv.Itoa(os.Getpid()) + "-1",
				"cnngen-train-123",
				trainDirPrefix + "x-1",
			} {
				p := filepath.Join(tmp, name)
				if err := os.Mkdir(p, 0o755); err != nil {
					t.Fatal(err)
				}
				keep = append(keep, p)
			}
			next := exec.Command(bin, "train", "-engine", "generic", "-steps", "1")
			next.Env = env
			if out, err := next.CombinedOutput(); err != nil {
				t.Fatalf("the next run: %v\n%s", err, out)
			}
			if _, err := os.Stat(leftovers[0]); err == nil {
				t.Errorf("the next run left %s", leftovers[0])
			}
			for _, p := range keep {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("the next run removed %s: %v", p, err)
				}
			}
		})
	}
}

// childNamed returns the id of a child of process ppid whose command name
// is name, or 0.
func childNamed(ppid int, name string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		comm, p := statFields(string(stat))
		if comm == name && p == ppid {
			return pid
		}
	}
	return 0
}

// processRunning reports whether pid exists and is not a zombie (an ended
// process that its new parent has not reaped yet).
func processRunning(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

// statFields returns the command name and parent id of a /proc/PID/stat
// line: "pid (comm) state ppid ...".
func statFields(stat string) (string, int) {
	i, j := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if i < 0 || j < i {
		return "", 0
	}
	f := strings.Fields(stat[j+1:])
	if len(f) < 2 {
		return "", 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return stat[i+1 : j], ppid
}
