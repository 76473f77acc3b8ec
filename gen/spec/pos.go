package spec

import "fmt"

// Pos is a position in a description file. Line and Col count from 1; a zero
// Pos means "no position" (for example, a layer the checker inserted).
type Pos struct {
	File      string
	Line, Col int
}

// IsValid reports whether the position points into a file.
func (p Pos) IsValid() bool { return p.Line > 0 }

// String formats the position as file:line:col (file alone when it has no
// line).
func (p Pos) String() string {
	if !p.IsValid() {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}
