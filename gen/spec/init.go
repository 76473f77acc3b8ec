package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cnngen/cnngen/runtime"
)

// initSyntax is the grammar of an init rule, for error messages.
const initSyntax = "want zeros, normal(S) or uniform(A), where S and A are a number, 1/sqrt(N), 1/sqrt(fan_in) or sqrt(2/fan_in)"

// ParseInit parses an initialisation rule:
//
//	rule  = "zeros" | "normal(" scale ")" | "uniform(" scale ")"
//	scale = number | [number "/"] "sqrt(" [number "/"] arg ")"
//	arg   = number | "fan_in"
//
// Spaces are ignored and every number must be positive and finite, so that
// 0.05, 1/sqrt(64), 1/sqrt(fan_in), sqrt(2/fan_in) and 2/sqrt(fan_in) are
// all scales. The returned Init has Text set and no Pos.
func ParseInit(text string) (Init, error) {
	s := strings.ReplaceAll(text, " ", "")
	in := Init{Text: text}
	if s == "zeros" {
		in.Kind = runtime.InitZeros
		return in, nil
	}
	var arg string
	switch {
	case strings.HasPrefix(s, "normal(") && strings.HasSuffix(s, ")"):
		in.Kind, arg = runtime.InitNormal, s[len("normal("):len(s)-1]
	case strings.HasPrefix(s, "uniform(") && strings.HasSuffix(s, ")"):
		in.Kind, arg = runtime.InitUniform, s[len("uniform("):len(s)-1]
	default:
		return Init{}, fmt.Errorf("bad init rule %s: %s", Quote(text), initSyntax)
	}
	sc, err := parseScale(arg)
	if err != nil {
		return Init{}, fmt.Errorf("bad init rule %s: %v", Quote(text), err)
	}
	in.Scale = sc
	return in, nil
}

func parseScale(s string) (Scale, error) {
	sc := Scale{Factor: 1, Numer: 1}
	i := strings.Index(s, "sqrt(")
	if i < 0 {
		f, err := positive(s)
		if err != nil {
			return Scale{}, err
		}
		sc.Factor = f
		return sc, nil
	}
	if i > 0 {
		// "F/sqrt(...)"
		if !strings.HasSuffix(s[:i], "/") {
			return Scale{}, fmt.Errorf("want a number, N/sqrt(...) or sqrt(...) as the scale, got %s", Quote(s))
		}
		f, err := positive(s[:i-1])
		if err != nil {
			return Scale{}, err
		}
		sc.Factor = f
	}
	inner := s[i+len("sqrt("):]
	if !strings.HasSuffix(inner, ")") {
		return Scale{}, fmt.Errorf("sqrt( is not closed in %s", Quote(s))
	}
	inner = inner[:len(inner)-1]
	sc.Sqrt = true
	if j := strings.IndexByte(inner, '/'); j >= 0 {
		n, err := positive(inner[:j])
		if err != nil {
			return Scale{}, err
		}
		sc.Numer, inner = n, inner[j+1:]
	}
	if inner == "fan_in" {
		sc.FanIn = true
		return sc, nil
	}
	d, err := strconv.ParseFloat(inner, 64)
	if err != nil || !(d > 0) || math.IsInf(d, 0) || !decimalNumber(inner) {
		return Scale{}, fmt.Errorf("want fan_in or a positive number inside sqrt, got %s", Quote(inner))
	}
	sc.Denom = d
	return sc, nil
}

// positive parses a positive finite number.
func positive(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("want a positive number, got %s", Quote(s))
	}
	if !decimalNumber(s) {
		return 0, fmt.Errorf("%s is not a decimal number: write it in decimal digits (0.01, 1e-2)", Quote(s))
	}
	if f <= 0 {
		return 0, fmt.Errorf("want a positive number, got %s", s)
	}
	return f, nil
}

// decimalNumber reports whether s, which strconv.ParseFloat accepts, is
// written in decimal: not a hexadecimal float (0x1p-4) and without
// underscores, which Go's syntax allows but descriptions do not.
func decimalNumber(s string) bool {
	return !strings.ContainsAny(s, "xXpP_")
}
