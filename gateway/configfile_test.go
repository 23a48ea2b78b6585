package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodConfig = `
http: 127.0.0.1:9090
allowedOrigins: ["https://phone.example.com"]
sessionKeyFile: session.key
sessionTTL: 1h
heartbeat: {interval: 1s, timeout: 4s}
adminTokenFile: admin.token
pools:
  home:   {name: pool-a, sip: 127.0.0.1:5070, orbits: ["7000-7099"]}
  backup: {name: pool-b, sip: 127.0.0.1:5080, orbits: ["8000-8099", "*10-*19"]}
probe: {interval: 100ms, misses: 2}
sip: {listen: 127.0.0.1:5090, credentialsFile: users.yaml, signOutGrace: 3s}
`

func writeSecrets(t *testing.T) string {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "session.key"), []byte(strings.Repeat("k", 40)+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "admin.token"), []byte("0123456789abcdef0123\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "users.yaml"), []byte("alice: alice-pw\nbob: bob-pw\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "empty.yaml"), []byte("alice: \"\"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "list.yaml"), []byte("- alice\n"), 0o600)
	return dir
}

func TestParseConfig(t *testing.T) {
	dir := writeSecrets(t)
	fc, err := ParseConfig([]byte(goodConfig), dir)
	if err != nil {
		t.Fatal(err)
	}
	if fc.HTTP != "127.0.0.1:9090" || fc.AdminToken != "0123456789abcdef0123" || len(fc.Gateway.SessionKey) != 40 {
		t.Errorf("%+v", fc)
	}
	if fc.Gateway.PingInterval != time.Second || fc.Gateway.PeerTimeout != 4*time.Second || fc.Gateway.SessionTTL != time.Hour {
		t.Errorf("durations %+v", fc.Gateway)
	}
	if fc.DR.Home.SIPAddr != "127.0.0.1:5070" || fc.DR.Backup.Orbits != "8000-8099,*10-*19" || fc.DR.ProbeMisses != 2 || fc.DR.ProbeInterval != 100*time.Millisecond {
		t.Errorf("dr %+v", fc.DR)
	}
	if fc.Gateway.Demo {
		t.Error("demo on by default")
	}
	if fc.UA == nil || fc.UA.Listen != "127.0.0.1:5090" || fc.UA.Active != "pool-a" || len(fc.UA.Pools) != 2 || fc.UA.Pools[1].Addr != "127.0.0.1:5080" {
		t.Fatalf("ua %+v", fc.UA)
	}
	if pw, ok := fc.UA.Credentials.Password("bob"); !ok || pw != "bob-pw" || fc.Gateway.SignOutGrace != 3*time.Second {
		t.Errorf("credentials %q %v, grace %v", pw, ok, fc.Gateway.SignOutGrace)
	}
	noSIP, err := ParseConfig([]byte(strings.Replace(goodConfig, "sip: {", "#", 1)), dir)
	if err != nil || noSIP.UA != nil {
		t.Errorf("without sip: %v %+v", err, noSIP.UA)
	}
}

func TestParseConfigRefuses(t *testing.T) {
	dir := writeSecrets(t)
	for name, tc := range map[string]struct{ edit, want string }{
		"unknown key":     {"http: 127.0.0.1:9090", "htpp: 1"},
		"bad duration":    {"sessionTTL: 1h", "sessionTTL: forever"},
		"bad origin":      {`["https://phone.example.com"]`, `["https://phone.example.com/app"]`},
		"short key":       {"sessionKeyFile: session.key", "sessionKeyFile: admin.token"},
		"missing key":     {"sessionKeyFile: session.key", "sessionKeyFile: nope.key"},
		"bad orbit":       {`"7000-7099"`, `"0700-0799"`},
		"same pool names": {"name: pool-b", "name: pool-a"},
		"no port":         {"127.0.0.1:5070", "127.0.0.1"},
		"heartbeat":       {"timeout: 4s", "timeout: 1s"},
		"sip no creds":    {"credentialsFile: users.yaml, ", ""},
		"sip creds gone":  {"credentialsFile: users.yaml", "credentialsFile: nope.yaml"},
		"sip empty pw":    {"credentialsFile: users.yaml", "credentialsFile: empty.yaml"},
		"sip creds list":  {"credentialsFile: users.yaml", "credentialsFile: list.yaml"},
		"sip listen name": {"listen: 127.0.0.1:5090", "listen: localhost:5090"},
		"sip pool name":   {"sip: 127.0.0.1:5080", "sip: pool-b.example:5080"},
		"sip bad key":     {"signOutGrace: 3s", "signoutGrace: 3s"},
		"sip bad grace":   {"signOutGrace: 3s", "signOutGrace: soon"},
	} {
		_, err := ParseConfig([]byte(strings.Replace(goodConfig, tc.edit, tc.want, 1)), dir)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
	if _, err := ParseConfig([]byte("http: 127.0.0.1:1\n"), dir); err == nil || !strings.Contains(err.Error(), "pools.home") {
		t.Errorf("missing pools: %v", err)
	}
	if _, err := ParseConfig(nil, dir); err == nil {
		t.Error("empty config accepted")
	}
}

func TestExampleConfig(t *testing.T) {
	fc, err := LoadConfig("testdata/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if fc.DR.Home.Name != "pool-a" || fc.Gateway.PeerTimeout != 6*time.Second || fc.Gateway.Demo {
		t.Errorf("%+v", fc)
	}
	if fc.UA == nil || fc.UA.Credentials == nil || fc.Gateway.SignOutGrace != DefaultSignOutGrace {
		t.Errorf("sip %+v, grace %v", fc.UA, fc.Gateway.SignOutGrace)
	}
}
