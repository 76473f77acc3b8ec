package viz

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/cnngen/cnngen/runtime"
)

// The layout of a sheet, in pixels.
const (
	// TileTarget is the size that a tile's longer side is magnified
	// towards: each value becomes a square of TileTarget/max(W, H) pixels
	// (at least 1), so a 3×3 filter and an 8×8 image both come out 48
	// pixels wide.
	TileTarget = 48
	// Margin surrounds the whole sheet.
	Margin = 8
	// Gap separates the tiles of a grid.
	Gap = 4
	// TitleHeight is the height of a section's title line.
	TitleHeight = 16
	// SectionGap separates consecutive sections.
	SectionGap = 12
	// DefaultColumns is the number of tiles per row of a section that does
	// not set its own.
	DefaultColumns = 8
	// charWidth is the advance of the title font (basicfont.Face7x13).
	charWidth = 7
)

// Tile is a two-dimensional array of values drawn as a grayscale picture:
// Height rows of Width values, row-major. Each tile is scaled to its own
// range: its smallest value is black and its largest white. A constant tile
// is black, as matplotlib's imshow draws it (for example a feature map that
// ReLU zeroed everywhere).
type Tile struct {
	Width, Height int
	Values        []float32
}

// Scale is the number of pixels per value along each side of the tile.
func (t Tile) Scale() int { return max(1, TileTarget/max(t.Width, t.Height, 1)) }

// Section is a titled grid of tiles, filled row by row.
type Section struct {
	Title string
	Tiles []Tile
	// Columns is the number of tiles per row; 0 means DefaultColumns (or
	// fewer when there are fewer tiles).
	Columns int
}

// columns is the number of tiles in a full row.
func (s Section) columns() int {
	c := s.Columns
	if c <= 0 {
		c = DefaultColumns
	}
	return max(1, min(c, len(s.Tiles)))
}

// cell is the size in pixels of the largest tile of the section.
func (s Section) cell() (w, h int) {
	for _, t := range s.Tiles {
		w, h = max(w, t.Width*t.Scale()), max(h, t.Height*t.Scale())
	}
	return w, h
}

// Size is the section's size in pixels: its title line and its grid.
func (s Section) Size() (w, h int) {
	cw, ch := s.cell()
	cols := s.columns()
	rows := (len(s.Tiles) + cols - 1) / cols
	w = max(cols*cw+(cols-1)*Gap, len(s.Title)*charWidth)
	h = TitleHeight + rows*ch + max(rows-1, 0)*Gap
	return w, h
}

// Sheet draws the sections one under another on a white background, each
// with its title above its grid, and returns the picture. Its width is
// 2·Margin plus the widest section's; its height 2·Margin plus the
// sections' heights and a SectionGap between each two.
func Sheet(sections []Section) (*image.RGBA, error) {
	if len(sections) == 0 {
		return nil, errors.New("viz: a sheet needs at least one section")
	}
	width, height := 0, 2*Margin+(len(sections)-1)*SectionGap
	for _, s := range sections {
		if len(s.Tiles) == 0 {
			return nil, fmt.Errorf("viz: section %q has no tiles", s.Title)
		}
		for i, t := range s.Tiles {
			if t.Width < 1 || t.Height < 1 || len(t.Values) != t.Width*t.Height {
				return nil, fmt.Errorf("viz: section %q: tile %d is %dx%d with %d values", s.Title, i, t.Width, t.Height, len(t.Values))
			}
		}
		w, h := s.Size()
		width = max(width, w)
		height += h
	}
	width += 2 * Margin
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	y := Margin
	for _, s := range sections {
		drawSection(img, s, Margin, y)
		_, h := s.Size()
		y += h + SectionGap
	}
	return img, nil
}

// drawSection draws s with its top-left corner at (x0, y0).
func drawSection(img *image.RGBA, s Section, x0, y0 int) {
	d := font.Drawer{
		Dst:  img,
		Src:  image.Black,
		Face: basicfont.Face7x13,
		// The baseline, so that the 13-pixel-high glyphs fit the title line.
		Dot: fixed.P(x0, y0+basicfont.Face7x13.Ascent),
	}
	d.DrawString(s.Title)
	cw, ch := s.cell()
	cols := s.columns()
	for i, t := range s.Tiles {
		x := x0 + (i%cols)*(cw+Gap)
		y := y0 + TitleHeight + (i/cols)*(ch+Gap)
		drawTile(img, t, x, y)
	}
}

// drawTile draws t magnified by its scale with its top-left corner at (x0, y0).
func drawTile(img *image.RGBA, t Tile, x0, y0 int) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range t.Values {
		lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
	}
	s := t.Scale()
	for r := range t.Height {
		for c := range t.Width {
			g := uint8(0)
			if hi > lo {
				g = uint8(math.Round(255 * (float64(t.Values[r*t.Width+c]) - lo) / (hi - lo)))
			}
			px := image.Rect(x0+c*s, y0+r*s, x0+(c+1)*s, y0+(r+1)*s)
			draw.Draw(img, px, &image.Uniform{C: color.Gray{Y: g}}, image.Point{}, draw.Src)
		}
	}
}

// FilterSection returns a section showing the filters of a conv layer from
// its weight p (HWIO: [KH, KW, Cin, F]) as KH×KW tiles: for one input
// channel, the F filters in rows of DefaultColumns; for more, one row per
// filter holding its Cin channels.
func FilterSection(title string, p runtime.Param) (Section, error) {
	if len(p.Shape) != 4 || len(p.Value) != p.Size() {
		return Section{}, fmt.Errorf("viz: %s is not a conv weight [KH KW Cin F] (shape %s)", p.Name, p.ShapeString())
	}
	kh, kw, cin, f := p.Shape[0], p.Shape[1], p.Shape[2], p.Shape[3]
	s := Section{Title: title}
	if cin > 1 {
		s.Columns = cin
	}
	for o := range f {
		for c := range cin {
			t := Tile{Width: kw, Height: kh, Values: make([]float32, kh*kw)}
			for y := range kh {
				for x := range kw {
					t.Values[y*kw+x] = p.Value[((y*kw+x)*cin+c)*f+o]
				}
			}
			s.Tiles = append(s.Tiles, t)
		}
	}
	return s, nil
}

// MapSection returns a section showing an activation of the given shape (HWC
// values of one sample) as one H×W tile per channel.
func MapSection(title string, values []float32, shape runtime.Shape) (Section, error) {
	if len(values) != shape.Size() || shape.Size() == 0 {
		return Section{}, fmt.Errorf("viz: %s: %d values for shape %v", title, len(values), shape)
	}
	s := Section{Title: title}
	for c := range shape.Channels {
		t := Tile{Width: shape.Width, Height: shape.Height, Values: make([]float32, shape.Height*shape.Width)}
		for i := range t.Values {
			t.Values[i] = values[i*shape.Channels+c]
		}
		s.Tiles = append(s.Tiles, t)
	}
	return s, nil
}

// WritePNG encodes img as PNG into the file at path. It writes a temporary
// file in the same directory and renames it, so that path never holds a
// partial picture.
func WritePNG(path string, img image.Image) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		// Name the picture, not the temporary file.
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	// CreateTemp makes the file private; a picture is for everyone to read.
	err = f.Chmod(0o644)
	if err == nil {
		err = png.Encode(f, img)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
