// Measurements, not pass/fail timers (ARCHITECTURE.md §5): page load → connected with the
// buttons rendered, in headless Chromium, and main.wasm's size raw and as served. The
// numbers are printed and attached to the report. Screenshots at phone and desktop width
// go to test-results/ for people to look at.
import { expect, test } from '@playwright/test';
import { alertRegion, button, connection, expectPhase, open, post, restoreNormal, startTimeout } from './support';

test('page load → connected with buttons rendered (measured)', async ({ page, request }, info) => {
  const runs: Record<string, number>[] = [];
  for (let i = 0; i < 5; i++) {
    await page.goto(`/?user=alice&run=${i}`);
    await expect(page.locator('html')).toHaveAttribute('data-ready', 'true', { timeout: startTimeout });
    await expect(connection(page)).toHaveAttribute('data-connection', 'connected');
    // performance marks are relative to navigation start.
    const m = await page.evaluate(() => {
      const at = (name: string) => performance.getEntriesByName(name)[0]?.startTime ?? NaN;
      return {
        ready: at('parkway-ready'),
        wasm: at('parkway-wasm-started'),
        signin: at('parkway-signin'),
        session: at('parkway-session'),
        open: at('parkway-ws-open'),
        welcome: at('parkway-welcome'),
      };
    });
    runs.push(m);
    // A new tab is a cold-ish start: sessionStorage is per tab, so it also signs in.
    await page.evaluate(() => sessionStorage.clear());
  }
  const sorted = runs.map((r) => r.ready).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const line = `page load → connected, buttons rendered: median ${median.toFixed(0)} ms (runs ${runs
    .map((r) => `${r.ready.toFixed(0)} [wasm running ${r.wasm.toFixed(0)}, sign-in ${r.signin.toFixed(0)}→${r.session.toFixed(0)}, ws open ${r.open.toFixed(0)}, welcome ${r.welcome.toFixed(0)}]`)
    .join(', ')})`;
  console.log(line);
  info.annotations.push({ type: 'page load → connected', description: line });

  const gz = await request.get('/main.wasm', { headers: { 'Accept-Encoding': 'gzip' } });
  const raw = await request.get('/main.wasm', { headers: { 'Accept-Encoding': 'identity' } });
  expect(gz.ok() && raw.ok()).toBeTruthy();
  const sizes = `main.wasm: ${(await raw.body()).length} bytes raw; served with Content-Encoding ${
    gz.headers()['content-encoding'] ?? 'none'
  }, Content-Length ${gz.headers()['content-length'] ?? '?'}`;
  console.log(sizes);
  info.annotations.push({ type: 'main.wasm size', description: sizes });
});

test('screenshots at phone and desktop width', async ({ page, request }, info) => {
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
