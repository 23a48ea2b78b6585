// Measurements, not pass/fail timers (ARCHITECTURE.md §5): page load → connected with the
// buttons rendered, in headless Chromium, and main.wasm's size raw and as served. The
// numbers are printed and attached to the report. Screenshots at phone and desktop width
// go to test-results/ for people to look at.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CDPSession, Page, TestInfo } from '@playwright/test';
import { expect, PHASE, test } from './demo';
import { mainThreadCPU, startTrace, stopTrace, traceLoads } from './loadtrace';
import { runsFrom } from './runs';
import { alertRegion, button, connection, expectPhase, open, post, restoreNormal, startTimeout } from './support';

type Marks = Record<'ready' | 'compiled' | 'wasm' | 'earlySignin' | 'earlyAnswer' | 'signin' | 'session' | 'early' | 'open' | 'welcome' | 'thread' | 'process', number>;

// Busy is the CPU time the page's renderer has used so far, from Chromium's own counters
// (the DevTools protocol's Performance.getMetrics): ThreadTime, its main thread's, and
// ProcessTime, the whole renderer's (with the WebAssembly compiler's threads), in ms.
// Unlike the wall-clock marks they count only work the page did, so a machine busy with
// other things disturbs them less (issue 12).
type Busy = { thread: number; process: number };

async function busy(cdp: CDPSession): Promise<Busy> {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const value = (name: string) => (metrics.find((m) => m.name === name)?.value ?? NaN) * 1000;
  return { thread: value('ThreadTime'), process: value('ProcessTime') };
}

// measure opens a DevTools session on page that counts its CPU time.
async function measure(page: Page): Promise<CDPSession> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  return cdp;
}

// untilStarted runs in the page: it resolves once <html> says the client is ready
// (data-ready, set with the first state it rendered) or failed (data-client), and fails
// after timeoutMs saying what it saw. It waits with a MutationObserver rather than a
// Playwright locator: a locator first evaluates Playwright's injected script (≈ 330 KB)
// in the new document, which a Chromium trace of these loads showed on the page's main
// thread before the client had even compiled (20–26 ms of its CPU, 24–82 ms of wall
// time on the shared machine) — the harness's work, not the page's, inside the measured
// load. The page's own marks and counters are read after it, so its work is not in them.
function untilStarted(timeoutMs: number): Promise<'ready' | 'failed'> {
  return new Promise((resolve, reject) => {
    const root = document.documentElement;
    const outcome = () => (root.dataset.ready === 'true' ? 'ready' : root.dataset.client === 'failed' ? 'failed' : undefined);
    const seen = outcome();
    if (seen) {
      resolve(seen);
      return;
    }
    const observer = new MutationObserver(() => {
      const now = outcome();
      if (now) {
        observer.disconnect();
        clearTimeout(timer);
        resolve(now);
      }
    });
    const timer = setTimeout(() => {
      observer.disconnect();
      reject(new Error(`the page was neither ready nor failed after ${timeoutMs} ms (data-client=${root.dataset.client}, data-connection=${root.dataset.connection})`));
    }, timeoutMs);
    observer.observe(root, { attributes: true, attributeFilter: ['data-ready', 'data-client'] });
  });
}

// loadMarks reads the client's performance marks, relative to navigation start, once the
// page is connected with its buttons rendered, and the CPU time it used since before
// (cdp's counters before the navigation), read at that moment.
async function loadMarks(page: Page, cdp: CDPSession, before: Busy): Promise<Marks> {
  const outcome = await page.evaluate(untilStarted, startTimeout);
  const after = await busy(cdp);
  if (outcome === 'failed') {
    throw new Error(`the client did not start: ${await page.locator('[data-part="loader"]').textContent()}`);
  }
  // The first state is rendered only after the welcome, so a ready page is connected.
  await expect(connection(page)).toHaveAttribute('data-connection', 'connected');
  const marks = await page.evaluate(() => {
    const at = (name: string) => performance.getEntriesByName(name)[0]?.startTime ?? NaN;
    return {
      ready: at('parkway-ready'),
      compiled: at('parkway-wasm-loaded'),
      wasm: at('parkway-wasm-started'),
      earlySignin: at('parkway-early-signin'), // boot.js's sign-in started (NaN: none, the tab had a session)
      earlyAnswer: at('parkway-early-signin-answer'), // its answer reached the page's thread
      signin: at('parkway-signin'),
      session: at('parkway-session'),
      early: at('parkway-early-ws-open'), // boot.js's socket open (NaN: it was not used or not open)
      open: at('parkway-ws-open'),
      welcome: at('parkway-welcome'),
    };
  });
  // A navigation may commit in a new renderer process, whose counters start again at 0.
  const since = (a: number, b: number) => (a >= b ? a - b : a);
  return { ...marks, thread: since(after.thread, before.thread), process: since(after.process, before.process) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function report(info: TestInfo, what: string, runs: Marks[]) {
  const line = `${what}: median ${median(runs.map((r) => r.ready)).toFixed(0)} ms (runs ${runs
    .map(
      (r) =>
        `${r.ready.toFixed(0)} [compiled ${r.compiled.toFixed(0)}, wasm running ${r.wasm.toFixed(0)}, sign-in ${r.earlySignin.toFixed(0)} (answered ${r.earlyAnswer.toFixed(0)})/${r.signin.toFixed(0)}→${r.session.toFixed(0)}, early ws open ${r.early.toFixed(0)}, ws open ${r.open.toFixed(0)}, welcome ${r.welcome.toFixed(0)}]`,
    )
    .join(', ')})`;
  console.log(line);
  info.annotations.push({ type: what, description: line });
  // The same loads' CPU time (to when the marks were read, just after ready).
  const busyLine = `CPU time to ready ${what.replace(/^.*\(/, '(')}: main thread median ${median(runs.map((r) => r.thread)).toFixed(0)} ms, renderer median ${median(
    runs.map((r) => r.process),
  ).toFixed(0)} ms (runs ${runs.map((r) => `${r.thread.toFixed(0)}/${r.process.toFixed(0)}`).join(', ')})`;
  console.log(busyLine);
  info.annotations.push({ type: `${what}, CPU`, description: busyLine });
}

// loadRuns is how many measured rounds the test loads (a cold load, a reload and a repeat
// visit each): one in the suite (the client starts; a repeat visit takes the hashed files
// from the cache), 5 for the medians BENCHMARKS.md reports (PARKWAY_LOAD_RUNS, set by
// bench-anchors).
const loadRuns = runsFrom('PARKWAY_LOAD_RUNS', 1);

// firstVisitMs is how long the repeat visit's first visit stays open past ready. Chromium
// writes the client's compiled code to its code cache only when V8 hands the module over,
// and V8 (Chromium 156) does that late: once it has 1,000 bytes of optimised (TurboFan)
// code it checks 2 s later for 2 s without new optimised code, and a check that finds
// newer code re-arms itself with the milliseconds left taken as seconds
// (CompilationStateImpl::TriggerCachingAfterTimeout in v8/src/wasm/module-compiler.cc).
// The client's start tiers code up for a few hundred ms, so the entry is written only
// minutes into the first visit (issue 12, traced: none by 3, 5 or 10 s, the first at
// 583 s in a 15 min visit; with --wasm-caching-timeout-ms=10 the re-check came 5 s late
// instead of 5 ms). A softphone's first visit may well last that long, but a benchmark
// of five rounds cannot wait for it, and a V8 flag the user's browser does not have
// would measure another browser: the warm number is a repeat visit that compiles the
// client again, its bytes from the HTTP cache.
const firstVisitMs = 1000;

// wasmCodeCacheBytes is how much compiled WebAssembly a browser profile's code cache on
// disk holds (its Code Cache/wasm directory, less the index): 0 when none.
function wasmCodeCacheBytes(profile: string): number {
  const dir = path.join(profile, 'Default', 'Code Cache', 'wasm');
  let bytes = 0;
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return 0; // no cache directory yet: nothing cached
  }
  for (const name of names) {
    if (name.startsWith('index')) continue;
    const st = fs.statSync(path.join(dir, name));
    if (st.isFile()) bytes += st.size;
  }
  return bytes;
}

// Three loads a round:
// - cold: a new browser context (empty HTTP cache, no compiled code, no session), as a
//   first visit;
// - warm (repeat visit): the page opened again in a NEW tab of a browser profile on disk
//   that visited it before, once the first tab has closed: a new renderer, which takes
//   main.wasm's bytes from the HTTP cache under the hashed name, without asking the
//   gateway, and its compiled code from Chromium's code cache on disk if the first visit
//   left it there. This is the goal's "repeat visit". (Incognito contexts, the ones
//   newContext makes, keep no code cache at all.)
//   The first visit stays open 1 s past ready, and leaves no code cache entry: the
//   report says how many did (firstVisitMs above says why a longer one would not either).
// - reload (same tab): the cold tab reloaded; V8's in-memory module cache of the same
//   renderer serves it, so it is faster than any real repeat visit — reported beside the
//   others, not as the warm number (issue 12).
test('page load → connected with buttons rendered, cold and warm (measured)', async ({ browser, request, playwright, launchOptions, baseURL }, info) => {
  // four page loads a run and one more; on a two-core machine shared with other workers
  // each can take many seconds
  test.setTimeout(60_000 + 60_000 * loadRuns);
  const cold: Marks[] = [];
  const warm: Marks[] = [];
  const codeCached: number[] = []; // bytes of compiled code each first visit left for its repeat visit
  const reload: Marks[] = [];
  const traced: Record<'cold' | 'warm' | 'reload', Record<string, number>[]> = { cold: [], warm: [], reload: [] };
  const logErrors = (page: Page, run: string) =>
    page.on('console', (m) => {
      if (m.type() === 'error') console.log(`run ${run} console error: ${m.text()}`);
    });
  // main.wasm and the page's scripts, stylesheet and icon, by their content-hashed names.
  const hashedRequests = (page: Page) => {
    const urls: string[] = [];
    page.on('requestfinished', (r) => {
      if (/\.[0-9a-f]{16}\.(wasm|js|css|svg)$/.test(r.url())) urls.push(r.url());
    });
    return urls;
  };
  const expectImmutable = async (page: Page, urls: string[]) => {
    for (const url of urls) {
      const resp = await (await page.request.fetch(url, { method: 'HEAD' })).headers();
      expect(resp['cache-control'], `${url} on a repeat visit`).toContain('immutable');
    }
  };
  for (let i = 0; i < loadRuns; i++) {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      logErrors(page, `${i} (cold)`);
      const hashed = hashedRequests(page);
      const cdp = await measure(page);
      let tracing = traceLoads ? await startTrace(browser) : undefined;
      let before = await busy(cdp);
      await page.goto(`/?user=alice&run=${i}`);
      cold.push(await loadMarks(page, cdp, before));
      if (tracing) traced.cold.push(mainThreadCPU(await stopTrace(tracing, info.outputPath(`trace-cold-${i}.json`))));
      // Let V8 finish caching the compiled module before the reload.
      await page.waitForTimeout(500);
      hashed.length = 0;
      tracing = traceLoads ? await startTrace(browser) : undefined;
      before = await busy(cdp);
      await page.goto(`/?user=alice&run=${i}&reload`);
      reload.push(await loadMarks(page, cdp, before));
      if (tracing) traced.reload.push(mainThreadCPU(await stopTrace(tracing, info.outputPath(`trace-reload-${i}.json`))));
      await expectImmutable(page, hashed);
    } finally {
      await context.close();
    }

    // The repeat visit, in a profile of its own on disk.
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'parkway-load-'));
    const persistent = await playwright.chromium.launchPersistentContext(profile, { ...launchOptions, headless: true, baseURL });
    try {
      const first = persistent.pages()[0] ?? (await persistent.newPage());
      logErrors(first, `${i} (first visit)`);
      const firstCDP = await measure(first);
      await first.goto(`/?user=alice&run=${i}&first`);
      await loadMarks(first, firstCDP, await busy(firstCDP));
      // Close the first tab after firstVisitMs: the next one starts in a new renderer.
      await first.waitForTimeout(firstVisitMs);
      await first.close();
      codeCached.push(wasmCodeCacheBytes(profile));
      const page = await persistent.newPage();
      logErrors(page, `${i} (repeat visit)`);
      const hashed = hashedRequests(page);
      const cdp = await measure(page);
      const persistentBrowser = persistent.browser();
      const tracing = traceLoads && persistentBrowser ? await startTrace(persistentBrowser) : undefined;
      const before = await busy(cdp);
      await page.goto(`/?user=alice&run=${i}&warm`);
      warm.push(await loadMarks(page, cdp, before));
      if (tracing) traced.warm.push(mainThreadCPU(await stopTrace(tracing, info.outputPath(`trace-warm-${i}.json`))));
      await expectImmutable(page, hashed);
    } finally {
      await persistent.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
  }
  report(info, 'page load → connected, buttons rendered (cold: new context)', cold);
  const cachedRuns = codeCached.filter((n) => n > 0).length;
  report(
    info,
    `page load → connected, buttons rendered (warm: repeat visit, a new tab of a profile on disk, after a first visit of ${firstVisitMs / 1000} s past ready; ` +
      `a code cache entry in ${cachedRuns} of ${codeCached.length} runs)`,
    warm,
  );
  report(info, 'page load → connected, buttons rendered (reload: the same tab, not a repeat visit)', reload);
  for (const kind of ['cold', 'warm', 'reload'] as const) {
    if (!traced[kind].length) continue;
    const names = [...new Set(traced[kind].flatMap((r) => Object.keys(r)))];
    const line = `main-thread CPU to ready by what it ran (${kind}, traced loads, median ms): ${names
      .map((n) => [n, median(traced[kind].map((r) => r[n] ?? 0))] as const)
      .sort((a, b) => b[1] - a[1])
      .map(([n, ms]) => `${n} ${ms.toFixed(0)}`)
      .join(', ')}`;
    console.log(line);
    info.annotations.push({ type: `${kind} main-thread CPU by task`, description: line });
  }

  // What Chromium downloads: the name the page preloads, in the coding Chromium asks for.
  const page = await browser.newPage();
  const served = page.waitForResponse((r) => /\/main\.[0-9a-f]+\.wasm$/.test(r.url()));
  await page.goto('/?user=alice');
  const resp = await served;
  const headers = await resp.allHeaders();
  await page.close();
  const raw = await request.get('/main.wasm', { headers: { 'Accept-Encoding': 'identity' } });
  expect(raw.ok()).toBeTruthy();
  const sizes = `main.wasm: ${(await raw.body()).length} bytes raw; served to Chromium at ${new URL(resp.url()).pathname} with Content-Encoding ${
    headers['content-encoding'] ?? 'none'
  }, Content-Length ${headers['content-length'] ?? '?'}, Cache-Control ${headers['cache-control'] ?? '?'}`;
  console.log(sizes);
  info.annotations.push({ type: 'main.wasm size', description: sizes });
});

test('screenshots at phone and desktop width', { tag: PHASE }, async ({ page, request }, info) => {
  await restoreNormal(request);
  for (const [name, size] of [
    ['phone', { width: 390, height: 844 }],
    ['desktop', { width: 1280, height: 860 }],
  ] as const) {
    await page.setViewportSize(size);
    await open(page, 'alice');
    const path = info.outputPath(`softphone-${name}.png`);
    await page.screenshot({ path, fullPage: true });
    console.log(`screenshot: ${path}`);
  }
  // Resiliency mode, with the gateway's answer to a Call on show: the call in the list
  // (dialing through pool-b), or the alert if the gateway refused it.
  await post(request, '/api/demo/pools/pool-a/stop');
  await expectPhase(page, 'failover', { timeout: 5_000 });
  await page.getByLabel('Number', { exact: true }).fill('nobody');
  await button(page, 'call').click();
  const liveCall = page.locator('[data-part="calls"] [data-call-state]:not([data-call-state="ended"])');
  await expect(alertRegion(page).or(liveCall).first()).toBeVisible({ timeout: 15_000 });
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.waitForTimeout(300); // let the buttons' colour transitions finish
    const path = info.outputPath(`softphone-desktop-failover-${scheme}.png`);
    await page.screenshot({ path, fullPage: true });
    console.log(`screenshot: ${path}`);
  }
  if (await liveCall.count()) {
    await button(page, 'hangup').click();
    await expect(liveCall).toHaveCount(0, { timeout: 10_000 });
  }
  await restoreNormal(request);
});
