package park

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
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

// Range is an orbit range, as CsCallParkOrbit's NumberRangeStart/End.
type Range struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// Config is one pool's Call Park settings. The zero value of every field
// means its default, so a config file only names what it changes.
type Config struct {
	Orbits        []Range       `json:"orbits"`
	PickupTimeout time.Duration `json:"pickupTimeout"`
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
}

// orbitRule is Lync's number pattern for orbits: an optional * or # prefix
// and up to 8 digits, or up to 9 digits, never starting with 0.
var orbitRule = regexp.MustCompile(`^(?:[*#]?[1-9][0-9]{0,7}|[1-9][0-9]{0,8})$`)

// ValidOrbit reports whether s is a well-formed orbit number.
func ValidOrbit(s string) bool { return orbitRule.MatchString(s) }

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
		if err := r.validate(f); err != nil {
			return err
		}
		for j := 0; j < i; j++ {
			if c.Orbits[j].overlaps(r) {
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
	c.Orbits = append([]Range(nil), c.Orbits...)
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

// validate applies CsCallParkOrbit's rules: both ends valid numbers of the
// same length with the same * or # prefix, start not after end.
func (r Range) validate(field string) error {
	if !ValidOrbit(r.Start) {
		return &FieldError{field + ".start", r.Start, `must match ([*#]?[1-9]\d{0,7})|([1-9]\d{0,8})`}
	}
	if !ValidOrbit(r.End) {
		return &FieldError{field + ".end", r.End, `must match ([*#]?[1-9]\d{0,7})|([1-9]\d{0,8})`}
	}
	if len(r.Start) != len(r.End) {
		return &FieldError{field, r.Start + "-" + r.End, "start and end must have the same length"}
	}
	if prefix(r.Start) != prefix(r.End) {
		return &FieldError{field, r.Start + "-" + r.End, "start and end must have the same prefix"}
	}
	if r.Start > r.End { // same length and prefix: string order is numeric order
		return &FieldError{field, r.Start + "-" + r.End, "start is greater than end"}
	}
	return nil
}

func prefix(s string) string {
	if s != "" && (s[0] == '*' || s[0] == '#') {
		return s[:1]
	}
	return ""
}

// Contains reports whether orbit lies in the range.
func (r Range) Contains(orbit string) bool {
	return ValidOrbit(orbit) && len(orbit) == len(r.Start) && prefix(orbit) == prefix(r.Start) &&
		orbit >= r.Start && orbit <= r.End
}

func (r Range) overlaps(o Range) bool {
	return len(r.Start) == len(o.Start) && prefix(r.Start) == prefix(o.Start) &&
		r.Start <= o.End && o.Start <= r.End
}

// firstFree returns the lowest orbit of the range for which taken is
// false, walking at most len(taken-set)+1 numbers, so huge ranges cost nothing.
func (r Range) firstFree(taken func(string) bool) (string, bool) {
	p := prefix(r.Start)
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
