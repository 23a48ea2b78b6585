// (d) The page reconnects when it loses the gateway, and shows that it is doing so.
//
// The websocket is cut for real from the page's point of view with Playwright's
// routeWebSocket: every /ws the page opens is relayed to the real gateway, and the test
// can close the page's side (as a gateway restart or a proxy timeout would), refuse new
// connections for a while, or stop relaying the gateway's frames (a dead peer that never
// closes: only the heartbeat can notice it).
import type { Page, WebSocketRoute } from '@playwright/test';
import { expect, PHASE, test } from './demo';
import { ACTIONS, button, connection, expectButtons, expectPhase, open, post, recordConnection, restoreNormal, startTimeout, statusRegion } from './support';

test.beforeEach(async ({ request }) => restoreNormal(request));
test.afterEach(async ({ request }) => restoreNormal(request));

// relay routes /ws to the gateway and gives the test control over it.
async function relay(page: Page) {
  const ctl = {
    routes: [] as WebSocketRoute[],
    refuse: 0, // close the next n connections at once
    silent: false, // new connections: relay nothing from the gateway
    heartbeatMs: 0,
  };
  await page.routeWebSocket(/\/ws$/, (ws) => {
    if (ctl.refuse > 0) {
      ctl.refuse--;
      void ws.close({ code: 1013, reason: 'try again later' });
      return;
    }
    const server = ws.connectToServer();
    ctl.routes.push(ws);
    const route = { silent: false };
    server.onMessage((m) => {
      const text = m.toString();
      const welcome = /"type":"welcome"/.test(text) ? JSON.parse(text) : null;
      if (welcome) ctl.heartbeatMs = welcome.data.heartbeatMs;
      if (!route.silent) ws.send(m);
    });
    (ws as unknown as { __route: typeof route }).__route = route;
  });
  return ctl;
}

test('reconnects after the gateway drops the websocket, showing each attempt', { tag: PHASE }, async ({ page, request }) => {
  const ctl = await relay(page);
  const history = await recordConnection(page);
  await open(page, 'alice');
  await expectPhase(page, 'normal');
  expect(ctl.routes).toHaveLength(1);

  // The gateway's side goes away, and new connections are refused until the test has
  // looked at the page in between.
  ctl.refuse = Number.POSITIVE_INFINITY;
  const dropped = Date.now();
  await ctl.routes[ctl.routes.length - 1].close({ code: 1012, reason: 'service restart' });

  await expect(connection(page)).toHaveAttribute('data-connection', 'reconnecting');
  // Wait on the recorded history, not the indicator itself: each attempt shows for only
  // 0.5–1 s, and a poll of the indicator (every second by then) can step over attempt 3.
  await expect
    .poll(history, { message: 'the indicator to have shown "Reconnecting… (attempt 3)"', timeout: 15_000 })
    .toContain('reconnecting: Reconnecting… (attempt 3)');
  await expect(connection(page)).toHaveAttribute('data-connection', 'reconnecting');
  // While reconnecting nothing can be sent, so every button is disabled and says so.
  for (const a of ACTIONS) {
    await expect(button(page, a)).toBeDisabled();
    await expect(button(page, a)).toHaveAttribute('title', 'Reconnecting to the gateway…');
  }
  // The last known phase stays on show, marked stale.
  await expect(statusRegion(page)).toHaveAttribute('data-phase', 'normal');
  await expect(statusRegion(page)).toHaveAttribute('data-stale', 'true');

  // The gateway is back: the page finds it by itself within one backoff (at most 5 s).
  ctl.refuse = 0;
  const back = Date.now();
  await expect(connection(page)).toHaveAttribute('data-connection', 'connected', { timeout: startTimeout });
  const shown = await history();
  console.log(
    `drop → connected again: ${Date.now() - dropped} ms, ${Date.now() - back} ms after the gateway accepted again; indicator: ${shown.join(' | ')}`,
  );
  for (const n of [1, 2, 3]) expect(shown).toContain(`reconnecting: Reconnecting… (attempt ${n})`);
  expect(ctl.routes).toHaveLength(2);

  // Back with live state: buttons follow the capabilities again, and pushes arrive on
  // the new connection.
  await expect(statusRegion(page)).not.toHaveAttribute('data-stale', 'true');
  await expectButtons(page, 'normal');
  await post(request, '/api/demo/pools/pool-a/stop');
  await expectPhase(page, 'failover', { timeout: 5_000 });
  await expectButtons(page, 'failover');
});

test('notices a gateway that falls silent without closing, by the heartbeat', async ({ page }) => {
  const ctl = await relay(page);
  const history = await recordConnection(page);
  await open(page, 'bob');
  expect(ctl.heartbeatMs, 'the welcome names a heartbeat interval').toBeGreaterThan(0);

  // From now on nothing the gateway sends reaches the page, and the socket stays open.
  (ctl.routes[ctl.routes.length - 1] as unknown as { __route: { silent: boolean } }).__route.silent = true;
  const silentAt = Date.now();
  // The page gives up on the silent socket and opens a new one (the reconnecting state
  // in between can last only milliseconds, so the indicator's history is checked after).
  await expect
    .poll(() => ctl.routes.length, { message: 'a new websocket', timeout: 5 * ctl.heartbeatMs + 5_000 })
    .toBeGreaterThanOrEqual(2);
  const noticed = Date.now() - silentAt;
  console.log(`silent gateway noticed and replaced after ${noticed} ms (heartbeat ${ctl.heartbeatMs} ms)`);
  expect(noticed).toBeGreaterThanOrEqual(2 * ctl.heartbeatMs);
  await expect(connection(page)).toHaveAttribute('data-connection', 'connected', { timeout: startTimeout });
  expect(await history()).toContain('reconnecting: Reconnecting… (attempt 1)');
  await expectButtons(page, 'normal');
});

test('before the first state every button is disabled and says it is connecting', async ({ page }) => {
  // A websocket that opens and never answers: the page must not offer anything yet.
  await page.routeWebSocket(/\/ws$/, () => {});
  await page.goto('/?user=alice');
  await expect(page.locator('html')).toHaveAttribute('data-client', 'running', { timeout: startTimeout });
  await expect(connection(page)).toHaveAttribute('data-connection', 'connecting');
  await expect(connection(page)).toContainText('Connecting…');
  for (const a of ACTIONS) {
    await expect(button(page, a)).toBeDisabled();
    await expect(button(page, a)).toHaveAttribute('title', 'Connecting…');
    await expect(button(page, a)).toHaveAccessibleDescription('Connecting…');
  }
  await expect(statusRegion(page)).not.toHaveAttribute('data-phase', /./);
});

test('a refused session token makes the page sign in again', async ({ page }) => {
  const forged = { token: 'forged-token', user: 'alice', expiresAt: new Date(Date.now() + 3600_000).toISOString() };
  await page.addInitScript((s) => {
    if (!sessionStorage.getItem('parkway.test.seeded')) {
      sessionStorage.setItem('parkway.test.seeded', '1');
      sessionStorage.setItem('parkway.session', JSON.stringify(s));
    }
  }, forged);
  await open(page, 'alice');
  const stored = await page.evaluate(() => JSON.parse(sessionStorage.getItem('parkway.session') ?? '{}'));
  expect(stored.user).toBe('alice');
  expect(stored.token).toBeTruthy();
  expect(stored.token).not.toBe(forged.token);
  // The token never appears in the address bar.
  expect(page.url()).not.toContain(stored.token);
});

test('an unknown user is asked to sign in, and can', async ({ page }) => {
  await page.goto('/?user=mallory');
  await expect(connection(page)).toHaveAttribute('data-connection', 'signed-out', { timeout: startTimeout });
  const form = page.locator('[data-part="signin"]');
  await expect(form).toBeVisible();
  await page.getByLabel('Sign in as').fill('alice');
  await page.getByLabel('Sign in as').press('Enter');
  await expect(connection(page)).toHaveAttribute('data-connection', 'connected', { timeout: startTimeout });
  await expect(form).toBeHidden();
  await expect(page.locator('[data-part="user"]')).toHaveText('alice');
});

test('rides out the browser going offline and back', async ({ page, context }) => {
  const history = await recordConnection(page);
  await open(page, 'carol');
  // Chromium's offline emulation fails new connections and stops delivering frames on
  // open websockets: the heartbeat notices, and reconnect attempts fail until online.
  await context.setOffline(true);
  await expect(connection(page)).toHaveAttribute('data-connection', 'reconnecting', { timeout: 15_000 });
  await expect(connection(page)).toContainText(/Reconnecting… \(attempt [2-9]\d*\)/, { timeout: 15_000 });
  await context.setOffline(false);
  await expect(connection(page)).toHaveAttribute('data-connection', 'connected', { timeout: startTimeout });
  await expectButtons(page, 'normal');
  console.log(`offline → online: ${(await history()).join(' | ')}`);
});

test('a page whose WebAssembly cannot load says so', async ({ page }) => {
  // The page loads main.wasm by its content-hashed name (main.<hash>.wasm).
  await page.route(/\/main(\.[0-9a-f]+)?\.wasm$/, (route) => route.fulfill({ status: 503, body: 'unavailable' }));
  await page.goto('/?user=alice');
  await expect(page.locator('html')).toHaveAttribute('data-client', 'failed', { timeout: startTimeout });
  await expect(page.locator('[data-part="loader"]')).toBeVisible();
  await expect(page.locator('[data-part="loader"]')).toContainText('could not be loaded');
  for (const a of ACTIONS) await expect(button(page, a)).toBeDisabled();
});
