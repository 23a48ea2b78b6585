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
// The demos' re-attach grace (seconds; the product's default) and the shared demo's ICE
// UDP ports, for reattach.spec.ts. The grace is how long a reloaded page has to come back:
// with several browsers starting at once on two cores that can take well over 10 s.
export const reattachGraceSeconds = 30;
export const icePorts = '20000-20999';
// The pools' SIP, TLS and park ports of each demo (parkway demo --pool-ports): a band of
// its own for every demo in the namespace, above every demo's ICE ports (20000–23999) and
// below the kernel's ephemeral ports. A phase test stops pool-a and starts it again on
// its ports; while it is down no browser's or demo's socket may take them (port-0 sockets
// draw from the ephemeral range, ICE from the bands above, another demo from its band).
export const poolPorts = '24000-24099';
const survivablePoolPorts = '24100-24199';
// A free worker's own demo: tests/demo.ts.
export const workerPoolPorts = (i: number): string => `${24200 + 100 * i}-${24299 + 100 * i}`;
// reattach.spec.ts (c)'s demo with a short re-attach grace, one per worker.
export const shortGraceDemoPort = (i: number): number => 18820 + i;
export const shortGracePoolPorts = (i: number): string => `${25200 + 100 * i}-${25299 + 100 * i}`;

// The projects run at the same time (tests/demo.ts says why and how): phase — the tests
// tagged PHASE ('@phase'), which stop and start pools and fail over and back — one at a
// time against the default demo below; phase-survivable — the same for survivable.spec.ts,
// one at a time against the survivable-park demo, beside phase (the two demos share
// nothing); free — every other test, spread over the remaining workers, each worker with
// a `parkway demo` of its own. PARKWAY_E2E_WORKERS sets the total (default 3: phase, and
// one or two free workers). 4 was tried: on 2 cores under load, pages' main threads
// stalled past the 6 s heartbeat and five tests failed on timeouts; 3 is what ran green.
const workers = Number(process.env.PARKWAY_E2E_WORKERS ?? 3);

// Chromium (new headless) gives every window, i.e. every browser context, a renderer of
// its own for the omnibox's WebUI popups, which no test can see: measured on errors.spec,
// those renderers took 40 % as much CPU as the pages under test. Chromium takes only the
// LAST --disable-features, so this one repeats Playwright's own list (playwright-core's
// chromiumSwitches) before adding ours; the check below stops an upgrade of Playwright
// from silently dropping whatever its new list adds.
const playwrightListFrom = '1.65.1';
const playwrightVersion: string = require('playwright-core/package.json').version;
if (playwrightVersion !== playwrightListFrom) {
  throw new Error(
    `playwright.config.ts: playwrightDisabledFeatures was copied from playwright-core ${playwrightListFrom}'s chromiumSwitches; ` +
      `${playwrightVersion} is installed: copy its list again and update playwrightListFrom`,
  );
}
const playwrightDisabledFeatures = [
  'AvoidUnnecessaryBeforeUnloadCheckSync',
  'DestroyProfileOnBrowserClose',
  'HttpsUpgrades',
  'HttpsFirstBalancedModeAutoEnable',
  'LensOverlay',
  'MediaRouter',
  'PaintHolding',
  'ThirdPartyStoragePartitioning',
  'AvoidCorsURLLoaderRestartOnRedirect',
  'TcpPortRandomizationWin',
  'OptimizationHints',
  'NetworkTimeServiceQuerying',
  'AimEnabled',
  'PreconnectToSearch',
];
// SpareRendererForSitePerProcess: after each navigation Chromium starts a spare renderer
// process for the next one, but a spare serves only its own browser context, and nearly
// every page in the suite opens in a new context, so almost every spare was started,
// initialised and thrown away unused: 33 renderers for 12 tests' 18 pages (errors, axe,
// two calls tests), 15 of them spares. Off, each page starts its renderer when it
// navigates, as a spare would have been used for; nothing a test checks runs in a spare.
// Those 12 tests: renderers and zygote 34.8 → 31.0 and 31.1 → 27.6 CPU-s (issue 12).
const disabledFeatures = [...playwrightDisabledFeatures, 'WebUIOmniboxPopup', 'WebUIOmniboxAimPopup', 'SpareRendererForSitePerProcess'];
const survivableSpec = /survivable\.spec\.ts/;

export default defineConfig<object, { ownDemo: boolean }>({
  testDir: './tests',
  workers,
  projects: [
    { name: 'phase', grep: /@phase/, testIgnore: survivableSpec, workers: 1, fullyParallel: false, use: { ownDemo: false } },
    { name: 'phase-survivable', grep: /@phase/, testMatch: survivableSpec, workers: 1, fullyParallel: false, use: { ownDemo: false } },
    { name: 'free', grepInvert: /@phase/, fullyParallel: true, use: { ownDemo: true } },
  ],
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 5_000 },
  reporter: process.env.CI ? [['list']] : [['list'], ['html', { open: 'never' }]],
  outputDir: './test-results',
  use: {
    baseURL,
    headless: true,
    // A click on a button that never becomes enabled fails here, naming the button, instead
    // of waiting out the test's timeout (240 s for call waiting) with no word of what hung.
    // Generous, since the two-core machine is shared by three Chromium pages and the demos.
    actionTimeout: 30_000,
    // The same for a page.goto or reload that never loads: it fails naming the navigation
    // instead of waiting out the whole test's timeout.
    navigationTimeout: 30_000,
    // Traces only when asked (PARKWAY_E2E_TRACE=1), and then without the screencast and
    // DOM snapshots: recording a trace costs CPU the two-core machine does not have, for
    // every test, to keep the few that fail. A DOM snapshot before and after every action
    // and assertion took a third of errors.spec's CPU (61.8 → 42.8 CPU-s in all processes,
    // issue 12); the lean trace still cost the runner 3–4 CPU-s of 14–18 over calls, park
    // and transfer (alternating, load 12–15; 111.6/113.8 → 100.5/110.2 CPU-s in all). A
    // failure prints its error and the console lines the tests log; screenshot adds the
    // page as it failed. With the variable set, a failed test keeps a trace of every
    // action and assertion, the console, the network and the source.
    trace: process.env.PARKWAY_E2E_TRACE ? { mode: 'retain-on-failure', screenshots: false, snapshots: false } : 'off',
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
        `--disable-features=${disabledFeatures.join(',')}`,
      ],
    },
  },
  webServer: [
    {
      // reattach.spec.ts: a short re-attach grace, to see a call end when none comes back,
      // and the gateway's WebRTC UDP in a known range, for an nft rule to drop it alone.
      command: `${bin} demo --http ${host}:${port} --reattach-grace ${reattachGraceSeconds}s --ice-ports ${icePorts} --pool-ports ${poolPorts}`,
      url: `${baseURL}/api/dr`,
      reuseExistingServer: !process.env.CI && !!process.env.PARKWAY_E2E_REUSE,
      timeout: 30_000,
      stdout: 'pipe',
      stderr: 'pipe',
    },
    {
      command: `${bin} demo --survivable-park --http ${host}:${survivablePort} --pool-ports ${survivablePoolPorts}`,
      url: `${survivableURL}/api/dr`,
      reuseExistingServer: !process.env.CI && !!process.env.PARKWAY_E2E_REUSE,
      timeout: 30_000,
      stdout: 'pipe',
      stderr: 'pipe',
    },
  ],
});
