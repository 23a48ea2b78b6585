package usersfile

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Entry is one user's secret: a plain Password, or an HA1 hash for Realm.
type Entry struct {
	Password string
	HA1      string // lower-case hex MD5("user:realm:password"); set together with Realm
	Realm    string
}

// Hashed reports whether the entry holds an HA1 instead of a password.
func (e Entry) Hashed() bool { return e.HA1 != "" }

// HA1 is hex MD5("user:realm:password"), the digest A1 hash (RFC 2617 §3.2.2.2).
func HA1(user, realm, password string) string {
	sum := md5.Sum([]byte(user + ":" + realm + ":" + password))
	return hex.EncodeToString(sum[:])
}

// Line is the users-file line for user with password hashed for realm.
func Line(user, realm, password string) string {
	return fmt.Sprintf("%s: {realm: %s, ha1: %s}", user, realm, HA1(user, realm, password))
}

// maxFile bounds what Load reads; a users file of thousands of users is a few hundred KiB.
const maxFile = 4 << 20

// Load reads and parses the users file at path.
func Load(path string) (map[string]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("larger than %d bytes", maxFile)
	}
	return Parse(data)
}

type fileEntry struct {
	Realm string `yaml:"realm"`
	HA1   string `yaml:"ha1"`
}

// Parse parses a users file strictly: at least one user, no empty name or password, a
// hashed entry with both realm and a 32-digit hex ha1 and nothing else. Errors name the
// user, never the secret.
func Parse(data []byte) (map[string]Entry, error) {
	var raw map[string]yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New(`is empty: want "user: password" or "user: {realm: R, ha1: H}" lines`)
		}
		return nil, err
	}
	if len(raw) == 0 {
		return nil, errors.New("names no users")
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make(map[string]Entry, len(raw))
	var errs []error
	for _, name := range names {
		node := raw[name]
		e, err := parseEntry(&node)
		if err == nil && strings.TrimSpace(name) == "" {
			err = errors.New("name must not be empty")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("user %q: %w", name, err))
			continue
		}
		out[name] = e
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func parseEntry(node *yaml.Node) (Entry, error) {
	switch node.Kind {
	case yaml.ScalarNode:
		if node.Tag != "!!str" && node.Tag != "!!int" && node.Tag != "!!float" {
			return Entry{}, errors.New("want a password or {realm, ha1}")
		}
		if strings.TrimSpace(node.Value) == "" {
			return Entry{}, errors.New("password must not be empty")
		}
		return Entry{Password: node.Value}, nil
	case yaml.MappingNode:
		var fe fileEntry
		if err := node.Decode(&fe); err != nil {
			return Entry{}, err
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			if k := node.Content[i].Value; k != "realm" && k != "ha1" {
				return Entry{}, fmt.Errorf("unknown key %q: a hashed entry has realm and ha1 only", k)
			}
		}
		if fe.Realm == "" {
			return Entry{}, errors.New("realm is required with ha1: an HA1 is only good for the realm it was made for")
		}
		if !IsHA1(fe.HA1) {
			return Entry{}, errors.New("ha1 must be 32 hex digits, MD5(user:realm:password) (`parkway passwd`)")
		}
		return Entry{HA1: strings.ToLower(fe.HA1), Realm: fe.Realm}, nil
	}
	return Entry{}, errors.New("want a password or {realm, ha1}")
}

// IsHA1 reports whether s is 32 hex digits.
func IsHA1(s string) bool {
	if len(s) != 2*md5.Size {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
