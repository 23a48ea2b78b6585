package pool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The YAML form of Config, parsed strictly: an unknown or misspelt field is an error, so a
// typo cannot silently fall back to a default. Example (configs/pool-a.yaml):
//
//	name: pool-a
//	listen: 127.0.0.1:5070
//	users:
//	  - {name: alice, password: alice-demo}
//	peer: {name: pool-b, addr: 127.0.0.1:5080, orbits: ["8000-8099"]}
//	park:
//	  orbits: ["7000-7099"]
//	  pickupTimeout: 90s
//	  musicOnHold: true
//	  musicFile: builtin:pool-a    # or a path to an 8 kHz WAV/µ-law file, relative to the config
//	  maxPickupAttempts: 1
//	  onTimeoutURI: ""
//	digestAlgorithms: [SHA-256, MD5]   # optional; this order is the default
//	authenticateCalls: false           # optional; true demands 407 digest on calls from our users
type fileConfig struct {
	Name       string     `yaml:"name"`
	Domain     string     `yaml:"domain"`
	Listen     string     `yaml:"listen"`
	ParkListen string     `yaml:"parkListen"`
	Users      []fileUser `yaml:"users"`
	Peer       *filePeer  `yaml:"peer"`
	Park       filePark   `yaml:"park"`
	Digest     []string   `yaml:"digestAlgorithms"`
	AuthCalls  bool       `yaml:"authenticateCalls"`
}

type fileUser struct {
	Name     string `yaml:"name"`
	Password string `yaml:"password"`
}

type filePeer struct {
	Name   string   `yaml:"name"`
	Addr   string   `yaml:"addr"`
	Orbits []string `yaml:"orbits"`
}

type filePark struct {
	Orbits            []string `yaml:"orbits"`
	PickupTimeout     string   `yaml:"pickupTimeout"`
	MusicOnHold       *bool    `yaml:"musicOnHold"`
	MusicFile         string   `yaml:"musicFile"`
	MaxPickupAttempts int      `yaml:"maxPickupAttempts"`
	OnTimeoutURI      string   `yaml:"onTimeoutURI"`
}

// maxConfigSize bounds what ParseConfig reads; a pool config is a few hundred bytes.
const maxConfigSize = 1 << 20

// ParseConfig parses a pool's YAML config and validates it. Relative file paths in it
// (musicFile) are taken relative to dir, the config file's directory. Errors name the
// field and the value.
func ParseConfig(data []byte, dir string) (Config, error) {
	if len(data) > maxConfigSize {
		return Config{}, fmt.Errorf("config: %d bytes exceeds %d", len(data), maxConfigSize)
	}
	var f fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, errors.New("config: empty")
		}
		return Config{}, fmt.Errorf("config: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("config: more than one YAML document")
	}
	cfg := Config{
		Name:              f.Name,
		Domain:            f.Domain,
		Listen:            f.Listen,
		ParkListen:        f.ParkListen,
		DigestAlgorithms:  f.Digest,
		AuthenticateCalls: f.AuthCalls,
	}
	var errs []error
	for _, u := range f.Users {
		cfg.Users = append(cfg.Users, User(u))
	}
	parseRanges := func(field string, in []string) []Range {
		var out []Range
		for i, s := range in {
			start, end, ok := strings.Cut(strings.TrimSpace(s), "-")
			if !ok {
				end = start // a single orbit
			}
			r := Range{Start: strings.TrimSpace(start), End: strings.TrimSpace(end)}
			if err := r.Check(); err != nil {
				errs = append(errs, &FieldError{Field: fmt.Sprintf("%s[%d]", field, i), Value: fmt.Sprintf("%q", s), Err: err})
			}
			out = append(out, r)
		}
		return out
	}
	if f.Peer != nil {
		cfg.Peer = &Peer{Name: f.Peer.Name, Addr: f.Peer.Addr, Orbits: parseRanges("peer.orbits", f.Peer.Orbits)}
	}
	pc := ParkConfig{
		Orbits:            parseRanges("park.orbits", f.Park.Orbits),
		MusicFile:         f.Park.MusicFile,
		MaxPickupAttempts: f.Park.MaxPickupAttempts,
		OnTimeoutURI:      f.Park.OnTimeoutURI,
	}
	if f.Park.MusicOnHold != nil {
		pc.DisableMusicOnHold = !*f.Park.MusicOnHold
	}
	if pc.MusicFile != "" && !strings.HasPrefix(pc.MusicFile, "builtin:") && !filepath.IsAbs(pc.MusicFile) && dir != "" {
		pc.MusicFile = filepath.Join(dir, pc.MusicFile)
	}
	if f.Park.PickupTimeout != "" {
		d, err := time.ParseDuration(f.Park.PickupTimeout)
		if err != nil {
			errs = append(errs, &FieldError{Field: "park.pickupTimeout", Value: fmt.Sprintf("%q", f.Park.PickupTimeout), Err: errors.New("must be a duration like 90s or 2m")})
		}
		pc.PickupTimeout = d
	}
	cfg.Park = pc
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("config: %w", errors.Join(errs...))
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}
