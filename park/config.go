package park

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
)

// Defaults and limits of the Call Park settings, as in Lync Server 2013's
// CsCpsConfiguration (CallPickupTimeoutThreshold, MaxCallPickupAttempts).
const (
	DefaultPickupTimeout     = 90 * time.Second
	MinPickupTimeout         = 10 * time.Second
	MaxPickupTimeout         = 10 * time.Minute
	DefaultMaxPickupAttempts = 1
	MaxMaxPickupAttempts     = 10
)

// Config is one pool's Call Park settings. The zero value of every field
// means its default, so a config file only names what it changes.
type Config struct {
	Orbits        []parkwire.Range `json:"orbits"`
	PickupTimeout time.Duration    `json:"pickupTimeout"`
	// DisableMusicOnHold turns music on hold off (Lync: EnableMusicOnHold
	// $false); parked parties then hear silence, still as paced RTP so
	// their media timers stay happy.
	DisableMusicOnHold bool `json:"disableMusicOnHold"`
	// MusicFile is the pool's audio: a path to an 8 kHz mono WAV (16-bit PCM
	// or µ-law) or raw µ-law (.ul) file, or one of the built-in melodies
	// "builtin:pool-a" (440/660 Hz) and "builtin:pool-b" (1000/1200 Hz).
	// Empty means builtin:pool-a.
	MusicFile         string `json:"musicFile"`
	MaxPickupAttempts int    `json:"maxPickupAttempts"`
	OnTimeoutURI      string `json:"onTimeoutURI"`
	// Survivable (YAML park.survivable, issue #10, beyond Lync, off by default)
	// lets a gateway re-park here a call whose park pool died: an INVITE to
	// sip:park@ carrying parkwire.ParkedSinceHeader keeps the original park
	// time (the pickup timeout counts from it) and, in Referred-By, the
	// original parker. Off, such an INVITE is refused (ErrRepark) and the
	// gateway hangs the call up as the seed does.
	Survivable bool `json:"survivable"`
}

// FieldError is a configuration error naming the field and its value.
type FieldError struct {
	Field string
	Value any
	Msg   string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("park config: %s = %v: %s", e.Field, e.Value, e.Msg)
}

// Validate checks the settings against Lync's rules; errors are
// *FieldError naming the field and the value.
func (c Config) Validate() error {
	if len(c.Orbits) == 0 {
		return &FieldError{"orbits", "[]", "at least one orbit range is required"}
	}
	for i, r := range c.Orbits {
		f := fmt.Sprintf("orbits[%d]", i)
		if err := validateRange(r, f); err != nil {
			return err
		}
		for j := 0; j < i; j++ {
			if c.Orbits[j].Overlaps(r) {
				return &FieldError{f, r.Start + "-" + r.End, fmt.Sprintf("overlaps orbits[%d]", j)}
			}
		}
	}
	if c.PickupTimeout != 0 && (c.PickupTimeout < MinPickupTimeout || c.PickupTimeout > MaxPickupTimeout) {
		return &FieldError{"pickupTimeout", c.PickupTimeout, fmt.Sprintf("must be between %v and %v", MinPickupTimeout, MaxPickupTimeout)}
	}
	if c.MaxPickupAttempts < 0 || c.MaxPickupAttempts > MaxMaxPickupAttempts {
		return &FieldError{"maxPickupAttempts", c.MaxPickupAttempts, fmt.Sprintf("must be between 1 and %d", MaxMaxPickupAttempts)}
	}
	if c.OnTimeoutURI != "" {
		var u sip.Uri
		if !strings.HasPrefix(c.OnTimeoutURI, "sip:") && !strings.HasPrefix(c.OnTimeoutURI, "sips:") {
			return &FieldError{"onTimeoutURI", c.OnTimeoutURI, "must be a sip: URI"}
		}
		if err := sip.ParseUri(c.OnTimeoutURI, &u); err != nil || u.Host == "" {
			return &FieldError{"onTimeoutURI", c.OnTimeoutURI, "is not a valid SIP URI"}
		}
	}
	if c.MusicFile != "" && strings.HasPrefix(c.MusicFile, builtinPrefix) {
		if _, ok := builtinMusic[strings.TrimPrefix(c.MusicFile, builtinPrefix)]; !ok {
			return &FieldError{"musicFile", c.MusicFile, "unknown built-in music"}
		}
	}
	return nil
}

// withDefaults returns a copy with zero values replaced by defaults; it
// never touches the caller's slices.
func (c Config) withDefaults() Config {
	c.Orbits = append([]parkwire.Range(nil), c.Orbits...)
	if c.PickupTimeout == 0 {
		c.PickupTimeout = DefaultPickupTimeout
	}
	if c.MaxPickupAttempts == 0 {
		c.MaxPickupAttempts = DefaultMaxPickupAttempts
	}
	if c.MusicFile == "" {
		c.MusicFile = builtinPrefix + "pool-a"
	}
	return c
}

// validateRange applies CsCallParkOrbit's rules (parkwire.Range.Check),
// naming the end at fault when one is not an orbit number.
func validateRange(r parkwire.Range, field string) error {
	switch err := r.Check(); {
	case err == nil:
		return nil
	case errors.Is(err, parkwire.ErrRangeStart):
		return &FieldError{field + ".start", r.Start, "must match " + parkwire.OrbitRule}
	case errors.Is(err, parkwire.ErrRangeEnd):
		return &FieldError{field + ".end", r.End, "must match " + parkwire.OrbitRule}
	default:
		return &FieldError{field, r.Start + "-" + r.End, err.Error()}
	}
}

// firstFree returns the lowest orbit of r for which taken is
// false, walking at most len(taken-set)+1 numbers, so huge ranges cost nothing.
func firstFree(r parkwire.Range, taken func(string) bool) (string, bool) {
	p := parkwire.OrbitPrefix(r.Start)
	digits := len(r.Start) - len(p)
	start, err1 := strconv.ParseUint(r.Start[len(p):], 10, 64)
	end, err2 := strconv.ParseUint(r.End[len(p):], 10, 64)
	if err1 != nil || err2 != nil {
		return "", false
	}
	for n := start; n <= end; n++ {
		o := fmt.Sprintf("%s%0*d", p, digits, n)
		if !taken(o) {
			return o, true
		}
	}
	return "", false
}
