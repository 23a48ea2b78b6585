package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `parkway demo --sip-capture F` writes a pcap file holding the SIP the demo's parts
// exchange (the prober's OPTIONS, a signed-in user's REGISTER), and its gateway serves
// /metrics, /healthz and /readyz.
func TestDemoCaptureAndOperations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demo.pcap")
	d := startDemo(t, "--sip-capture", path)
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := httpGet(t, d.url+p); code != 200 || strings.TrimSpace(body) != "ok" {
			t.Errorf("gateway %s: %d %q", p, code, body)
		}
	}
	if _, body := httpGet(t, d.url+"/metrics"); !strings.Contains(body, `parkway_dr_phase{phase="normal"} 1`) {
		t.Errorf("gateway /metrics lacks the normal phase:\n%s", body)
	}
	d.softphone(t, "alice") // signs alice in: her REGISTER goes to pool-a
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, []byte("REGISTER sip:")) && bytes.Contains(b, []byte("OPTIONS sip:")) {
			if binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 {
				t.Fatalf("not a pcap file: % x", b[:4])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute the capture (%d bytes) holds no REGISTER and OPTIONS", len(b))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
