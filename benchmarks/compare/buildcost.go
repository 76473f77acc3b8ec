package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// buildCost is one generated package's source size and compile time.
type buildCost struct {
	Net, Package    string
	GoBytes, SBytes int64
	// Seconds is the wall time of `go build PKG` with every dependency
	// already in a fresh build cache, less the baseline (the same go build
	// command when everything is cached); CPUSeconds is the CPU time of the
	// go command and its children (compile, asm), less the baseline's.
	Seconds, CPUSeconds float64
}

// generatedPackages are the scaling study's packages, smallest first
// (generated/digits, the reference network, first).
var generatedPackages = []struct{ net, dir string }{
	{"digits", "generated/digits"},
	{"digits64", "benchmarks/scaling/gen/digits64"},
	{"lenet", "benchmarks/suite/gen/lenet5"},
	{"conv2", "benchmarks/scaling/gen/conv2"},
}

// buildCost measures each generated package's source size (bytes of .go
// files without tests, and of .s files) and its compile time. The time is
// taken in a fresh GOCACHE (so that nothing of the package is cached, unlike
// a plain go build) after building every dependency of the packages into
// it, so that only the package itself compiles and assembles (go build -a
// would rebuild the standard library every time). The go command's own
// overhead, measured as the same command once everything is cached, is
// subtracted.
func (r *runner) buildCost(res *results, digitsPart, suitePart bool) error {
	saved := filepath.Join(r.rawDir(), "buildcost.json")
	if r.replay != "" {
		b, err := os.ReadFile(saved)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &res.BuildCost)
	}
	cache, err := os.MkdirTemp("", "cnngen-gocache-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(cache)
	env := append(os.Environ(), "GOCACHE="+cache)
	var packages []struct{ net, dir string }
	if digitsPart {
		packages = append(packages, generatedPackages...)
	} else {
		packages = append(packages, generatedPackages[0]) // generated/digits
	}
	if suitePart {
		for _, p := range suitePackages {
			// The scaling study's lenet is the suite's LeNet-5 package.
			if !slices.ContainsFunc(packages, func(q struct{ net, dir string }) bool { return q.dir == p.dir }) {
				packages = append(packages, p)
			}
		}
	}
	var pkgs []string
	for _, p := range packages {
		pkgs = append(pkgs, "./"+p.dir)
	}
	// Dependencies of the generated packages, without themselves.
	list := exec.Command("go", append([]string{"list", "-deps", "-f", "{{if not .DepOnly}}{{else}}{{.ImportPath}}{{end}}"}, pkgs...)...)
	list.Dir, list.Env = r.root, env
	out, err := list.Output()
	if err != nil {
		return fmt.Errorf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	warm := exec.Command("go", append([]string{"build"}, deps...)...)
	warm.Dir, warm.Env = r.root, env
	if out, err := warm.CombinedOutput(); err != nil {
		return fmt.Errorf("building the dependencies: %v\n%s", err, out)
	}
	r.commands = append(r.commands, "GOCACHE=$(mktemp -d) go build <dependencies>; then per package: go build ./PKG (timed), less the time of a fully cached go build")
	timed := func(pkg string) (wall, cpu float64, err error) {
		cmd := exec.Command("go", "build", pkg)
		cmd.Dir, cmd.Env = r.root, env
		start := time.Now()
		out, err := cmd.CombinedOutput()
		wall = time.Since(start).Seconds()
		if err != nil {
			return 0, 0, fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
		st := cmd.ProcessState
		return wall, (st.UserTime() + st.SystemTime()).Seconds(), nil
	}
	var costs []buildCost
	for _, p := range packages {
		wall, cpu, err := timed("./" + p.dir)
		if err != nil {
			return err
		}
		// The same command again: everything cached, the go command's
		// overhead alone.
		baseWall, baseCPU, err := timed("./" + p.dir)
		if err != nil {
			return err
		}
		c := buildCost{Net: p.net, Package: p.dir, Seconds: wall - baseWall, CPUSeconds: cpu - baseCPU}
		files, _ := filepath.Glob(filepath.Join(r.root, p.dir, "*"))
		for _, f := range files {
			st, err := os.Stat(f)
			if err != nil || st.IsDir() {
				continue
			}
			switch {
			case strings.HasSuffix(f, "_test.go"):
			case strings.HasSuffix(f, ".go"):
				c.GoBytes += st.Size()
			case strings.HasSuffix(f, ".s"):
				c.SBytes += st.Size()
			}
		}
		fmt.Fprintf(r.log, "   %-9s %8d B .go %8d B .s  build %.2f s (CPU %.2f s)\n", p.net, c.GoBytes, c.SBytes, c.Seconds, c.CPUSeconds)
		costs = append(costs, c)
	}
	res.BuildCost = costs
	b, err := json.Marshal(costs)
	if err != nil {
		return err
	}
	return os.WriteFile(saved, b, 0o644)
}

// rawDir is where this run's raw outputs are: the replayed directory or the
// new one.
func (r *runner) rawDir() string {
	if r.replay != "" {
		return r.replay
	}
	return r.raw
}
