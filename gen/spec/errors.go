package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a description: where it is, which layer or section
// it concerns, and what is wrong.
type Error struct {
	Pos Pos
	// Where names the layer (conv1, or "layer 3" when the layer has no valid
	// name) or the section (input, train.optimizer) the error is about; empty
	// for errors about the file as a whole.
	Where string
	Msg   string
}

// Error formats the error as file:line:col: where: message. The column is
// left out when it is unknown (YAML syntax errors give only a line).
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.File)
	switch {
	case e.Pos.Line > 0 && e.Pos.Col > 0:
		fmt.Fprintf(&b, ":%d:%d", e.Pos.Line, e.Pos.Col)
	case e.Pos.Line > 0:
		fmt.Fprintf(&b, ":%d", e.Pos.Line)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Where != "" {
		b.WriteString(e.Where)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// MaxReported is how many errors [ErrorList.Error] prints before summing up
// the rest as "and N more errors".
const MaxReported = 10

// ErrorList is every error found in one description, in position order once
// [ErrorList.Sort] (or [ErrorList.Err]) has run. Parsing and checking report
// all the errors of a file at once rather than stopping at the first.
type ErrorList []*Error

// Add appends an error at pos about where.
func (l *ErrorList) Add(pos Pos, where, format string, args ...any) {
	*l = append(*l, &Error{Pos: pos, Where: where, Msg: fmt.Sprintf(format, args...)})
}

// Sort orders the errors by file, line and column, keeping the order in
// which they were found for errors at the same position.
func (l ErrorList) Sort() {
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
		)
	})
}

// Err returns nil when the list is empty and the sorted list otherwise.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}

// Error prints the first [MaxReported] errors, one a line, then how many
// more there are.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	for i, e := range l {
		if i == MaxReported {
			n := len(l) - MaxReported
			fmt.Fprintf(&b, "\nand %d more error%s", n, plural(n))
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
