package soak

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Chart is a line chart of series over time.
type Chart struct {
	Title  string // e.g. "OPEN FILES"
	YLabel string // unit, e.g. "MIB"
	Series []Series
	// Scale divides every value before it is drawn (e.g. 1024 for KiB → MiB); 0 is 1.
	Scale float64
}

// palette colours the series in order.
var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xd6, 0x27, 0x28, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
	{0xff, 0x7f, 0x0e, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
}

const (
	chartW, chartH                     = 960, 420
	marginL, marginR, marginT, marginB = 80, 20, 40, 44
	fontScale                          = 2
)

// WritePNG draws the chart. The y axis starts at zero, so a flat line looks flat and
// growth is not exaggerated; x is seconds, or minutes past ten minutes.
func (c Chart) WritePNG(w io.Writer) error {
	img := image.NewRGBA(image.Rect(0, 0, chartW, chartH))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	black, grey := color.RGBA{0, 0, 0, 0xff}, color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	scale := c.Scale
	if scale == 0 {
		scale = 1
	}
	var maxX, maxY float64
	for _, s := range c.Series {
		for _, p := range s.Points {
			maxX = math.Max(maxX, p[0])
			maxY = math.Max(maxY, p[1]/scale)
		}
	}
	if maxX == 0 {
		maxX = 1
	}
	yTop := niceCeil(maxY * 1.1)
	x0, y0, x1, y1 := marginL, chartH-marginB, chartW-marginR, marginT
	px := func(x float64) int { return x0 + int(math.Round(x/maxX*float64(x1-x0))) }
	py := func(y float64) int { return y0 - int(math.Round(y/yTop*float64(y0-y1))) }

	// Grid and y labels.
	for i := 0; i <= 5; i++ {
		v := yTop * float64(i) / 5
		y := py(v)
		line(img, x0, y, x1, y, grey, 1)
		label := formatNumber(v)
		drawText(img, x0-8-textWidth(label, fontScale), y-5, label, fontScale, black)
	}
	// x labels.
	minutes := maxX > 600
	for i := 0; i <= 6; i++ {
		v := maxX * float64(i) / 6
		label := strconv.FormatFloat(v, 'f', 0, 64)
		if minutes {
			label = strconv.FormatFloat(v/60, 'f', 1, 64)
		}
		x := px(v)
		line(img, x, y0, x, y0+4, black, 1)
		drawText(img, x-textWidth(label, fontScale)/2, y0+8, label, fontScale, black)
	}
	unit := "TIME (S)"
	if minutes {
		unit = "TIME (MIN)"
	}
	drawText(img, (x0+x1-textWidth(unit, fontScale))/2, y0+26, unit, fontScale, black)
	line(img, x0, y0, x1, y0, black, 1)
	line(img, x0, y0, x0, y1, black, 1)
	title := c.Title
	if c.YLabel != "" {
		title += " (" + c.YLabel + ")"
	}
	drawText(img, x0, 12, title, fontScale+1, black)

	for i, s := range c.Series {
		col := palette[i%len(palette)]
		gap := gapOf(s.Points)
		for j := 1; j < len(s.Points); j++ {
			a, b := s.Points[j-1], s.Points[j]
			if b[0]-a[0] > gap {
				continue // no samples in between (a killed process): no line across
			}
			line(img, px(a[0]), py(a[1]/scale), px(b[0]), py(b[1]/scale), col, 2)
		}
		// Legend, top right, one row per series.
		lx, ly := x1-170, y1+8+i*16
		for dy := range 10 {
			for dx := range 20 {
				img.Set(lx+dx, ly+dy, col)
			}
		}
		drawText(img, lx+28, ly, s.Name, fontScale, black)
	}
	return png.Encode(w, img)
}

// gapOf is the distance between two points beyond which a series has a hole: two and a
// half times its median step.
func gapOf(points [][2]float64) float64 {
	if len(points) < 3 {
		return math.Inf(1)
	}
	steps := make([]float64, 0, len(points)-1)
	for j := 1; j < len(points); j++ {
		steps = append(steps, points[j][0]-points[j-1][0])
	}
	sort.Float64s(steps)
	return 2.5 * steps[len(steps)/2]
}

// line draws from (xa, ya) to (xb, yb), width pixels thick (Bresenham).
func line(img *image.RGBA, xa, ya, xb, yb int, c color.Color, width int) {
	dx, dy := abs(xb-xa), -abs(yb-ya)
	sx, sy := sign(xb-xa), sign(yb-ya)
	e := dx + dy
	for {
		for w := range width {
			img.Set(xa, ya+w, c)
			img.Set(xa+w, ya, c)
		}
		if xa == xb && ya == yb {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			xa += sx
		}
		if e2 <= dx {
			e += dx
			ya += sy
		}
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (at least 1).
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// formatNumber writes v short: 950, 1.5K, 12M.
func formatNumber(v float64) string {
	switch {
	case v >= 1e6:
		return trim(fmt.Sprintf("%.1f", v/1e6)) + "M"
	case v >= 1e4:
		return trim(fmt.Sprintf("%.1f", v/1e3)) + "K"
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return trim(fmt.Sprintf("%.2f", v))
}

func trim(s string) string {
	for len(s) > 1 && (s[len(s)-1] == '0' && strings.Contains(s, ".") || s[len(s)-1] == '.') {
		s = s[:len(s)-1]
	}
	return s
}
