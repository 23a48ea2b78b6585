package pool

import (
	"context"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/sip/sipnet"
)

func TestDemoConfigsMatchFiles(t *testing.T) {
	a, b := DemoConfigs("127.0.0.1")
	for _, want := range []Config{a, b} {
		data, err := os.ReadFile("../configs/" + want.Name + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseConfig(data, "")
		if err != nil {
			t.Fatalf("%s: %v", want.Name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s.yaml = %+v\nDemoConfigs = %+v", want.Name, got, want)
		}
	}
}

// DemoConfigsOn picks two distinct ports that both UDP and TCP can bind, keeps a port
// asked for, and points each pool's peer at the other (and gives each park service a
// port of its own: TestDemoPoolsRestartOnTheirPorts).
func TestDemoConfigsOn(t *testing.T) {
	a, b, err := DemoConfigsOn("127.0.0.1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if a.Listen == b.Listen || a.Peer.Addr != b.Listen || b.Peer.Addr != a.Listen {
		t.Fatalf("pool-a on %s (peer %s), pool-b on %s (peer %s)", a.Listen, a.Peer.Addr, b.Listen, b.Peer.Addr)
	}
	for _, c := range []Config{a, b} {
		if _, port, _ := net.SplitHostPort(c.Listen); port == "0" {
			t.Errorf("%s listens on %s: port 0 was not replaced", c.Name, c.Listen)
		}
		udp, tcp, err := sipnet.ListenBoth(context.Background(), c.Listen)
		if err != nil {
			t.Fatalf("%s: %s is not free for UDP and TCP: %v", c.Name, c.Listen, err)
		}
		udp.Close()
		tcp.Close()
	}
	wantA, wantB := DemoConfigs("127.0.0.1")
	wantA.Listen, wantA.Peer.Addr, wantA.ParkListen = a.Listen, b.Listen, a.ParkListen
	wantB.Listen, wantB.Peer.Addr, wantB.ParkListen = b.Listen, a.Listen, b.ParkListen
	if !reflect.DeepEqual(a, wantA) || !reflect.DeepEqual(b, wantB) {
		t.Errorf("DemoConfigsOn changed more than the addresses:\n%+v\n%+v", a, b)
	}

	_, port, _ := net.SplitHostPort(a.Listen)
	fixed, _ := strconv.Atoi(port)
	a2, b2, err := DemoConfigsOn("127.0.0.1", 0, fixed)
	if err != nil {
		t.Fatal(err)
	}
	if b2.Listen != a.Listen || a2.Listen == b2.Listen {
		t.Errorf("asked pool-b on %d: pool-a on %s, pool-b on %s", fixed, a2.Listen, b2.Listen)
	}

	if _, _, err := DemoConfigsOn("192.0.2.1", 0, 0); err == nil { // TEST-NET-1: no address of this host
		t.Error("an address not on this host gave ports")
	}
}

// TestParseConfigOverload: the overload key's three forms — left out (the default
// guard), a maxDelay, off.
func TestParseConfigOverload(t *testing.T) {
	base := "name: pool-a\nlisten: 127.0.0.1:5070\nusers: [{name: alice, password: x}]\npark: {orbits: [\"7000-7099\"]}\n"
	for _, c := range []struct {
		yaml string
		want Overload
	}{
		{"", Overload{}},
		{"overload: {maxDelay: 30ms, retryAfter: 3s}\n", Overload{MaxDelay: 30 * time.Millisecond, RetryAfter: 3 * time.Second}},
		{"overload: {off: true}\n", Overload{Off: true}},
	} {
		cfg, err := ParseConfig([]byte(base+c.yaml), "")
		if err != nil {
			t.Fatalf("%q: %v", c.yaml, err)
		}
		if cfg.Overload != c.want {
			t.Errorf("%q: overload %+v, want %+v", c.yaml, cfg.Overload, c.want)
		}
	}
	if _, err := ParseConfig([]byte(base+"overload: {maxDelay: soon}\n"), ""); err == nil || !strings.Contains(err.Error(), "overload.maxDelay") {
		t.Errorf("a bad maxDelay: %v, want an error naming overload.maxDelay", err)
	}
}

func TestParseConfigErrorsNameFieldAndValue(t *testing.T) {
	base := "name: pool-a\nlisten: 127.0.0.1:5070\nusers: [{name: alice, password: x}]\npark: {orbits: [\"7000-7099\"]}\n"
	if _, err := ParseConfig([]byte(base), ""); err != nil {
		t.Fatalf("base config: %v", err)
	}
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		{"unknown field", base + "colour: blue\n", []string{"colour"}},
		{"typo in nested field", strings.Replace(base, "orbits", "orbit", 1), []string{"orbit"}},
		{"bad listen", strings.Replace(base, "127.0.0.1:5070", "localhost:5070", 1), []string{"listen", "localhost:5070"}},
		{"bad orbit", strings.Replace(base, "7000-7099", "0700-0799", 1), []string{"park.orbits[0]", "0700-0799"}},
		{"mixed length orbit", strings.Replace(base, "7000-7099", "700-7099", 1), []string{"park.orbits[0]", "same length"}},
		{"bad timeout", base[:len(base)-2] + ", pickupTimeout: soon}\n", []string{"park.pickupTimeout", "soon"}},
		{"empty password", strings.Replace(base, "password: x", "password: \"\"", 1), []string{"users[0].password"}},
		{"reserved user", strings.Replace(base, "name: alice", "name: park", 1), []string{"users[0].name", "park"}},
		{"peer overlaps", base + "peer: {name: pool-b, addr: 127.0.0.1:5080, orbits: [\"7050-7150\"]}\n", []string{"peer.orbits[0]", "7050-7150", "overlaps"}},
		{"peer is self", base + "peer: {name: pool-b, addr: 127.0.0.1:5070}\n", []string{"peer.addr", "127.0.0.1:5070"}},
		{"two documents", base + "---\nname: x\n", []string{"more than one"}},
		{"bad peer orbit", base + "peer: {name: pool-b, addr: 127.0.0.1:5080, orbits: [\"8000-80\"]}\n", []string{"peer.orbits[0]", "8000-80"}},
		{"too large", base + "# " + strings.Repeat("x", maxConfigSize) + "\n", []string{"exceeds"}},
		{"empty", "", []string{"empty"}},
		{"negative flood rate", base + "floodLimit: {perSecond: -1}\n", []string{"floodLimit.perSecond", "-1"}},
		{"bad http", base + "http: nowhere\n", []string{"http", "nowhere"}},
		{"negative flood burst", base + "floodLimit: {burst: -5}\n", []string{"floodLimit.burst", "-5"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml), "")
			if err == nil {
				t.Fatal("ParseConfig accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// The park section's file form: music on hold is on unless turned off, and a music file
// is found next to the config unless it is builtin or absolute.
func TestParseConfigPark(t *testing.T) {
	base := "name: pool-a\nlisten: 127.0.0.1:5070\npark: {orbits: [\"7000-7099\"]"
	for _, tc := range []struct {
		park       string
		music      string
		disableMOH bool
	}{
		{"", "", false},
		{", musicOnHold: false", "", true},
		{", musicOnHold: true, musicFile: moh.wav", "/etc/parkway/moh.wav", false},
		{", musicFile: /srv/moh.wav", "/srv/moh.wav", false},
		{", musicFile: builtin:pool-b", "builtin:pool-b", false},
	} {
		cfg, err := ParseConfig([]byte(base+tc.park+"}\n"), "/etc/parkway")
		if err != nil {
			t.Fatalf("park {%s}: %v", tc.park, err)
		}
		if cfg.Park.MusicFile != tc.music || cfg.Park.DisableMusicOnHold != tc.disableMOH {
			t.Errorf("park {%s}: music file %q, music on hold disabled %v; want %q, %v", tc.park, cfg.Park.MusicFile, cfg.Park.DisableMusicOnHold, tc.music, tc.disableMOH)
		}
	}
}

// Call authentication is on unless a config turns it off by name; the flood limit is
// taken as written.
func TestParseConfigSecurity(t *testing.T) {
	base := "name: pool-a\nlisten: 127.0.0.1:5070\npark: {orbits: [\"7000-7099\"]}\n"
	for _, tc := range []struct {
		yaml   string
		unauth bool
		flood  FloodLimit
	}{
		{"", false, FloodLimit{}},
		{"authenticateCalls: true\n", false, FloodLimit{}},
		{"authenticateCalls: false\n", true, FloodLimit{}},
		{"floodLimit: {perSecond: 5000, burst: 10000}\n", false, FloodLimit{PerSecond: 5000, Burst: 10000}},
	} {
		cfg, err := ParseConfig([]byte(base+tc.yaml), "")
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if cfg.UnauthenticatedCalls != tc.unauth || cfg.FloodLimit != tc.flood {
			t.Errorf("%q: unauthenticated calls %v, flood limit %+v; want %v, %+v", tc.yaml, cfg.UnauthenticatedCalls, cfg.FloodLimit, tc.unauth, tc.flood)
		}
	}
}

func TestNewDoesNotKeepCallerSlices(t *testing.T) {
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	p, err := New(cfg, Options{Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Users[0].Password = "changed"
	cfg.Park.Orbits[0].Start = "7050"
	if p.users["alice"].Password != "alice-pw" || p.OrbitRanges()[0].Start != "7000" {
		t.Fatal("pool shares the caller's slices")
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"pool-a", "pool-b"} {
		if data, err := os.ReadFile("../configs/" + name + ".yaml"); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("name: x\npark: {orbits: [\"*1-*9\"]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data, "")
		if err == nil {
			if err := cfg.Validate(); err != nil {
				t.Fatalf("ParseConfig returned an invalid config: %v", err)
			}
		}
	})
}
