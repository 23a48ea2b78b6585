// Issue 6: the embeddable widget. A host site on another loopback origin (playwright/host/,
// http://127.0.0.2:18788, on the demo's embed allowlist) embeds the widget with embed.js,
// buys its ticket through its own backend, and drives a whole call by postMessage while a
// plain softphone page answers as bob. A host not on the allowlist (127.0.0.3) is blocked
// by CSP frame-ancestors; a foreign frame's messages are ignored; malformed and unknown
// commands get typed errors; an expired and a reused ticket are refused. The widget's
// load → ready time is measured (printed, never a pass/fail timer), and the README's
// screenshots are taken: into the test's output directory, or into docs/ with
// PARKWAY_SCREENSHOTS=docs (a test run leaves the checkout as it found it).
import path from 'node:path';
import type { Browser, BrowserContext, Frame, Page, TestInfo, WebSocketRoute } from '@playwright/test';
import { expect, test } from './demo';
import { DEMO_EMBED_KEY, startHost, type Host } from '../host/server';
import { median, runsFrom } from './runs';
import { button, expectNoCSPViolations, open, restoreNormal, startTimeout, watchCSP } from './support';

// The demo this worker's tests run against (tests/demo.ts), set before the first test.
let gateway = '';
// Where the README's screenshots go (see the top of this file).
const screenshot = (info: TestInfo, name: string) =>
  process.env.PARKWAY_SCREENSHOTS === 'docs' ? path.join(__dirname, '..', '..', 'docs', name) : info.outputPath(name);

let allowed: Host;
let disallowed: Host;

// The hosts listen on fixed addresses (the demo's embed allowlist names 127.0.0.2:18788),
// so this file's tests stay together, in order, on one worker.
test.describe.configure({ mode: 'default' });

test.beforeAll(async ({ demo }) => {
  gateway = demo.url;
  allowed = await startHost('127.0.0.2', 18788, gateway);
  disallowed = await startHost('127.0.0.3', 18789, gateway);
});
test.afterAll(async () => {
  await allowed?.close();
  await disallowed?.close();
});
test.beforeEach(async ({ request }) => restoreNormal(request));

type Event = { event: string; data: any; at: number };
type Reply = { type: string; id: unknown; ok?: boolean; code?: string; message?: string; field?: string; call?: string };

const contexts: BrowserContext[] = [];
test.afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
});

async function newPage(browser: Browser): Promise<Page> {
  const ctx = await browser.newContext({ permissions: ['microphone'] });
  contexts.push(ctx);
  return ctx.newPage();
}

// hostPage opens the host site with query (user=…, ticket=…, foreign=…).
async function hostPage(browser: Browser, query: string, host = allowed): Promise<Page> {
  const page = await newPage(browser);
  await watchCSP(page);
  await page.goto(`${host.origin}/?${query}`);
  return page;
}

const events = (page: Page): Promise<Event[]> => page.evaluate(() => (window as any).__events as Event[]);

async function waitForEvent(page: Page, name: string, match: (data: any) => boolean = () => true, timeout = 15_000): Promise<Event> {
  let found: Event | undefined;
  await expect
    .poll(async () => (found = (await events(page)).find((e) => e.event === name && match(e.data))) !== undefined, {
      message: `host page receives a ${name} event`,
      timeout,
    })
    .toBe(true);
  return found!;
}

async function waitReady(page: Page): Promise<Event> {
  return waitForEvent(page, 'ready', () => true, startTimeout);
}

const widgetFrame = (page: Page): Frame => {
  const f = page.frames().find((fr) => fr.url().startsWith(`${gateway}/widget.html`));
  if (!f) throw new Error('no widget frame');
  return f;
};

// command drives the widget through embed.js's API, as a host page's code would.
async function command(page: Page, name: string, args: Record<string, unknown> = {}): Promise<Reply> {
  return page.evaluate(
    ([n, a]) =>
      (window as any).__widget.command(n, a).then(
        (r: any) => ({ type: 'parkway:result', ...r }),
        (e: any) => ({ type: 'parkway:error', code: e.code, message: e.message, field: e.field }),
      ),
    [name, args] as const,
  );
}

// raw posts msg to the widget's frame as any script of the host page could, and returns
// the widget's answer.
async function raw(page: Page, msg: unknown): Promise<Reply> {
  return page.evaluate(
    ([m, gw]) =>
      new Promise<Reply>((resolve) => {
        const frame = document.querySelector<HTMLIFrameElement>('#phone iframe')!;
        const onMessage = (ev: MessageEvent) => {
          if (ev.source !== frame.contentWindow || ev.origin !== gw) return;
          if (ev.data?.type !== 'parkway:result' && ev.data?.type !== 'parkway:error') return;
          window.removeEventListener('message', onMessage);
          resolve(ev.data);
        };
        window.addEventListener('message', onMessage);
        frame.contentWindow!.postMessage(m, gw);
      }),
    [msg, gateway] as const,
  );
}

const callEvents = async (page: Page) => (await events(page)).filter((e) => e.event === 'call');

test('a host page embeds the widget and drives a whole call by postMessage', async ({ browser }, info) => {
  test.setTimeout(150_000);
  const bob = await newPage(browser);
  await watchCSP(bob);
  await open(bob, 'bob');

  const host = await hostPage(browser, 'user=alice');
  const ready = await waitReady(host);
  expect(ready.data.user, 'ready names the user the host vouched for').toBe('alice');
  const state = await waitForEvent(host, 'state', (d) => d.phase === 'normal');
  expect(state.data.homePool).toBe('pool-a');
  expect(state.data.capabilities.call.allowed, 'state carries the capabilities').toBe(true);
  await waitForEvent(host, 'connection', (d) => d.state === 'connected');

  // The iframe as embed.js makes it.
  const iframe = host.locator('#phone iframe');
  await expect(iframe).toHaveAttribute('allow', 'microphone; autoplay');
  await expect(iframe).toHaveAttribute('title', 'Parkway softphone');
  await expect(iframe).toHaveAttribute('src', `${gateway}/widget.html`);

  // A refused command comes back with the gateway's code and changes nothing.
  const refused = await command(host, 'hangup');
  expect(refused.type).toBe('parkway:error');
  expect(['refused', 'no-call']).toContain(refused.code);

  // Dial bob. His SIP registration runs in the background after his sign-in, so until
  // it is at the pool a call to him is not-found: try again until one is placed.
  let placed: Reply | undefined;
  await expect(async () => {
    placed = await command(host, 'dial', { target: 'bob' });
    expect(placed, JSON.stringify(placed)).toMatchObject({ type: 'parkway:result', ok: true });
  }).toPass({ timeout: 30_000 });
  const ringing = bob.locator('[data-part="calls"] [data-call-state="ringing"]');
  await expect(ringing).toHaveCount(1, { timeout: 15_000 });
  await button(bob, 'answer').click();

  const active = await waitForEvent(host, 'call', (d) => d.state === 'active' && String(d.peer).includes('bob'));
  expect(active.data.direction).toBe('outgoing');
  if (placed?.call) expect(active.data.id).toBe(placed.call);
  await expect(widgetFrame(host).locator('[data-call-state="active"]')).toHaveCount(1);

  // The README's screenshot of the widget, mid-call on a host page.
  await host.setViewportSize({ width: 1000, height: 560 });
  await host.screenshot({ path: screenshot(info, 'widget.png') });

  // Mute needs the call's microphone track, which the client may still be attaching
  // just after the answer ("not available yet"): ask again until it is.
  await expect(async () => expect(await command(host, 'mute', { muted: true })).toMatchObject({ ok: true })).toPass({ timeout: 15_000 });
  await waitForEvent(host, 'call', (d) => d.id === active.data.id && d.muted === true);
  expect(await command(host, 'mute', { muted: false })).toMatchObject({ ok: true });
  expect(await command(host, 'hold')).toMatchObject({ ok: true });
  await waitForEvent(host, 'call', (d) => d.id === active.data.id && d.state === 'held');
  expect(await command(host, 'resume')).toMatchObject({ ok: true });
  const resumedAt = (await callEvents(host)).length;
  await expect.poll(async () => (await callEvents(host)).slice(resumedAt - 1).some((e) => e.data.state === 'active')).toBe(true);

  expect(await command(host, 'hangup')).toMatchObject({ ok: true });
  await waitForEvent(host, 'call', (d) => d.id === active.data.id && d.state === 'ended');
  await expect(bob.locator('[data-part="calls"] [data-call-state]:not([data-call-state="ended"])')).toHaveCount(0, { timeout: 10_000 });
  // The widget (its frame is the host page's) and the page ran the whole call under the
  // gateway's Content-Security-Policy and it refused nothing.
  await expectNoCSPViolations(host);
  await expectNoCSPViolations(bob);
});

// inbound sums the audio RTP a frame's live PeerConnections received (the client keeps
// them in window.__parkwayPCs, a test hook).
async function inbound(frame: Frame): Promise<{ pcs: number; packets: number }> {
  return frame.evaluate(async () => {
    const pcs = ((window as any).__parkwayPCs ?? []).filter((pc: RTCPeerConnection) => pc.connectionState !== 'closed');
    let packets = 0;
    for (const pc of pcs)
      (await pc.getStats()).forEach((s: any) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') packets += s.packetsReceived ?? 0;
      });
    return { pcs: pcs.length, packets };
  });
}

// expectAudio: RTP keeps arriving in the widget — more packets now than a moment ago.
async function expectAudio(frame: Frame, when: string): Promise<void> {
  const first = await inbound(frame);
  await expect
    .poll(async () => (await inbound(frame)).packets, { message: `the widget receives audio ${when}`, timeout: 15_000 })
    .toBeGreaterThan(first.packets);
  console.log(`widget audio ${when}: ${first.packets} → ${(await inbound(frame)).packets} packets`);
}

test('a widget call survives its websocket being cut, with audio before and after', async ({ browser }) => {
  test.setTimeout(180_000);
  const bob = await newPage(browser);
  await open(bob, 'bob');

  // Every /ws the widget opens is relayed to the gateway, so the test can cut it.
  const ctx = await browser.newContext({ permissions: ['microphone'] });
  contexts.push(ctx);
  const routes: WebSocketRoute[] = [];
  await ctx.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((m) => ws.send(m));
    routes.push(ws);
  });
  const host = await ctx.newPage();
  await host.goto(`${allowed.origin}/?user=alice`);
  await waitReady(host);

  await expect(async () => {
    expect(await command(host, 'dial', { target: 'bob' })).toMatchObject({ ok: true });
  }).toPass({ timeout: 30_000 });
  await expect(bob.locator('[data-part="calls"] [data-call-state="ringing"]')).toHaveCount(1, { timeout: 15_000 });
  await button(bob, 'answer').click();
  const active = await waitForEvent(host, 'call', (d) => d.state === 'active');
  const frame = widgetFrame(host);
  await expectAudio(frame, 'before the cut');

  // Cut it, as a proxy timeout or a gateway restart would.
  const before = (await events(host)).length;
  expect(routes.length, 'the widget opened its websocket through the relay').toBeGreaterThan(0);
  await routes[routes.length - 1].close({ code: 1012, reason: 'service restart' });
  const since = async () => (await events(host)).slice(before);
  await expect
    .poll(async () => (await since()).some((e) => e.event === 'connection' && e.data.state === 'reconnecting'), { message: 'the host hears of the cut' })
    .toBe(true);
  await expect
    .poll(async () => (await since()).some((e) => e.event === 'connection' && e.data.state === 'connected'), { message: 'the widget is back', timeout: 30_000 })
    .toBe(true);
  expect((await since()).filter((e) => e.event === 'call' && e.data.state === 'ended'), 'the call did not end').toEqual([]);
  await expect(frame.locator(`[data-call-id="${active.data.id}"]`)).toHaveAttribute('data-call-state', 'active');
  await expectAudio(frame, 'after the reconnect');

  expect(await command(host, 'hangup')).toMatchObject({ ok: true });
  await waitForEvent(host, 'call', (d) => d.id === active.data.id && d.state === 'ended');
});

test('a host origin not on the allowlist cannot frame the widget (CSP frame-ancestors)', async ({ browser }) => {
  const page = await newPage(browser);
  const asked: string[] = [];
  page.on('request', (r) => asked.push(r.url()));
  await page.goto(`${disallowed.origin}/?user=alice`);
  const iframe = page.locator('#phone iframe');
  await expect(iframe).toHaveAttribute('src', `${gateway}/widget.html`);
  const child = await (await iframe.elementHandle())!.contentFrame();
  expect(child, 'the iframe has a frame').toBeTruthy();
  // Chromium fetches widget.html, reads its frame-ancestors, and shows its own error page
  // in place of the widget: nothing of the widget runs, so it never asks for a ticket.
  await expect.poll(() => asked.includes(`${gateway}/widget.html`)).toBe(true);
  await expect.poll(() => child!.url(), { message: 'the frame is replaced by an error page' }).toBe('chrome-error://chromewebdata/');
  expect(asked.filter((u) => u.includes('/ticket') || u.includes('/api/widget/session') || u.endsWith('/main.wasm'))).toEqual([]);
  expect(await page.evaluate(() => (window as any).__events.length)).toBe(0);
});

test('messages from a foreign origin are ignored, both ways', async ({ browser }) => {
  const host = await hostPage(browser, `user=alice&foreign=${encodeURIComponent(`${disallowed.origin}/plain.html`)}`);
  await waitReady(host);
  const foreign = host.frames().find((f) => f.url().startsWith(`${disallowed.origin}/plain.html`))!;
  expect(foreign, 'the foreign frame').toBeTruthy();

  // The foreign frame listens for anything the widget might tell it, then tries to dial
  // through the widget and to feed the host page a forged event and a forged answer.
  await foreign.evaluate(
    ([gw, hostOrigin]) => {
      (window as any).__got = [];
      window.addEventListener('message', (ev) => (window as any).__got.push(ev.data));
      for (let i = 0; i < parent.frames.length; i++) {
        if (parent.frames[i] === window) continue;
        parent.frames[i].postMessage({ type: 'parkway:command', id: 'evil', command: 'dial', args: { target: 'bob' } }, gw);
      }
      parent.postMessage({ type: 'parkway:event', event: 'call', data: { id: 'forged', peer: 'mallory', state: 'active' } }, hostOrigin);
      parent.postMessage({ type: 'parkway:error', id: null, code: 'forged', message: 'forged' }, hostOrigin);
    },
    [gateway, allowed.origin] as const,
  );
  // A round trip from the host after the foreign messages: the widget has handled them by
  // the time it answers this one (posted messages are delivered in order).
  expect(await raw(host, { type: 'parkway:command', id: 'probe', command: 'no-such-command' })).toMatchObject({
    id: 'probe',
    code: 'unknown-command',
  });
  const seen = await events(host);
  expect(seen.filter((e) => e.data?.peer === 'mallory' || e.data?.code === 'forged'), 'forged messages reached the host').toEqual([]);
  expect(seen.filter((e) => e.event === 'call'), 'no call was placed').toEqual([]);
  await expect(widgetFrame(host).locator('[data-call-state]')).toHaveCount(0);
  expect(await foreign.evaluate(() => (window as any).__got), 'the widget told the foreign frame nothing').toEqual([]);
});

test('malformed and unknown commands get typed errors and change nothing', async ({ browser }) => {
  const host = await hostPage(browser, 'user=alice');
  await waitReady(host);
  await waitForEvent(host, 'state', (d) => d.phase === 'normal');
  // The gateway greets every session with the parked list; on a loaded machine it can
  // arrive after ready and the phase, and it would count as caused by the commands.
  await waitForEvent(host, 'parked');
  const before = (await events(host)).length;
  const cases: [string, unknown, Partial<Reply>][] = [
    ['not an object', 'hello', { id: null, code: 'bad-command' }],
    ['null', null, { id: null, code: 'bad-command' }],
    ['no id', { type: 'parkway:command', command: 'dial', args: { target: 'bob' } }, { id: null, code: 'bad-command' }],
    ['an object id', { type: 'parkway:command', id: {}, command: 'dial' }, { id: null, code: 'bad-command' }],
    ['no command', { type: 'parkway:command', id: 'm1' }, { id: 'm1', code: 'bad-command' }],
    ['unknown command', { type: 'parkway:command', id: 'm2', command: 'selfdestruct' }, { id: 'm2', code: 'unknown-command' }],
    ['prototype key', { type: 'parkway:command', id: 'm3', command: '__proto__' }, { id: 'm3', code: 'unknown-command' }],
    ['args not an object', { type: 'parkway:command', id: 'm4', command: 'dial', args: 'bob' }, { id: 'm4', code: 'bad-command' }],
    ['dial without target', { type: 'parkway:command', id: 'm5', command: 'dial' }, { id: 'm5', code: 'bad-field', field: 'target' }],
    ['dial, target with spaces', { type: 'parkway:command', id: 'm6', command: 'dial', args: { target: 'bob smith' } }, { id: 'm6', code: 'bad-field', field: 'target' }],
    ['unknown field', { type: 'parkway:command', id: 'm7', command: 'dial', args: { target: 'bob', volume: 11 } }, { id: 'm7', code: 'bad-field', field: 'volume' }],
    ['bad orbit', { type: 'parkway:command', id: 'm8', command: 'retrieve', args: { orbit: '70x1' } }, { id: 'm8', code: 'bad-field', field: 'orbit' }],
    ['retrieve without orbit', { type: 'parkway:command', id: 'm9', command: 'retrieve', args: {} }, { id: 'm9', code: 'bad-field', field: 'orbit' }],
    ['mute, not a boolean', { type: 'parkway:command', id: 10, command: 'mute', args: { muted: 'yes' } }, { id: 10, code: 'bad-field', field: 'muted' }],
    ['transfer, both kinds', { type: 'parkway:command', id: 'm12', command: 'transfer', args: { target: 'carol', consult: 'c1' } }, { id: 'm12', code: 'bad-field', field: 'consult' }],
    ['dtmf, not digits', { type: 'parkway:command', id: 'm13', command: 'dtmf', args: { digits: '12x' } }, { id: 'm13', code: 'bad-field', field: 'digits' }],
    ['unknown message type', { type: 'parkway:launch', id: 'm11' }, { id: 'm11', code: 'bad-command' }],
  ];
  for (const [name, msg, want] of cases) {
    const got = await raw(host, msg);
    expect(got, name).toMatchObject({ type: 'parkway:error', ...want });
    expect(typeof got.message, `${name}: a message for people`).toBe('string');
  }
  // Nothing changed: no call anywhere, the same phase, no event caused by any of them.
  await expect(widgetFrame(host).locator('[data-call-state]')).toHaveCount(0);
  await expect(widgetFrame(host).locator('[data-part="status"]')).toHaveAttribute('data-phase', 'normal');
  const after = (await events(host)).slice(before);
  expect(after.filter((e) => e.event === 'call' || e.event === 'parked'), 'events after bad commands').toEqual([]);
});

test('an expired and a reused ticket are refused', async ({ browser, request }) => {
  test.setTimeout(150_000);
  const buy = async (ttlSeconds?: number) => {
    const r = await request.post(`${gateway}/api/tickets`, {
      headers: { Authorization: `Bearer ${DEMO_EMBED_KEY}` },
      data: ttlSeconds ? { user: 'alice', ttlSeconds } : { user: 'alice' },
    });
    expect(r.status(), await r.text()).toBe(200);
    return (await r.json()) as { ticket: string; expiresAt: string };
  };

  // Expired: a one-second ticket, handed over after it has expired. (The wait is for the
  // ticket to expire, not a timing assertion.)
  const short = await buy(1);
  await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(short.expiresAt) - Date.now()) + 250));
  const late = await hostPage(browser, `ticket=${encodeURIComponent(short.ticket)}`);
  const expired = await waitForEvent(late, 'error', () => true, startTimeout);
  expect(expired.data.code).toBe('ticket-expired');
  const lateFrame = widgetFrame(late);
  await expect(lateFrame.locator('html')).toHaveAttribute('data-widget', 'refused');
  await expect(lateFrame.locator('[data-part="loader"]')).toContainText('expired');

  // Reused: one ticket, two widgets. The first signs in; the second is refused.
  const once = await buy();
  const first = await hostPage(browser, `ticket=${encodeURIComponent(once.ticket)}`);
  await expect(widgetFrame(first).locator('html')).toHaveAttribute('data-widget', /^(starting|ready)$/, { timeout: startTimeout });
  const second = await hostPage(browser, `ticket=${encodeURIComponent(once.ticket)}`);
  const used = await waitForEvent(second, 'error', () => true, startTimeout);
  expect(used.data.code).toBe('ticket-used');
  await expect(widgetFrame(second).locator('html')).toHaveAttribute('data-widget', 'refused');
});

// Issue 13: embed origins may frame the widget, never drive the admin API. Scripts of the
// host page POST failover and a pool stop to the gateway, as a cross-site form could
// (no preflight); both are refused (403), so the phase stays normal with both pools up,
// while the widget on that very page signs in and is ready.
test('a host page on an embed origin cannot call the admin API', async ({ browser, request }) => {
  const host = await hostPage(browser, 'user=alice');
  await waitReady(host);
  const sent = await host.evaluate(async (gw) => {
    const post = (path: string) =>
      fetch(gw + path, { method: 'POST', mode: 'no-cors', body: '{}', headers: { 'Content-Type': 'text/plain' } }).then(() => 'sent', (e) => String(e));
    return [await post('/api/dr/failover'), await post('/api/demo/pools/pool-a/stop')];
  }, gateway);
  expect(sent, 'the browser sent both requests').toEqual(['sent', 'sent']);
  for (const path of ['/api/dr/failover', '/api/demo/pools/pool-a/stop']) {
    const r = await request.post(path, { headers: { Origin: allowed.origin } });
    expect(r.status(), `POST ${path} with Origin ${allowed.origin}`).toBe(403);
    expect((await r.json()).error.code).toBe('forbidden-origin');
  }
  // A refused request changes nothing: still normal, pool-a still serving, a second on.
  await new Promise((r) => setTimeout(r, 1000));
  const dr = await (await request.get('/api/dr')).json();
  expect(dr.phase).toBe('normal');
  expect(dr.pools.every((p: { healthy: boolean }) => p.healthy), JSON.stringify(dr.pools)).toBe(true);
});

// widgetRuns is how many cold widget loads, and as many cold full pages, the measure
// makes: one in the suite, which checks all it checks; more for a median
// (PARKWAY_WIDGET_RUNS, tests/runs.ts).
const widgetRuns = runsFrom('PARKWAY_WIDGET_RUNS', 1);

test('widget load → ready (measured) and the README screenshot of the softphone', async ({ browser, page }, info) => {
  // two cold starts a run, and the screenshot's, of a 6 MB WebAssembly client on a shared two-core machine
  test.setTimeout(120_000 + 60_000 * widgetRuns);
  const runs: { host: number; frame: number }[] = [];
  for (let i = 0; i < widgetRuns; i++) {
    // A new context each time: a cold widget with no session, which buys a ticket.
    const host = await hostPage(browser, `user=alice&run=${i}`);
    const ready = await waitReady(host);
    const t0 = await host.evaluate(() => (window as any).__t0 as number);
    const frame = await widgetFrame(host).evaluate(() => performance.getEntriesByName('parkway-widget-ready')[0]?.startTime ?? NaN);
    runs.push({ host: ready.at - t0, frame });
    await contexts.pop()!.close();
  }
  // The full page, cold, under the same load: what the widget's number compares with.
  const full: number[] = [];
  for (let i = 0; i < widgetRuns; i++) {
    const p = await newPage(browser);
    await p.goto(`/?user=alice&run=${i}`);
    await expect(p.locator('html')).toHaveAttribute('data-ready', 'true', { timeout: startTimeout });
    full.push(await p.evaluate(() => performance.getEntriesByName('parkway-ready')[0]?.startTime ?? NaN));
    await contexts.pop()!.close();
  }
  const line = `widget load → ready (headless Chromium, cold, ticket exchange included): median ${median(runs.map((r) => r.host)).toFixed(0)} ms from embed.js to the host's ready event, ${median(runs.map((r) => r.frame)).toFixed(0)} ms from the frame's navigation start (runs ${runs.map((r) => `${r.host.toFixed(0)}/${r.frame.toFixed(0)}`).join(', ')}); the full page under the same load: median ${median(full).toFixed(0)} ms (runs ${full.map((x) => x.toFixed(0)).join(', ')})`;
  console.log(line);
  info.annotations.push({ type: 'widget load → ready', description: line });

  await page.setViewportSize({ width: 1100, height: 760 });
  await open(page, 'alice');
  await page.screenshot({ path: screenshot(info, 'softphone.png') });
});
