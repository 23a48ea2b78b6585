package configfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway"
	"github.com/parkway/parkway/internal/usersfile"
	"github.com/parkway/parkway/media"
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
	os.WriteFile(filepath.Join(dir, "hashed-users.yaml"), []byte(usersfile.Line("alice", "parkway", "alice-pw")+"\n"+usersfile.Line("bob", "parkway", "bob-pw")+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "empty.yaml"), []byte("alice: \"\"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "list.yaml"), []byte("- alice\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "short.key"), []byte("8 bytes!\n"), 0o600)
	return dir
}

func TestParseConfig(t *testing.T) {
	dir := writeSecrets(t)
	fc, err := Parse([]byte(goodConfig), dir)
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
	if fc.DR.DisableConnectionWatch {
		t.Error("the pools' connection watch is off by default")
	}
	if off, err := Parse([]byte(strings.Replace(goodConfig, "probe: {interval: 100ms, misses: 2}", "probe: {interval: 100ms, misses: 2, connection: false}", 1)), dir); err != nil || !off.DR.DisableConnectionWatch {
		t.Errorf("probe.connection: false: %v, watch off %v", err, err == nil && off.DR.DisableConnectionWatch)
	}
	if fc.Gateway.Demo {
		t.Error("demo on by default")
	}
	if drain, err := Parse([]byte(goodConfig+"drainTimeout: 45s\n"), dir); err != nil || drain.Gateway.DrainTimeout != 45*time.Second || fc.Gateway.DrainTimeout != 0 {
		t.Errorf("drainTimeout: %v %v (unset: %v, the gateway's default)", err, drain.Gateway.DrainTimeout, fc.Gateway.DrainTimeout)
	}
	limits, err := Parse([]byte(goodConfig+"maxCallsPerUser: 2\nmessageLimit: {perSecond: 10, burst: 20}\n"), dir)
	if err != nil || limits.Gateway.MaxCallsPerUser != 2 || limits.Gateway.MessageRate != 10 || limits.Gateway.MessageBurst != 20 {
		t.Errorf("limits: %v %+v", err, limits.Gateway)
	}
	if fc.UA == nil || fc.UA.Listen != "127.0.0.1:5090" || fc.UA.Active != "pool-a" || len(fc.UA.Pools) != 2 || fc.UA.Pools[1].Addr != "127.0.0.1:5080" {
		t.Fatalf("ua %+v", fc.UA)
	}
	if pw, ok := fc.UA.Credentials.Password("bob"); !ok || pw != "bob-pw" || fc.Gateway.SignOutGrace != 3*time.Second {
		t.Errorf("credentials %q %v, grace %v", pw, ok, fc.Gateway.SignOutGrace)
	}
	noSIP, err := Parse([]byte(strings.Replace(goodConfig, "sip: {", "#", 1)), dir)
	if err != nil || noSIP.UA != nil {
		t.Errorf("without sip: %v %+v", err, noSIP.UA)
	}
}

// Every refusal names the field at fault, so an operator can fix the file without
// reading code.
func TestParseConfigRefuses(t *testing.T) {
	dir := writeSecrets(t)
	for name, tc := range map[string]struct{ edit, want, field string }{
		"unknown key":      {"http: 127.0.0.1:9090", "htpp: 1", "htpp"},
		"bad http":         {"http: 127.0.0.1:9090", "http: 127.0.0.1", "http"},
		"bad duration":     {"sessionTTL: 1h", "sessionTTL: forever", "sessionTTL"},
		"negative ttl":     {"sessionTTL: 1h", "sessionTTL: -1h", "sessionTTL"},
		"bad origin":       {`["https://phone.example.com"]`, `["https://phone.example.com/app"]`, "allowedOrigins[0]"},
		"bad embed origin": {"sessionTTL: 1h", "sessionTTL: 1h\nembedOrigins: [ftp://host.example]", "embedOrigins[0]"},
		"bad gateway url":  {"sessionTTL: 1h", "sessionTTL: 1h\ngateways: [\"https://gw1.example.com\", \"gw2.example.com\"]", "gateways[1]"},
		"negative max":     {"sessionTTL: 1h", "sessionTTL: 1h\nmaxSessions: -1", "maxSessions"},
		"negative calls":   {"sessionTTL: 1h", "sessionTTL: 1h\nmaxCallsPerUser: -1", "maxCallsPerUser"},
		"negative rate":    {"sessionTTL: 1h", "sessionTTL: 1h\nmessageLimit: {perSecond: -1}", "messageLimit"},
		"short key":        {"sessionKeyFile: session.key", "sessionKeyFile: admin.token", "sessionKeyFile"},
		"missing key":      {"sessionKeyFile: session.key", "sessionKeyFile: nope.key", "sessionKeyFile"},
		"short embed key":  {"sessionTTL: 1h", "sessionTTL: 1h\nembedKeyFile: short.key", "embedKeyFile"},
		"short token":      {"adminTokenFile: admin.token", "adminTokenFile: short.key", "adminTokenFile"},
		"missing token":    {"adminTokenFile: admin.token", "adminTokenFile: nope.token", "adminTokenFile"},
		"bad orbit":        {`"7000-7099"`, `"0700-0799"`, "pools.home.orbits[0]"},
		"same pool names":  {"name: pool-b", "name: pool-a", "pools.backup.name"},
		"no pool name":     {"name: pool-b, ", "", "pools.backup.name"},
		"no port":          {"127.0.0.1:5070", "127.0.0.1", "pools.home.sip"},
		"bad probe":        {"interval: 100ms", "interval: often", "probe.interval"},
		"negative misses":  {"misses: 2", "misses: -2", "probe.misses"},
		"bad failover":     {"sessionTTL: 1h", "sessionTTL: 1h\nautoFailoverAfter: later", "autoFailoverAfter"},
		"bad drain":        {"sessionTTL: 1h", "sessionTTL: 1h\ndrainTimeout: whenever", "drainTimeout"},
		"heartbeat":        {"timeout: 4s", "timeout: 1s", "heartbeat.timeout"},
		"sip no creds":     {"credentialsFile: users.yaml, ", "", "sip.credentialsFile"},
		"sip creds gone":   {"credentialsFile: users.yaml", "credentialsFile: nope.yaml", "sip.credentialsFile"},
		"sip empty pw":     {"credentialsFile: users.yaml", "credentialsFile: empty.yaml", "sip.credentialsFile"},
		"sip creds list":   {"credentialsFile: users.yaml", "credentialsFile: list.yaml", "sip.credentialsFile"},
		"sip listen name":  {"listen: 127.0.0.1:5090", "listen: localhost:5090", "sip.listen"},
		"sip pool name":    {"sip: 127.0.0.1:5080", "sip: pool-b.example:5080", "pools.backup.sip"},
		"sip bad key":      {"signOutGrace: 3s", "signoutGrace: 3s", "signoutGrace"},
		"sip bad grace":    {"signOutGrace: 3s", "signOutGrace: soon", "sip.signOutGrace"},
		"reattach grace":   {"signOutGrace: 3s", "signOutGrace: 3s, reattachGrace: later", "sip.reattachGrace"},
		"reattach hold":    {"signOutGrace: 3s", "signOutGrace: 3s, reattachHold: jazz", "sip.reattachHold"},
		"two documents":    {"http: 127.0.0.1:9090", "http: 127.0.0.1:9090\n---\nhttp: 127.0.0.1:9091", "more than one YAML document"},
	} {
		conf := strings.Replace(goodConfig, tc.edit, tc.want, 1)
		if conf == goodConfig {
			t.Fatalf("%s: %q is not in the good config", name, tc.edit)
		}
		_, err := Parse([]byte(conf), dir)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v does not name %s", name, err, tc.field)
		}
	}
	if _, err := Parse([]byte("http: 127.0.0.1:1\n"), dir); err == nil || !strings.Contains(err.Error(), "pools.home") {
		t.Errorf("missing pools: %v", err)
	}
	if _, err := Parse(nil, dir); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty config: %v", err)
	}
	if _, err := Parse(make([]byte, maxConfigFile+1), dir); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("oversized config: %v", err)
	}
}

// One run reports every problem in the file, not just the first.
func TestParseConfigReportsAll(t *testing.T) {
	dir := writeSecrets(t)
	conf := strings.NewReplacer("sessionTTL: 1h", "sessionTTL: forever", "misses: 2", "misses: -2", "listen: 127.0.0.1:5090", "listen: localhost:5090").Replace(goodConfig)
	_, err := Parse([]byte(conf), dir)
	for _, field := range []string{"sessionTTL", "probe.misses", "sip.listen"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%v does not name %s", err, field)
		}
	}
}

// A session key file of nothing but space counts as absent, as it always has: a random
// key per process. An admin token file of nothing but space is refused: counted as
// absent it would silently open the admin API (issue 13).
func TestParseConfigBlankSecrets(t *testing.T) {
	dir := writeSecrets(t)
	if err := os.WriteFile(filepath.Join(dir, "blank"), []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("sessionKeyFile: session.key", "sessionKeyFile: blank").Replace(goodConfig)
	fc, err := Parse([]byte(conf), dir)
	if err != nil {
		t.Fatal(err)
	}
	if fc.Gateway.SessionKey != nil {
		t.Errorf("session key %q", fc.Gateway.SessionKey)
	}
	conf = strings.NewReplacer("adminTokenFile: admin.token", "adminTokenFile: blank").Replace(goodConfig)
	if _, err := Parse([]byte(conf), dir); err == nil || !strings.Contains(err.Error(), "adminTokenFile") || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("blank admin token file: %v, want it refused as empty", err)
	}
}

func TestExampleConfig(t *testing.T) {
	fc, err := Load("testdata/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if fc.DR.Home.Name != "pool-a" || fc.Gateway.PeerTimeout != 6*time.Second || fc.Gateway.Demo {
		t.Errorf("%+v", fc)
	}
	if fc.UA == nil || fc.UA.Credentials == nil || fc.Gateway.SignOutGrace != gateway.DefaultSignOutGrace {
		t.Errorf("sip %+v, grace %v", fc.UA, fc.Gateway.SignOutGrace)
	}
}

// embedKey is a widget embed key long enough to sign tickets with.
const embedKey = "embed-key-for-tests-0123456789abcdef"

func TestEmbedConfigFile(t *testing.T) {
	dir := writeSecrets(t)
	os.WriteFile(filepath.Join(dir, "embed.key"), []byte(embedKey+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "short.key"), []byte("short\n"), 0o600)
	cfg := goodConfig + "embedOrigins: [\"https://crm.example.com\"]\nembedKeyFile: embed.key\nticketTTL: 30s\n"
	fc, err := Parse([]byte(cfg), dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(fc.Gateway.EmbedKey) != embedKey || fc.Gateway.TicketTTL != 30*time.Second {
		t.Errorf("embed key %q, ticket TTL %v", fc.Gateway.EmbedKey, fc.Gateway.TicketTTL)
	}
	for bad, field := range map[string]string{
		"embedKeyFile: short.key\n":   "embedKeyFile",
		"embedKeyFile: missing.key\n": "embedKeyFile",
		"ticketTTL: soon\n":           "ticketTTL",
	} {
		if _, err := Parse([]byte(goodConfig+bad), dir); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%q: %v, want an error naming %s", bad, err, field)
		}
	}
}

// auditLog is optional and, like every file name, relative to the config's directory.
func TestAuditLogKey(t *testing.T) {
	dir := writeSecrets(t)
	fc, err := Parse([]byte(goodConfig+"auditLog: logs/audit.log\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "logs", "audit.log"); fc.AuditLog != want {
		t.Errorf("auditLog resolved to %q, want %q", fc.AuditLog, want)
	}
	if fc, err := Parse([]byte(goodConfig), dir); err != nil || fc.AuditLog != "" {
		t.Errorf("without auditLog: %q, %v; want none", fc.AuditLog, err)
	}
}

// sip.reattachGrace and sip.reattachHold (issue 10) reach the gateway's config.
func TestReattachSettings(t *testing.T) {
	dir := writeSecrets(t)
	conf := strings.Replace(goodConfig, "signOutGrace: 3s", "signOutGrace: 3s, reattachGrace: 45s, reattachHold: music", 1)
	fc, err := Parse([]byte(conf), dir)
	if err != nil {
		t.Fatal(err)
	}
	if fc.Gateway.ReattachGrace != 45*time.Second || fc.Gateway.ReattachHold != media.HoldMusic {
		t.Errorf("re-attach grace %v, hold %v; want 45s, music", fc.Gateway.ReattachGrace, fc.Gateway.ReattachHold)
	}
}
