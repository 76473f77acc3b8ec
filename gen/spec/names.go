package spec

import (
	"fmt"
	"go/token"
	"go/types"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CheckIdent reports why name cannot be the name of a network or layer, or
// nil if it can. Names become Go identifiers in generated code, so a name
// must be ASCII letters, digits and underscores, start with a letter, be at
// most [MaxNameLen] bytes long, and be neither a Go keyword nor a predeclared
// identifier (int, len, nil, ...).
func CheckIdent(name string) error {
	if name == "" {
		return fmt.Errorf("name is empty")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("name %s is %d bytes long: want at most %d", Quote(name), len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if i == 0 && !letter || !letter && c != '_' && !('0' <= c && c <= '9') {
			return fmt.Errorf("name %s is not a valid identifier: want ASCII letters, digits and underscores, starting with a letter", Quote(name))
		}
	}
	if token.IsKeyword(name) {
		return fmt.Errorf("name %s is a Go keyword", Quote(name))
	}
	if types.Universe.Lookup(name) != nil {
		return fmt.Errorf("name %s is a predeclared Go identifier", Quote(name))
	}
	return nil
}

// CheckNetworkName reports why name cannot be the name of a network, or nil
// if it can. It must pass [CheckIdent]; and since the generated package's
// name defaults to the network's name lower-cased, that must not be main or
// init, which name no package a program can import.
func CheckNetworkName(name string) error {
	if err := CheckIdent(name); err != nil {
		return err
	}
	if pkg := strings.ToLower(name); pkg == "main" || pkg == "init" {
		return fmt.Errorf("name %s would make package %s, which no program can import", Quote(name), pkg)
	}
	return nil
}

// maxQuoted bounds how much of a user's string an error message repeats.
const maxQuoted = 40

// Quote returns s as a Go string literal for an error message, shortened to
// its first few characters (then "...") when it is long, so that hostile or
// huge values never flood the output. Control characters, bidirectional
// overrides and invisible characters are escaped (strconv.Quote), so they
// cannot act on the terminal; a string that mixes ASCII letters or digits
// with other characters has every non-ASCII character escaped
// (strconv.QuoteToASCII), so that a look-alike letter (a Cyrillic "с" in
// "сonv1") shows as \u0441.
func Quote(s string) string {
	q := strconv.Quote
	if mixed(s) {
		q = strconv.QuoteToASCII
	}
	if len(s) <= maxQuoted {
		return q(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return q(s[:cut]) + "..."
}

// mixed reports whether s holds both ASCII letters or digits and non-ASCII
// characters.
func mixed(s string) bool {
	var ascii, other bool
	for _, r := range s {
		switch {
		case r >= utf8.RuneSelf:
			other = true
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			ascii = true
		}
	}
	return ascii && other
}
