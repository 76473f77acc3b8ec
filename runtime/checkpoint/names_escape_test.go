package checkpoint

import (
	"strings"
	"testing"

	"github.com/cnngen/cnngen/runtime/checkpoint/safetensors"
)

// TestNamesEscaped: tensor names and metadata from a file reach messages
// escaped (no terminal escapes, bidi overrides or look-alike letters) and
// bounded in length.
func TestNamesEscaped(t *testing.T) {
	evil := "\x1b[31mconv1\u202e.weight"
	long := strings.Repeat("x", 1<<20)
	for _, err := range []error{
		&NamesError{Network: "digits", Unknown: []string{evil + long}, Expected: []string{"conv1.weight"}},
		&NamesError{Network: "digits", Unknown: []string{evil, "\u0441onv1.weight", long}, Expected: []string{"conv1.weight"}},
	} {
		msg := err.Error()
		if strings.ContainsAny(msg, "\x1b\u202e\u0441") || len(msg) > 1000 {
			t.Errorf("unescaped or long: %.500q", msg)
		}
		if !strings.Contains(msg, `"\x1b[31mconv1\u202e.weight`) {
			t.Errorf("the name is not quoted: %.500q", msg)
		}
	}
	_, err := safetensors.ParseHeader([]byte(`{"\u001b[2J` + long + `":{"shape":[1],"data_offsets":[0,4]}}`))
	if err == nil || strings.Contains(err.Error(), "\x1b") || len(err.Error()) > 1000 || !strings.Contains(err.Error(), "…(1048580 bytes) has no dtype") {
		t.Errorf("ParseHeader: %.500q", err)
	}
	_, err = safetensors.ParseHeader([]byte(`{"__metadata__":{"a":1,"b":"\u001b[2J` + long + `"}}`))
	if err == nil || strings.Contains(err.Error(), "\x1b") || len(err.Error()) > 1000 {
		t.Errorf("ParseHeader metadata: %.500q", err)
	}
}
