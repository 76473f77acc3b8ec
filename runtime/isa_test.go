package runtime

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestISAStringAndParse(t *testing.T) {
	for _, isa := range []ISA{PureGo, AVX2, AVX512} {
		got, err := ParseISA(strings.ToUpper(isa.String()))
		if err != nil || got != isa {
			t.Errorf("ParseISA(%q) = %v, %v; want %v", isa.String(), got, err, isa)
		}
	}
	_, err := ParseISA("sse2")
	const want = `unknown instruction set "sse2": want purego, avx2, avx512`
	if err == nil || err.Error() != want {
		t.Errorf("ParseISA(sse2) error = %v; want %s", err, want)
	}
	if s := ISA(9).String(); s != "ISA(9)" {
		t.Errorf("ISA(9).String() = %q", s)
	}
}

func TestAvailableISAs(t *testing.T) {
	avail := AvailableISAs()
	if len(avail) == 0 || avail[0] != PureGo {
		t.Fatalf("AvailableISAs() = %v; want PureGo first", avail)
	}
	if !slices.IsSorted(avail) {
		t.Errorf("AvailableISAs() = %v; want slowest first", avail)
	}
	if os.Getenv(ISAEnv) == "" && ActiveISA() != avail[len(avail)-1] {
		t.Errorf("ActiveISA() = %v; want the fastest of %v", ActiveISA(), avail)
	}
}

func TestForceISA(t *testing.T) {
	before := ActiveISA()
	for _, isa := range AvailableISAs() {
		restore, err := ForceISA(isa)
		if err != nil {
			t.Fatalf("ForceISA(%v): %v", isa, err)
		}
		if got := ActiveISA(); got != isa {
			t.Errorf("after ForceISA(%v), ActiveISA() = %v", isa, got)
		}
		restore()
		if got := ActiveISA(); got != before {
			t.Errorf("after restore, ActiveISA() = %v; want %v", got, before)
		}
	}
	for _, isa := range []ISA{PureGo, AVX2, AVX512, ISA(7)} {
		if slices.Contains(AvailableISAs(), isa) {
			continue
		}
		restore, err := ForceISA(isa)
		if err == nil {
			t.Errorf("ForceISA(%v) succeeded; want an error", isa)
		}
		restore() // must be safe to call
		if got := ActiveISA(); got != before {
			t.Errorf("failed ForceISA(%v) changed ActiveISA to %v", isa, got)
		}
	}
}

// TestRequireISA fails when CNNGEN_TEST_REQUIRE names a level that this
// build and CPU do not offer, so CI on a known machine notices when the fast
// path silently disappears (a build tag or detection bug).
func TestRequireISA(t *testing.T) {
	req := os.Getenv("CNNGEN_TEST_REQUIRE")
	if req == "" {
		t.Skip("CNNGEN_TEST_REQUIRE not set")
	}
	isa, err := ParseISA(req)
	if err != nil {
		t.Fatalf("CNNGEN_TEST_REQUIRE: %v", err)
	}
	if !slices.Contains(AvailableISAs(), isa) {
		t.Fatalf("CNNGEN_TEST_REQUIRE=%v, but only %v are available", isa, AvailableISAs())
	}
	if os.Getenv(ISAEnv) == "" && ActiveISA() < isa {
		t.Fatalf("CNNGEN_TEST_REQUIRE=%v, but the default path is %v", isa, ActiveISA())
	}
}

// TestISAEnv runs this test binary again with CNNGEN_ISA set, since the
// variable is read once at init.
func TestISAEnv(t *testing.T) {
	if os.Getenv("CNNGEN_ISA_CHILD") == "1" {
		// Child: print what init decided.
		errText := "<nil>"
		if err := ISAError(); err != nil {
			errText = err.Error()
		}
		os.Stdout.WriteString("active=" + ActiveISA().String() + " err=" + errText + "\n")
		return
	}
	avail := AvailableISAs()
	best := avail[len(avail)-1]
	cases := []struct{ env, want string }{
		{"purego", "active=purego err=<nil>"},
		{"PureGo", "active=purego err=<nil>"},
		{"", "active=" + best.String() + " err=<nil>"},
		{"neon", "active=" + best.String() + ` err=CNNGEN_ISA=neon: unknown instruction set "neon": want purego, avx2, avx512`},
	}
	for _, isa := range []ISA{AVX2, AVX512} {
		if slices.Contains(avail, isa) {
			cases = append(cases, struct{ env, want string }{isa.String(), "active=" + isa.String() + " err=<nil>"})
		} else {
			cases = append(cases, struct{ env, want string }{isa.String(),
				"active=" + best.String() + " err=CNNGEN_ISA=" + isa.String() + ": " + isa.String() + " is not available: " + isaSupport(isa).Error() + " (available: " + availableNames() + ")"})
		}
	}
	for _, c := range cases {
		cmd := exec.Command(os.Args[0], "-test.run=^TestISAEnv$")
		cmd.Env = append(os.Environ(), "CNNGEN_ISA_CHILD=1", ISAEnv+"="+c.env)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s=%s: %v\n%s", ISAEnv, c.env, err, out)
		}
		got, _, _ := strings.Cut(string(out), "\n")
		if got != c.want {
			t.Errorf("%s=%s:\n got %s\nwant %s", ISAEnv, c.env, got, c.want)
		}
	}
}
