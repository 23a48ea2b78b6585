package failover

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/parkway/parkway/gateway/configfile"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/pool"
)

// configs/gateway.yaml (a real deployment's, with the secrets scripts/gateway-secrets.sh
// and `parkway certs` make) and configs/gateway-demo.yaml (the demo's) are runnable: they
// parse, the gateway would start with them (no fatal finding of --check-config), and
// their pools are where configs/pool-*-tls.yaml (over TLS) and pool-*.yaml (the demo's)
// listen, with their orbits and the same passwords or HA1 hashes.
func TestExampleConfigs(t *testing.T) {
	demo, err := configfile.Load(filepath.Join("..", "configs", "gateway-demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !demo.Gateway.Demo {
		t.Error("configs/gateway-demo.yaml is not in demo mode")
	}
	checkExampleConfig(t, "gateway-demo.yaml", demo, "")
	deploy := loadWithSecrets(t)
	if deploy.Gateway.Demo || deploy.AdminToken == "" || len(deploy.Gateway.Hosts) == 0 || len(deploy.Gateway.EmbedKey) == 0 {
		t.Errorf("configs/gateway.yaml: demo %v, admin token %v, hosts %v, embed key %v: want a non-demo gateway with all of them",
			deploy.Gateway.Demo, deploy.AdminToken != "", deploy.Gateway.Hosts, len(deploy.Gateway.EmbedKey) > 0)
	}
	checkExampleConfig(t, "gateway.yaml", deploy, "-tls")
	if len(deploy.Check(configfile.CheckOptions{})) != 0 {
		t.Errorf("configs/gateway.yaml: findings %v, want none (TLS pools, HA1 users)", deploy.Check(configfile.CheckOptions{}))
	}
}

// loadWithSecrets loads configs/gateway.yaml from a copy beside secrets made by
// scripts/gateway-secrets.sh, as its header tells an operator to.
func loadWithSecrets(t *testing.T) configfile.File {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"gateway.yaml", "users.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "configs", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(filepath.Join("..", "scripts", "gateway-secrets.sh"), filepath.Join(dir, "secrets")).CombinedOutput(); err != nil {
		t.Fatalf("scripts/gateway-secrets.sh: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "certs", "-dir", filepath.Join(dir, "secrets", "sip"), "pool-a", "pool-b").CombinedOutput(); err != nil {
		t.Fatalf("parkway certs: %v\n%s", err, out)
	}
	fc, err := configfile.Load(filepath.Join(dir, "gateway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return fc
}

// checkExampleConfig checks the gateway config file against configs/pool-a<suffix>.yaml
// and pool-b<suffix>.yaml.
func checkExampleConfig(t *testing.T, file string, fc configfile.File, suffix string) {
	t.Helper()
	findings := fc.Check(configfile.CheckOptions{})
	if err := configfile.Refusal(findings); err != nil {
		t.Errorf("configs/%s: %v", file, err)
	}
	for _, f := range findings {
		t.Logf("configs/%s: %v", file, f)
	}
	if fc.UA == nil {
		t.Fatalf("configs/%s has no sip section: the gateway would carry no calls", file)
	}
	for _, p := range []struct {
		file         string
		addr, orbits string
	}{{"pool-a" + suffix + ".yaml", fc.DR.Home.SIPAddr, fc.DR.Home.Orbits}, {"pool-b" + suffix + ".yaml", fc.DR.Backup.SIPAddr, fc.DR.Backup.Orbits}} {
		path := filepath.Join("..", "configs", p.file)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := pool.ParseConfig(data, filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		listen := cfg.Listen
		if cfg.TLS != nil {
			listen = cfg.TLS.Listen // a TLS pool is reached on its TLS listener
		}
		if listen != p.addr {
			t.Errorf("configs/%s has %s at %s; %s listens on %s", file, cfg.Name, p.addr, p.file, listen)
		}
		var orbits string
		for i, r := range cfg.Park.Orbits {
			if i > 0 {
				orbits += ","
			}
			orbits += r.Start + "-" + r.End
		}
		if orbits != p.orbits {
			t.Errorf("configs/%s gives %s orbits %s; %s has %s", file, cfg.Name, p.orbits, p.file, orbits)
		}
		secrets, _ := fc.UA.Credentials.(ua.Secrets)
		for _, u := range cfg.Users {
			if sec, ok := secrets[u.Name]; !ok || sec.Password != u.Password || sec.HA1 != u.HA1 {
				t.Errorf("configs/%s: %s's secret is not the one %s has", file, u.Name, p.file)
			}
		}
	}
}
