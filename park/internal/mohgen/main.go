// Command mohgen writes the park service's built-in music on hold: small
// two-note melodies as raw 8 kHz µ-law, generated rather than downloaded so
// the repository owns every byte. Each pool's melody uses its own pair of
// frequencies so a listener (or a Goertzel filter in a test) can tell which
// pool a call is parked on:
//
//	pool-a.ul: 440 Hz and 660 Hz, alternating every 500 ms
//	pool-b.ul: 1000 Hz and 1200 Hz, alternating every 500 ms
//
// Run by `go generate ./park/`.
package main

import (
	"flag"
	"log"
	"math"
	"os"
	"path/filepath"

	"github.com/parkway/parkway/media/g711"
)

const (
	rate      = 8000
	noteLen   = rate / 2 // 500 ms
	fadeLen   = 80       // 10 ms ramps, so note changes do not click
	amplitude = 9000     // about -11 dBFS: loud enough, no clipping
)

func melody(freqs ...float64) []byte {
	var out []byte
	for rep := 0; rep < 2; rep++ { // 4 notes of 500 ms: a 2 s loop
		for _, f := range freqs {
			for i := 0; i < noteLen; i++ {
				gain := 1.0
				if i < fadeLen {
					gain = float64(i) / fadeLen
				} else if noteLen-i < fadeLen {
					gain = float64(noteLen-i) / fadeLen
				}
				s := gain * amplitude * math.Sin(2*math.Pi*f*float64(i)/rate)
				out = append(out, g711.EncodeUlaw(int16(s)))
			}
		}
	}
	return out
}

func main() {
	dir := flag.String("dir", "music", "output directory")
	flag.Parse()
	files := map[string][]float64{
		"pool-a.ul": {440, 660},
		"pool-b.ul": {1000, 1200},
	}
	for name, f := range files {
		if err := os.WriteFile(filepath.Join(*dir, name), melody(f...), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
