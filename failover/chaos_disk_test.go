package failover

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The gateway's only data on disk is the admin audit file (the `auditLog` key): it keeps
// no other state in files (sessions are signed tokens, the DR phase lives in memory and
// is rebuilt from probes). These tests make that file's directory read-only, and its
// disk full, for real: a tmpfs mounted in a mount namespace of the gateway's own
// (unshare -m), which needs root — the loopback-only namespace the suite runs in.

// needMountNamespace skips a test that needs to mount a filesystem: only root can, and
// outside scripts/loopback-only.sh the suite may run as a user.
func needMountNamespace(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs in a mount namespace (scripts/loopback-only.sh runs the suite as root)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1) from util-linux: " + err.Error())
	}
}

// inTmpfs wraps a command line so that it runs in a new mount namespace with a tmpfs of
// the given mount options on dir: unshare -m, then sh mounts and execs the command, so
// it keeps the process id the test signals and reads /proc of.
func inTmpfs(dir, options string) func([]string) []string {
	return func(argv []string) []string {
		script := `mount -t tmpfs -o "$1" parkway-chaos "$2" && shift 2 && exec "$@"`
		return append([]string{"unshare", "-m", "sh", "-c", script, "sh", options, dir}, argv...)
	}
}

// A gateway told to keep its audit log in a read-only directory refuses to start, and
// says which file and why.
func TestChaosAuditLogReadOnly(t *testing.T) {
	needMountNamespace(t)
	parallel(t)
	c := &cluster{t: t, dir: t.TempDir(), procs: map[string]*proc{}}
	c.ports = map[string]int{"pool-a": freePort(t), "pool-b": freePort(t)}
	data := filepath.Join(c.dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(data, "admin-audit.log")
	c.opts.gatewayYAML = "auditLog: " + file + "\n"
	c.opts.plainUDP = true // no pool is started, nor certificates made
	c.writeConfigs()
	argv := inTmpfs(data, "ro,size=16k")([]string{bin, "gateway", "--config", filepath.Join(c.dir, "gateway.yaml")})
	cmd := exec.Command(argv[0], argv[1:]...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() {
		defer close(done)
		out, err = cmd.CombinedOutput()
	}()
	select {
	case <-done:
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the gateway with a read-only audit directory did not exit within %v:\n%s", wait, out)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("want the gateway to exit with an error, got %v:\n%s", err, out)
	}
	want := "parkway gateway: admin audit log: open " + file + ": read-only file system"
	if !strings.Contains(string(out), want) {
		t.Fatalf("the gateway's refusal does not say %q:\n%s", want, out)
	}
	if strings.Contains(string(out), "Parkway gateway on") {
		t.Fatalf("the gateway served before refusing:\n%s", out)
	}
}

// A disk that fills while the gateway runs: no crash, one clear error naming the file,
// admin actions still answered (and still in the process log), and the file written
// again once there is room. admin.AuditFile explains why actions are not refused.
func TestChaosAuditLogDiskFull(t *testing.T) {
	needMountNamespace(t)
	parallel(t)
	data := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(data, "admin-audit.log")
	c := startCluster(t, clusterOptions{gatewayYAML: "auditLog: " + file + "\n", wrapGateway: inTmpfs(data, "size=16k")})
	gw := c.procs["gateway"]
	// The tmpfs is in the gateway's mount namespace; its root is seen through /proc.
	inside := filepath.Join("/proc", strconv.Itoa(gw.cmd.Process.Pid), "root", data)

	c.failover()
	c.failback()
	before := readAudit(t, filepath.Join(inside, "admin-audit.log"))
	if strings.Count(before, `"msg":"admin action"`) != 2 {
		t.Fatalf("audit file before the disk filled:\n%s", before)
	}

	// Fill the disk. The file's last page may still have room, so records go on fitting
	// for a while, as on a real disk; actions go on until one does not.
	filler := filepath.Join(inside, "filler")
	fill(t, filler)
	cannot := regexp.MustCompile(`admin audit log: cannot write.*file=` + regexp.QuoteMeta(file) + `.*no space left on device`)
	actions, missed := 2, 0
	for gw.out.find(cannot) == "" {
		if actions > 200 {
			t.Fatalf("200 admin actions on a full disk and no error logged:\n%s", gw.tail(20))
		}
		c.failover() // each fails the test unless answered 200
		c.failback()
		actions += 2
	}
	if n := strings.Count(string(gw.out.bytes()), "admin audit log: cannot write"); n != 1 {
		t.Errorf("the full disk was reported %d times, want once", n)
	}
	// Two more on the full disk; then every action so far is in the process log.
	c.failover()
	c.failback()
	actions += 2
	// The handler logs an action just after answering it: wait for the last line.
	for _, action := range []string{"failover", "failback"} {
		waitCount(t, gw, regexp.MustCompile(`admin action.*action=`+action+` status=200`), actions/2)
	}
	select {
	case <-gw.done:
		t.Fatalf("the gateway exited with its disk full:\n%s", gw.tail(30))
	default:
	}
	written := strings.Count(readAudit(t, filepath.Join(inside, "admin-audit.log")), `"msg":"admin action"`)
	missed = actions - written
	t.Logf("full disk: %d admin actions answered, %d in the audit file, %d only in the process log", actions, written, missed)
	if missed < 2 {
		t.Errorf("only %d records missed the file after the disk was reported full", missed)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	c.failover()
	gw.waitLine(t, regexp.MustCompile(`admin audit log: writing again.*missed=`+strconv.Itoa(missed)+`$`))
	after := readAudit(t, filepath.Join(inside, "admin-audit.log"))
	for _, line := range strings.Split(strings.TrimSpace(after), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("audit file has a line that is not one JSON record: %s", line)
		}
	}
	if n := strings.Count(after, `"msg":"admin action"`); n != written+1 {
		t.Errorf("audit file has %d actions after room was made, want %d", n, written+1)
	}
}

// waitCount waits until the process has printed n lines matching re.
func waitCount(t *testing.T, p *proc, re *regexp.Regexp, n int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		got := len(re.FindAllString(string(p.out.bytes()), -1))
		if got == n {
			return
		}
		if got > n || time.Now().After(deadline) {
			t.Fatalf("want %d lines matching %q, the process printed %d", n, re, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readAudit(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fill writes to path until its filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 1024)
	for range 1 << 20 {
		if _, err := f.Write(block); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
	t.Fatalf("%s never filled", path)
}
