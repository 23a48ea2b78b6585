package soak

import (
	"image"
	"image/color"
	"strings"
)

// glyphs is a 3×5 pixel font: five rows of three pixels per character, enough for
// chart titles, legends and axis numbers (text is drawn upper-case).
var glyphs = map[rune]string{
	'0': "111101101101111", '1': "010110010010111", '2': "111001111100111", '3': "111001111001111",
	'4': "101101111001001", '5': "111100111001111", '6': "111100111101111", '7': "111001010010010",
	'8': "111101111101111", '9': "111101111001111",
	'A': "010101111101101", 'B': "110101110101110", 'C': "011100100100011", 'D': "110101101101110",
	'E': "111100110100111", 'F': "111100110100100", 'G': "011100101101011", 'H': "101101111101101",
	'I': "111010010010111", 'J': "001001001101010", 'K': "101101110101101", 'L': "100100100100111",
	'M': "101111111101101", 'N': "110101101101101", 'O': "010101101101010", 'P': "110101110100100",
	'Q': "010101101110011", 'R': "110101110101101", 'S': "011100010001110", 'T': "111010010010010",
	'U': "101101101101111", 'V': "101101101101010", 'W': "101101111111101", 'X': "101101010101101",
	'Y': "101101010010010", 'Z': "111001010100111",
	' ': "000000000000000", '.': "000000000000010", '-': "000000111000000", ':': "000010000010000",
	'/': "001001010100100", '(': "010100100100010", ')': "010001001001010", '%': "101001010100101",
	',': "000000000010100", '_': "000000000000111", '=': "000111000111000", '+': "000010111010000",
}

// textWidth is how many pixels text takes at scale.
func textWidth(text string, scale int) int {
	n := len([]rune(text))
	if n == 0 {
		return 0
	}
	return (n*4 - 1) * scale
}

// drawText draws text with its top-left corner at (x, y), each font pixel scale×scale.
// Characters the font lacks are drawn as a box, never silently dropped.
func drawText(img *image.RGBA, x, y int, text string, scale int, c color.Color) {
	for i, r := range strings.ToUpper(text) {
		g, ok := glyphs[r]
		if !ok {
			g = "111101101101111"
		}
		for row := range 5 {
			for col := range 3 {
				if g[row*3+col] != '1' {
					continue
				}
				for dy := range scale {
					for dx := range scale {
						img.Set(x+(i*4+col)*scale+dx, y+row*scale+dy, c)
					}
				}
			}
		}
	}
}
