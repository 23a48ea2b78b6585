package configfile

import (
	"strings"
	"testing"
)

// survivablePark on a pool reaches the DR controller's pool (and GET /api/dr); off
// unless named.
func TestParseSurvivablePark(t *testing.T) {
	dir := writeSecrets(t)
	off, err := Parse([]byte(goodConfig), dir)
	if err != nil || off.DR.Home.SurvivablePark || off.DR.Backup.SurvivablePark {
		t.Fatalf("by default: %v %+v %+v", err, off.DR.Home, off.DR.Backup)
	}
	on := strings.Replace(goodConfig, `orbits: ["7000-7099"]}`, `orbits: ["7000-7099"], survivablePark: true}`, 1)
	fc, err := Parse([]byte(on), dir)
	if err != nil || !fc.DR.Home.SurvivablePark || fc.DR.Backup.SurvivablePark {
		t.Fatalf("on for pool-a: %v %+v %+v", err, fc.DR.Home, fc.DR.Backup)
	}
}
