package failover

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/parkway/parkway/gateway"
	"github.com/parkway/parkway/pool"
)

// configs/gateway.yaml is the runnable example for `parkway gateway`: it parses, and
// its pools are where configs/pool-a.yaml and pool-b.yaml listen, with their orbits.
func TestExampleConfigs(t *testing.T) {
	fc, err := gateway.LoadConfig(filepath.Join("..", "configs", "gateway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if fc.UA == nil {
		t.Fatal("configs/gateway.yaml has no sip section: the gateway would carry no calls")
	}
	for _, p := range []struct {
		file         string
		addr, orbits string
	}{{"pool-a.yaml", fc.DR.Home.SIPAddr, fc.DR.Home.Orbits}, {"pool-b.yaml", fc.DR.Backup.SIPAddr, fc.DR.Backup.Orbits}} {
		path := filepath.Join("..", "configs", p.file)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := pool.ParseConfig(data, filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Listen != p.addr {
			t.Errorf("configs/gateway.yaml has %s at %s; %s listens on %s", cfg.Name, p.addr, p.file, cfg.Listen)
		}
		var orbits string
		for i, r := range cfg.Park.Orbits {
			if i > 0 {
				orbits += ","
			}
			orbits += r.Start + "-" + r.End
		}
		if orbits != p.orbits {
			t.Errorf("configs/gateway.yaml gives %s orbits %s; %s has %s", cfg.Name, p.orbits, p.file, orbits)
		}
		for _, u := range cfg.Users {
			if pw, ok := fc.UA.Credentials.Password(u.Name); !ok || pw != u.Password {
				t.Errorf("configs/users.yaml: %s's password is not the one %s has", u.Name, p.file)
			}
		}
	}
}
