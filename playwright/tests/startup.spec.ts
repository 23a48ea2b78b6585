// The websocket boot.js opens while main.wasm downloads and compiles (issue 12;
// static/boot.js, wasm/early_js.go): the program signs in on it when it starts, and the
// page behaves the same when the socket is of no use by then.
import type { Page, WebSocket } from '@playwright/test';
import { expect, test } from './demo';
import { open, recordConnection } from './support';

// sockets records every websocket the page opens, with whether it sent an auth message
// and whether it has closed, and counts the page's sign-ins (POST /api/session).
function watch(page: Page) {
  const seen = { sockets: [] as { ws: WebSocket; auth: boolean; closed: boolean }[], signIns: 0 };
  page.on('websocket', (ws) => {
    const s = { ws, auth: false, closed: false };
    seen.sockets.push(s);
    ws.on('framesent', (f) => {
      if (/"type":"auth"/.test(String(f.payload))) s.auth = true;
    });
    ws.on('close', () => (s.closed = true));
  });
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/session') seen.signIns++;
  });
  return seen;
}

test('the client signs in on the websocket opened while it compiled, and on no other', async ({ page }) => {
  const seen = watch(page);
  await open(page, 'alice');
  // The program took boot.js's socket (to use it, or to close it if the gateway had
  // already timed it out: on a loaded machine a compile can take longer than that).
  expect(await page.evaluate(() => 'parkwayEarlySocket' in window)).toBe(false);
  await expect.poll(() => seen.sockets.filter((s) => !s.closed).length, { message: 'one websocket stays open' }).toBe(1);
  expect(seen.sockets.find((s) => !s.closed)!.auth, 'the open one signed in').toBe(true);
  expect(seen.signIns).toBe(1);
});

test('an early websocket the gateway timed out before the program started is replaced, with no reconnect and no new sign-in', async ({ page }) => {
  test.setTimeout(60_000);
  const seen = watch(page);
  const history = await recordConnection(page);
  // main.wasm held back past the gateway's auth timeout (gateway.DefaultAuthTimeout, 5 s,
  // which the demo keeps): the gateway closes boot.js's silent socket meanwhile.
  const holdMs = 7_000;
  await page.route(/\/main\.[0-9a-f]+\.wasm$/, async (route) => {
    const resp = await route.fetch();
    await new Promise((r) => setTimeout(r, holdMs));
    await route.fulfill({ response: resp });
  });
  await open(page, 'alice');
  expect(seen.sockets.length, 'the early socket and the one that replaced it').toBe(2);
  expect(seen.sockets[0].auth, 'nothing was sent on the early socket').toBe(false);
  expect(seen.sockets[0].closed).toBe(true);
  expect(seen.sockets[1].auth).toBe(true);
  expect(seen.signIns).toBe(1);
  const states = await history();
  expect(states.filter((s) => /^(reconnecting|signed-out)/.test(s)), 'connection states shown').toEqual([]);
});

test('a refusal on the early websocket is tried again at once on a new one, keeping the session', async ({ page }) => {
  const seen = watch(page);
  const history = await recordConnection(page);
  // The first socket (boot.js's) answers the auth as the gateway does when its auth
  // timeout ran out just before the auth arrived; the others go to the gateway.
  const auths: number[] = []; // per routed socket, the auth messages it carried
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const n = auths.push(0) - 1;
    if (n === 0) {
      ws.onMessage((m) => {
        if (!/"type":"auth"/.test(String(m))) return;
        auths[n]++;
        ws.send(JSON.stringify({ v: 1, type: 'error', data: { code: 'unauthorized', message: 'no auth message within 5s' } }));
        void ws.close({ code: 1008, reason: 'unauthorized' });
      });
      return;
    }
    const server = ws.connectToServer();
    ws.onMessage((m) => {
      if (/"type":"auth"/.test(String(m))) auths[n]++;
      server.send(m);
    });
    server.onMessage((m) => ws.send(m));
  });
  await open(page, 'alice');
  expect(auths, 'auth messages on each socket: the early one, then its replacement').toEqual([1, 1]);
  expect(seen.signIns, 'the refusal on the early socket did not throw the session away').toBe(1);
  const states = await history();
  expect(states.filter((s) => /^(reconnecting|signed-out)/.test(s)), 'connection states shown').toEqual([]);
});
