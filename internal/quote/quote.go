// Package quote makes text from files and command lines safe to print in
// messages: bounded in length, and escaped when it holds characters that
// would act on the terminal (control characters, ANSI escape sequences) or
// mislead the reader (bidirectional overrides, invisible characters, and in
// names, non-ASCII letters that look like ASCII ones).
package quote

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Max is the number of bytes of a value printed before it is cut short
// with "…(N bytes)", N being the value's whole length.
const Max = 200

// Value returns s for a message: as it is when it is at most Max bytes of
// valid UTF-8 with only printable characters (spaces included), else
// quoted as Go quotes a string (strconv.Quote: "\x1b[31m", "\u202e") and
// cut to Max bytes with "…(N bytes)" after the closing quote.
func Value(s string) string {
	if len(s) <= Max && printable(s, false) {
		return s
	}
	return quote(s, strconv.Quote)
}

// Name returns a name (a tensor's, a network's) for a message: as it is
// when it is at most Max bytes of printable ASCII without spaces, else
// quoted with every non-ASCII character escaped (strconv.QuoteToASCII), so
// that a look-alike such as a Cyrillic "а" in "conv1.weight" shows, and cut
// as [Value] cuts.
func Name(s string) string {
	if len(s) <= Max && printable(s, true) {
		return s
	}
	return quote(s, strconv.QuoteToASCII)
}

// Quoted returns s in double quotes, escaped and cut as [Name]: for
// messages that always quote names (where %q would print any length).
func Quoted(s string) string {
	if len(s) <= Max && printable(s, true) {
		return strconv.Quote(s)
	}
	return quote(s, strconv.QuoteToASCII)
}

// printable reports whether s is valid UTF-8 of printable characters only
// (unicode.IsPrint: no control, format or bidirectional characters), and
// with ascii, whether it is printable ASCII without spaces.
func printable(s string, ascii bool) bool {
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			return false
		case ascii && (r <= ' ' || r >= 0x7f):
			return false
		case !unicode.IsPrint(r):
			return false
		}
	}
	return true
}

// quote quotes s with q, cutting it first when it is longer than Max.
func quote(s string, q func(string) string) string {
	if len(s) <= Max {
		return q(s)
	}
	cut := Max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	var b strings.Builder
	b.WriteString(q(s[:cut]))
	fmt.Fprintf(&b, "…(%d bytes)", len(s))
	return b.String()
}
