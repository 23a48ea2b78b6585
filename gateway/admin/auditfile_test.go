package admin

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The audit file gets every action as a JSON line, and a wrong token too.
func TestAuditFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	f, err := OpenAuditFile(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e := newEnv(t, true, false, WithToken("s3cret-admin-token"), WithAuditLog(slog.New(slog.DiscardHandler), "demo"), WithAuditFile(f))
	e.waitFor("both pools healthy", poolsHealthy)
	if status, _, m := e.call(http.MethodPost, "/api/dr/failover", "Authorization", "Bearer s3cret-admin-token"); status != http.StatusOK {
		t.Fatalf("failover: %d %v", status, m)
	}
	e.call(http.MethodPost, "/api/dr/failback", "Authorization", "Bearer guess")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("audit file has %d lines, want 2:\n%s", len(lines), data)
	}
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if first["action"] != "failover" || first["status"] != float64(200) || first["who"] != "admin-token" {
		t.Errorf("first record: %v", first)
	}
	if second["msg"] != "admin request refused: no valid admin token" || second["path"] != "/api/dr/failback" {
		t.Errorf("second record: %v", second)
	}
}

// A file that cannot be opened for appending is an error naming it.
func TestAuditFileUnopenable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "audit.log")
	_, err := OpenAuditFile(path, nil)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.HasPrefix(err.Error(), "admin audit log: ") {
		t.Fatalf("got %v, want an admin audit log error naming %s", err, path)
	}
}

// A full disk (/dev/full: every write is ENOSPC) answers admin actions all the same,
// keeps them in the process log, and says once that the file cannot be written.
func TestAuditFileFullDisk(t *testing.T) {
	var out syncBuffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	f, err := OpenAuditFile("/dev/full", log)
	if err != nil {
		t.Skipf("no /dev/full on this system: %v", err)
	}
	defer f.Close()
	e := newEnv(t, true, false, WithAuditLog(log, "demo"), WithAuditFile(f))
	e.waitFor("both pools healthy", poolsHealthy)
	for _, path := range []string{"/api/dr/failover", "/api/dr/failback"} {
		if status, _, m := e.call(http.MethodPost, path); status != http.StatusOK {
			t.Fatalf("POST %s with the audit file's disk full: %d %v", path, status, m)
		}
	}
	got := out.String()
	if n := strings.Count(got, "admin audit log: cannot write"); n != 1 {
		t.Errorf("the full disk was reported %d times, want once:\n%s", n, got)
	}
	for _, want := range []string{"file=/dev/full", "no space left on device", "action=failover status=200", "action=failback status=200"} {
		if !strings.Contains(got, want) {
			t.Errorf("process log has no %q:\n%s", want, got)
		}
	}
}
