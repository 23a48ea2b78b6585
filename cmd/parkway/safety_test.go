package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/gateway/configfile"
)

// unsafeGatewayConfig has no hosts and no admin token, and listens on every interface:
// `parkway gateway` must refuse it before it opens anything.
const unsafeGatewayConfig = `http: 0.0.0.0:0
pools:
  home:   {name: pool-a, sip: 127.0.0.1:5070, orbits: ["7000-7099"]}
  backup: {name: pool-b, sip: 127.0.0.1:5080, orbits: ["8000-8099"]}
`

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runQuickly runs a subcommand that must return at once (a refusal or a check), failing
// if it is still running after 10 s instead of hanging the test.
func runQuickly(t *testing.T, run func(context.Context, []string) error, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, args) }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		cancel()
		<-done
		t.Fatalf("%v did not return within 10 s: it started serving", args)
		return nil
	}
}

func TestGatewayRefusesUnsafeConfig(t *testing.T) {
	err := runQuickly(t, runGateway, "--config", writeConfig(t, unsafeGatewayConfig))
	if err == nil {
		t.Fatal("the gateway started with no hosts and an open admin API on 0.0.0.0")
	}
	for _, want := range []string{"hosts:", "adminTokenFile:", "--check-config"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not mention %s", err, want)
		}
	}
	// An empty admin token file is no token: refused when the config loads.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "admin.token"), []byte("  \n"), 0o600)
	conf := strings.Replace(unsafeGatewayConfig, "http: 0.0.0.0:0", "http: 127.0.0.1:0\nhosts: [phone.example.com]\nadminTokenFile: admin.token", 1)
	os.WriteFile(filepath.Join(dir, "gateway.yaml"), []byte(conf), 0o600)
	if err := runQuickly(t, runGateway, "--config", filepath.Join(dir, "gateway.yaml")); err == nil || !strings.Contains(err.Error(), "adminTokenFile") {
		t.Errorf("empty admin token file: %v", err)
	}
}

// --check-config prints every unsafe setting and exits with an error (status 1) when
// one is fatal, without starting anything.
func TestCheckConfig(t *testing.T) {
	var out bytes.Buffer
	fc, err := configfile.Load(writeConfig(t, unsafeGatewayConfig))
	if err != nil {
		t.Fatal(err)
	}
	err = printCheck(&out, "gateway.yaml", fc.Check(configfile.CheckOptions{}))
	if err == nil {
		t.Error("--check-config of an unsafe config succeeded")
	}
	for _, want := range []string{"FATAL   hosts:", "FATAL   adminTokenFile:", "warning http:", "warning embedKeyFile:", "warning sessionKeyFile:", "5 unsafe settings, 2 fatal"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--check-config output has no %q:\n%s", want, out.String())
		}
	}
	if err := runQuickly(t, runGateway, "--check-config", "--config", writeConfig(t, unsafeGatewayConfig)); err == nil || !strings.Contains(err.Error(), "2 fatal") {
		t.Errorf("runGateway --check-config: %v, want the fatal count", err)
	}

	// Demo on loopback: warnings only, status 0.
	demo := strings.Replace(unsafeGatewayConfig, "http: 0.0.0.0:0", "http: 127.0.0.1:0\ndemo: true", 1)
	out.Reset()
	fc, err = configfile.Load(writeConfig(t, demo))
	if err != nil {
		t.Fatal(err)
	}
	if err := printCheck(&out, "gateway.yaml", fc.Check(configfile.CheckOptions{})); err != nil || !strings.Contains(out.String(), "warning demo:") {
		t.Errorf("demo on loopback: %v\n%s", err, out.String())
	}
}

// The demo serves on loopback only unless --demo-on-network says otherwise.
func TestDemoRefusesNetworkAddress(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.7:8080"} {
		_, err := parseDemoFlags([]string{"--http", addr})
		if err == nil || !strings.Contains(err.Error(), "--demo-on-network") {
			t.Errorf("demo --http %s: %v, want a refusal naming --demo-on-network", addr, err)
		}
		if _, err := parseDemoFlags([]string{"--http", addr, "--demo-on-network"}); err != nil {
			t.Errorf("demo --http %s --demo-on-network: %v", addr, err)
		}
	}
	if _, err := parseDemoFlags([]string{"--http", "127.0.0.1:8080"}); err != nil {
		t.Errorf("demo on loopback: %v", err)
	}
}
