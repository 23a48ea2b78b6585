package configfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A gateway config of a real deployment: hosts, an admin token, an embed key, a session
// key, users stored as HA1 hashes, all on loopback behind a proxy. Check finds nothing
// in it.
var safeConfig = strings.Replace(goodConfig, "credentialsFile: users.yaml", "credentialsFile: hashed-users.yaml", 1) + `hosts: [phone.example.com]
embedKeyFile: session.key
`

func TestCheckSafeConfig(t *testing.T) {
	fc, err := Parse([]byte(safeConfig), writeSecrets(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := fc.Check(CheckOptions{}); len(got) != 0 {
		t.Errorf("findings in a safe config: %v", got)
	}
}

// Every unsafe setting is found, named and explained; the ones a gateway must not start
// with are fatal, and Refusal names them.
func TestCheckFindsUnsafeSettings(t *testing.T) {
	dir := writeSecrets(t)
	for name, tc := range map[string]struct {
		edits   []string // pairs: old, new
		opts    CheckOptions
		setting string
		fatal   bool
		why     string // a word the explanation must hold
	}{
		"demo on loopback":             {[]string{"sessionTTL: 1h", "sessionTTL: 1h\ndemo: true"}, CheckOptions{}, "demo", false, "loopback"},
		"demo on the network":          {[]string{"http: 127.0.0.1:9090", "http: 0.0.0.0:9090", "sessionTTL: 1h", "sessionTTL: 1h\ndemo: true"}, CheckOptions{}, "demo", true, "--demo-on-network"},
		"demo on network, asked":       {[]string{"http: 127.0.0.1:9090", "http: :9090", "sessionTTL: 1h", "sessionTTL: 1h\ndemo: true"}, CheckOptions{DemoOnNetwork: true}, "demo", false, "every machine"},
		"admin open on loopback":       {[]string{"adminTokenFile: admin.token", ""}, CheckOptions{}, "adminTokenFile", false, "every local process"},
		"admin open on network":        {[]string{"adminTokenFile: admin.token", "", "http: 127.0.0.1:9090", "http: 192.0.2.7:9090"}, CheckOptions{}, "adminTokenFile", true, "failover"},
		"no hosts":                     {[]string{"hosts: [phone.example.com]", "hosts: []"}, CheckOptions{}, "hosts", true, "DNS-rebinding"},
		"plain http on network":        {[]string{"http: 127.0.0.1:9090", "http: 192.0.2.7:9090"}, CheckOptions{}, "http", false, "TLS"},
		"no embed key":                 {[]string{"embedKeyFile: session.key", ""}, CheckOptions{}, "embedKeyFile", false, "nobody can start a session"},
		"embed origins, no key":        {[]string{"embedKeyFile: session.key", "embedOrigins: [https://shop.example]"}, CheckOptions{}, "embedOrigins", false, "tickets"},
		"wildcard origin":              {[]string{`["https://phone.example.com"]`, `["https://*.example.com"]`}, CheckOptions{}, "allowedOrigins[0]", false, "literally"},
		"plain http origin":            {[]string{`["https://phone.example.com"]`, `["http://phone.example.com"]`}, CheckOptions{}, "allowedOrigins[0]", false, "https"},
		"no session key":               {[]string{"sessionKeyFile: session.key", ""}, CheckOptions{}, "sessionKeyFile", false, "restart"},
		"readable token file":          {[]string{"adminTokenFile: admin.token", "adminTokenFile: open.token"}, CheckOptions{}, "adminTokenFile", false, "chmod 600"},
		"readable users file":          {[]string{"credentialsFile: hashed-users.yaml", "credentialsFile: open-users.yaml"}, CheckOptions{}, "sip.credentialsFile", false, "chmod 600"},
		"plain pool link off loopback": {[]string{"sip: 127.0.0.1:5070", "sip: 192.0.2.7:5070"}, CheckOptions{}, "pools.home.transport", false, "tls"},
		"plain passwords":              {[]string{"credentialsFile: hashed-users.yaml", "credentialsFile: users.yaml"}, CheckOptions{}, "sip.credentialsFile", false, "HA1"},
		"demo admin open no host":      {[]string{"sessionTTL: 1h", "sessionTTL: 1h\ndemo: true", "adminTokenFile: admin.token", "", "hosts: [phone.example.com]", ""}, CheckOptions{}, "demo", false, "admin API open"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "open.token"), []byte("0123456789abcdef0123\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "open-users.yaml"), []byte("alice: alice-pw\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			// WriteFile's mode passes the umask; make sure these really are readable.
			os.Chmod(filepath.Join(dir, "open.token"), 0o644)
			os.Chmod(filepath.Join(dir, "open-users.yaml"), 0o644)
			conf := safeConfig
			for i := 0; i+1 < len(tc.edits); i += 2 {
				edited := strings.Replace(conf, tc.edits[i], tc.edits[i+1], 1)
				if edited == conf {
					t.Fatalf("%q is not in the config", tc.edits[i])
				}
				conf = edited
			}
			fc, err := Parse([]byte(conf), dir)
			if err != nil {
				t.Fatal(err)
			}
			findings := fc.Check(tc.opts)
			var found *Finding
			for i, f := range findings {
				if f.Setting == tc.setting {
					found = &findings[i]
				}
			}
			if found == nil {
				t.Fatalf("no finding for %s in %v", tc.setting, findings)
			}
			if found.Fatal != tc.fatal || !strings.Contains(found.Why, tc.why) {
				t.Errorf("%v; want fatal=%v and an explanation with %q", found, tc.fatal, tc.why)
			}
			refusal := Refusal(findings)
			anyFatal := false
			for _, f := range findings {
				anyFatal = anyFatal || f.Fatal
				if f.Fatal && (refusal == nil || !strings.Contains(refusal.Error(), f.Setting+": ")) {
					t.Errorf("Refusal %v does not name fatal %s", refusal, f.Setting)
				}
			}
			if !anyFatal && refusal != nil {
				t.Errorf("Refusal %v with no fatal finding in %v", refusal, findings)
			}
		})
	}
}

func TestLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.0.0.2:1": true, "[::1]:8080": true, "localhost:8080": true, "LOCALHOST:1": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.0.2.7:80": false, "phone.example.com:80": false, "127.0.0.1": false,
	} {
		if got := LoopbackOnly(addr); got != want {
			t.Errorf("LoopbackOnly(%q) = %v, want %v", addr, got, want)
		}
	}
}

// In demo mode the demo finding says it all: no separate hosts or admin token findings
// (demo mode answers to localhost only, and its admin API is open on purpose).
func TestCheckDemoIsOneFinding(t *testing.T) {
	conf := strings.NewReplacer("sessionTTL: 1h", "sessionTTL: 1h\ndemo: true", "adminTokenFile: admin.token", "", "hosts: [phone.example.com]", "").Replace(safeConfig)
	fc, err := Parse([]byte(conf), writeSecrets(t))
	if err != nil {
		t.Fatal(err)
	}
	findings := fc.Check(CheckOptions{})
	if len(findings) != 1 || findings[0].Setting != "demo" || Refusal(findings) != nil {
		t.Errorf("demo on loopback: %v, want one non-fatal demo finding", findings)
	}
}
