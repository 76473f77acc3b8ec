package datasets

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// IDX magic numbers: two zero bytes, the element type (0x08: unsigned byte)
// and the number of dimensions (3 for images, 1 for labels).
const (
	idxImagesMagic = 0x00000803 // 2051
	idxLabelsMagic = 0x00000801 // 2049
)

// maxIDXBytes bounds the payload a header may announce, so that a corrupt
// count is reported instead of attempting a huge allocation. MNIST's
// training images are 47,040,000 bytes.
const maxIDXBytes = 1 << 28

// IDXImages is the content of an IDX image file: Count images of Rows×Cols
// unsigned bytes each, row-major, one after the other in Pixels.
type IDXImages struct {
	Count, Rows, Cols int
	Pixels            []byte
}

// Image returns image i's Rows·Cols pixels; the slice aliases Pixels.
func (m *IDXImages) Image(i int) []byte {
	n := m.Rows * m.Cols
	return m.Pixels[i*n : (i+1)*n : (i+1)*n]
}

// ReadIDXImages reads an IDX image file (magic 2051: unsigned bytes in 3
// dimensions), gzip-compressed or not (detected from its first bytes). The
// header is big-endian: the magic, the image count, the rows and the
// columns, each an int32; the pixels follow. A wrong magic, a zero or
// negative dimension, a truncated file or bytes after the last image is an
// error that starts with name.
func ReadIDXImages(r io.Reader, name string) (*IDXImages, error) {
	dims, payload, err := readIDX(r, name, idxImagesMagic, "images", "image count", "rows", "columns")
	if err != nil {
		return nil, err
	}
	return &IDXImages{Count: dims[0], Rows: dims[1], Cols: dims[2], Pixels: payload}, nil
}

// ReadIDXLabels reads an IDX label file (magic 2049: unsigned bytes in 1
// dimension), gzip-compressed or not, and returns its labels. The header is
// big-endian: the magic and the label count, each an int32; one byte per
// label follows. Errors are as for [ReadIDXImages].
func ReadIDXLabels(r io.Reader, name string) ([]byte, error) {
	_, payload, err := readIDX(r, name, idxLabelsMagic, "labels", "label count")
	return payload, err
}

// readIDX reads an IDX file of unsigned bytes whose magic must be want, with
// one header int32 per dimension named in dimNames, and returns the
// dimensions and the payload. kind names the file's content in errors.
func readIDX(r io.Reader, name string, want uint32, kind string, dimNames ...string) ([]int, []byte, error) {
	br := bufio.NewReader(r)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", name, err)
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}

	// The magic number comes first, so that a file of the other kind is
	// reported as such even when it is shorter than the expected header.
	header := make([]byte, 4*(1+len(dimNames)))
	if n, err := io.ReadFull(r, header[:4]); err != nil {
		return nil, nil, fmt.Errorf("%s: truncated header: %d of %d bytes (%v)", name, n, len(header), readErr(err))
	}
	if magic := binary.BigEndian.Uint32(header); magic != want {
		return nil, nil, fmt.Errorf("%s: magic number %d (%#08x), want %d (%#08x) for an IDX file of %s",
			name, magic, magic, want, want, kind)
	}
	if n, err := io.ReadFull(r, header[4:]); err != nil {
		return nil, nil, fmt.Errorf("%s: truncated header: %d of %d bytes (%v)", name, 4+n, len(header), readErr(err))
	}
	dims := make([]int, len(dimNames))
	size := 1
	for i, dimName := range dimNames {
		v := int32(binary.BigEndian.Uint32(header[4*(i+1):]))
		if v <= 0 {
			return nil, nil, fmt.Errorf("%s: %s is %d, want at least 1", name, dimName, v)
		}
		dims[i] = int(v)
		if size > maxIDXBytes/dims[i] {
			return nil, nil, fmt.Errorf("%s: the header's dimensions %v announce more than %d bytes", name, dims[:i+1], maxIDXBytes)
		}
		size *= dims[i]
	}
	payload := make([]byte, size)
	if n, err := io.ReadFull(r, payload); err != nil {
		return nil, nil, fmt.Errorf("%s: truncated: %d of the %d bytes of %s that the header announces (%v)",
			name, n, size, kind, readErr(err))
	}
	var extra [1]byte
	switch n, err := io.ReadFull(r, extra[:]); {
	case n > 0:
		return nil, nil, fmt.Errorf("%s: bytes after the %d bytes of %s that the header announces", name, size, kind)
	case errors.Is(err, io.ErrUnexpectedEOF):
		// Only a compressed stream can end early here: its end marker
		// and checksum are missing.
		return nil, nil, fmt.Errorf("%s: truncated: the compressed data ends before its end marker", name)
	case err != nil && err != io.EOF:
		return nil, nil, fmt.Errorf("%s: %v", name, err)
	}
	return dims, payload, nil
}

// readErr describes why io.ReadFull stopped: an early end of the data
// rather than Go's "unexpected EOF", or the underlying (e.g. gzip) error.
func readErr(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the data ends early"
	}
	return err.Error()
}
