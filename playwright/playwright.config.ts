// Playwright drives Debian's Chromium (/usr/bin/chromium; no browser downloads) against a
// real `parkway demo` that the webServer below starts on loopback. scripts/e2e.sh runs
// this inside a network namespace that has only loopback when it runs as root.
import { defineConfig } from '@playwright/test';

// An uncommon fixed port, overridable, so a developer's `go tool task up` on 8080 does
// not collide with the suite.
const port = Number(process.env.PARKWAY_E2E_PORT ?? 18787);
const host = '127.0.0.1';
export const baseURL = `http://${host}:${port}`;
// A second demo with survivable park on (issue #10, opt-in), on its own port, for
// survivable.spec.ts; the first stays the seed's default.
const survivablePort = Number(process.env.PARKWAY_E2E_SURVIVABLE_PORT ?? 18789);
export const survivableURL = `http://${host}:${survivablePort}`;
const bin = process.env.PARKWAY_BIN ?? '../bin/parkway';
// The demo's re-attach grace (seconds) and its gateway's ICE UDP ports, for reattach.spec.ts.
export const reattachGraceSeconds = 10;
export const icePorts = '20000-20999';

export default defineConfig({
  testDir: './tests',
  // Specs share one demo server and change its pool phase: run them one at a time, in
  // file order. The machine has two cores and Go builds may share it.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 5_000 },
  reporter: process.env.CI ? [['list']] : [['list'], ['html', { open: 'never' }]],
  outputDir: './test-results',
  use: {
    baseURL,
    headless: true,
    // Traces without the screencast: it costs CPU the two-core machine does not have.
    trace: { mode: 'retain-on-failure', screenshots: false, snapshots: true },
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.PARKWAY_CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
        '--allow-loopback-in-peer-connection',
        '--autoplay-policy=no-user-gesture-required',
      ],
    },
  },
  webServer: [
    {
      // reattach.spec.ts: a short re-attach grace, to see a call end when none comes back,
      // and the gateway's WebRTC UDP in a known range, for an nft rule to drop it alone.
      command: `${bin} demo --http ${host}:${port} --reattach-grace ${reattachGraceSeconds}s --ice-ports ${icePorts}`,
      url: `${baseURL}/api/dr`,
      reuseExistingServer: !process.env.CI && !!process.env.PARKWAY_E2E_REUSE,
      timeout: 30_000,
      stdout: 'pipe',
      stderr: 'pipe',
    },
    {
      command: `${bin} demo --survivable-park --http ${host}:${survivablePort}`,
      url: `${survivableURL}/api/dr`,
      reuseExistingServer: !process.env.CI && !!process.env.PARKWAY_E2E_REUSE,
      timeout: 30_000,
      stdout: 'pipe',
      stderr: 'pipe',
    },
  ],
});
