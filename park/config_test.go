package park

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/media/g711"
	"github.com/parkway/parkway/park/parkwire"
)

func TestValidate(t *testing.T) {
	base := func() Config { return Config{Orbits: []parkwire.Range{{Start: "7000", End: "7099"}}} }
	if err := base().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		mod   func(*Config)
		field string
	}{
		{"no orbits", func(c *Config) { c.Orbits = nil }, "orbits"},
		{"bad start", func(c *Config) { c.Orbits[0].Start = "0700" }, "orbits[0].start"},
		{"bad end", func(c *Config) { c.Orbits[0].End = "x" }, "orbits[0].end"},
		{"length", func(c *Config) { c.Orbits[0].End = "70999" }, "orbits[0]"},
		{"prefix", func(c *Config) { c.Orbits = []parkwire.Range{{Start: "*700", End: "#799"}} }, "orbits[0]"},
		{"reversed", func(c *Config) { c.Orbits[0] = parkwire.Range{Start: "7099", End: "7000"} }, "orbits[0]"},
		{"overlap", func(c *Config) { c.Orbits = append(c.Orbits, parkwire.Range{Start: "7050", End: "7150"}) }, "orbits[1]"},
		{"timeout low", func(c *Config) { c.PickupTimeout = 9 * time.Second }, "pickupTimeout"},
		{"timeout high", func(c *Config) { c.PickupTimeout = 11 * time.Minute }, "pickupTimeout"},
		{"attempts", func(c *Config) { c.MaxPickupAttempts = 11 }, "maxPickupAttempts"},
		{"attempts negative", func(c *Config) { c.MaxPickupAttempts = -1 }, "maxPickupAttempts"},
		{"uri scheme", func(c *Config) { c.OnTimeoutURI = "tel:+1555" }, "onTimeoutURI"},
		{"builtin", func(c *Config) { c.MusicFile = "builtin:pool-z" }, "musicFile"},
	} {
		c := base()
		tc.mod(&c)
		err := c.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: err = %v, want a FieldError on %s", tc.name, err, tc.field)
			continue
		}
		if !strings.Contains(err.Error(), fe.Field) {
			t.Errorf("%s: message %q does not name the field", tc.name, err)
		}
	}
	ok := base()
	ok.PickupTimeout, ok.MaxPickupAttempts, ok.OnTimeoutURI = 10*time.Second, 10, "sip:operator@example.test"
	ok.Orbits = append(ok.Orbits, parkwire.Range{Start: "*100", End: "*199"}, parkwire.Range{Start: "8000", End: "8099"})
	if err := ok.Validate(); err != nil {
		t.Errorf("limits rejected: %v", err)
	}
}

func TestRangeFirstFree(t *testing.T) {
	r := parkwire.Range{Start: "*0998", End: "*1001"}
	if parkwire.ValidOrbit(r.Start) {
		t.Fatal("test range should start with an invalid number")
	}
	r = parkwire.Range{Start: "*998", End: "*999"}
	taken := map[string]bool{"*998": true}
	if o, ok := firstFree(r, func(s string) bool { return taken[s] }); !ok || o != "*999" {
		t.Errorf("firstFree = %q %v", o, ok)
	}
	taken["*999"] = true
	if _, ok := firstFree(r, func(s string) bool { return taken[s] }); ok {
		t.Error("full range has a free orbit")
	}
	// A 9-digit range is not enumerated up front.
	big := parkwire.Range{Start: "100000000", End: "999999999"}
	if o, ok := firstFree(big, func(string) bool { return false }); !ok || o != "100000000" {
		t.Errorf("big range: %q", o)
	}
}

func wav(format, bits uint16, rate uint32, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+len(data)))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, binary.LittleEndian, uint32(16))
	binary.Write(&b, binary.LittleEndian, format)
	binary.Write(&b, binary.LittleEndian, uint16(1))
	binary.Write(&b, binary.LittleEndian, rate)
	binary.Write(&b, binary.LittleEndian, rate*uint32(bits/8))
	binary.Write(&b, binary.LittleEndian, bits/8)
	binary.Write(&b, binary.LittleEndian, bits)
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

func TestParseWAV(t *testing.T) {
	pcm := make([]byte, 640) // 320 samples of a ramp
	for i := 0; i < 320; i++ {
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(int16(i*50)))
	}
	ul, err := parseWAV(wav(1, 16, 8000, pcm))
	if err != nil || len(ul) != 320 || ul[100] != g711.EncodeUlaw(5000) {
		t.Fatalf("PCM16: %v len %d", err, len(ul))
	}
	raw := bytes.Repeat([]byte{0x55}, 200)
	if ul, err := parseWAV(wav(7, 8, 8000, raw)); err != nil || !bytes.Equal(ul, raw) {
		t.Fatalf("µ-law: %v", err)
	}
	if _, err := parseWAV(wav(1, 16, 44100, pcm)); err == nil {
		t.Error("44.1 kHz accepted")
	}
	if _, err := parseWAV([]byte("RIFF....WAVEdata\xff\xff\xff\x7f")); err == nil {
		t.Error("overrunning chunk accepted")
	}
}

func FuzzValidOrbit(f *testing.F) {
	f.Add("7000")
	f.Add("*12345678")
	f.Fuzz(func(t *testing.T, s string) {
		if !parkwire.ValidOrbit(s) {
			return
		}
		r := parkwire.Range{Start: s, End: s}
		if validateRange(r, "x") != nil || !r.Contains(s) {
			t.Fatalf("valid orbit %q is not a valid one-orbit range", s)
		}
	})
}

func FuzzConfigValidate(f *testing.F) {
	f.Add("7000", "7099", "*100", "*199", int64(90e9), 1, "sip:op@x")
	f.Fuzz(func(t *testing.T, s1, e1, s2, e2 string, timeout int64, attempts int, uri string) {
		c := Config{Orbits: []parkwire.Range{{Start: s1, End: e1}, {Start: s2, End: e2}}, PickupTimeout: time.Duration(timeout),
			MaxPickupAttempts: attempts, OnTimeoutURI: uri}
		if c.Validate() != nil {
			return
		}
		// Anything valid must be usable: orbits allocatable, defaults sane.
		d := c.withDefaults()
		if d.PickupTimeout < MinPickupTimeout || d.MaxPickupAttempts < 1 {
			t.Fatalf("defaults %+v", d)
		}
		for _, r := range c.Orbits {
			o, ok := firstFree(r, func(string) bool { return false })
			if !ok || !r.Contains(o) {
				t.Fatalf("range %+v yields %q", r, o)
			}
		}
	})
}

func FuzzParseWAV(f *testing.F) {
	f.Add(wav(1, 16, 8000, make([]byte, 400)))
	f.Add(wav(7, 8, 8000, make([]byte, 200)))
	f.Fuzz(func(t *testing.T, b []byte) {
		ul, err := parseWAV(b)
		if err == nil && len(ul) < 160 {
			t.Fatalf("accepted %d samples", len(ul))
		}
	})
}
