package quote

import (
	"strings"
	"testing"
)

func TestValueAndName(t *testing.T) {
	long := strings.Repeat("a", 50<<20)
	for _, tc := range []struct {
		in, value, name string
	}{
		{"digits", "digits", "digits"},
		{"adam", "adam", "adam"},
		{"a b", "a b", `"a b"`},
		{"été", "été", `"\u00e9t\u00e9"`},
		{"\x1b[31mred\x1b[0m", `"\x1b[31mred\x1b[0m"`, `"\x1b[31mred\x1b[0m"`},
		{"conv1\u202e.weight", `"conv1\u202e.weight"`, `"conv1\u202e.weight"`},
		{"с" + "onv1.weight", "сonv1.weight", `"\u0441onv1.weight"`}, // a Cyrillic es
		{"zero\u200bwidth", `"zero\u200bwidth"`, `"zero\u200bwidth"`},
		{"line\nbreak", `"line\nbreak"`, `"line\nbreak"`},
		{"\xff", `"\xff"`, `"\xff"`},
		{long, `"` + strings.Repeat("a", Max) + `"…(52428800 bytes)`, `"` + strings.Repeat("a", Max) + `"…(52428800 bytes)`},
	} {
		if got := Value(tc.in); got != tc.value {
			t.Errorf("Value(%.40q) = %.300s, want %.300s", tc.in, got, tc.value)
		}
		if got := Name(tc.in); got != tc.name {
			t.Errorf("Name(%.40q) = %.300s, want %.300s", tc.in, got, tc.name)
		}
	}
	if got := Quoted("digits"); got != `"digits"` {
		t.Errorf("Quoted(digits) = %s", got)
	}
	if got := Quoted("\x1b]0;x\a"); got != `"\x1b]0;x\a"` {
		t.Errorf("Quoted(OSC) = %s", got)
	}
	// A multi-byte character is not split at the cut.
	if got := Value(strings.Repeat("é", 200)); !strings.HasSuffix(got, `"…(400 bytes)`) || strings.Contains(got, "\\x") {
		t.Errorf("Value(200 é) = %s", got)
	}
}
