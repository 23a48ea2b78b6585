// Issue 10 items 1 and 2: calls that survive what users do. Bob reloads his page (the
// full page and the widget), closes his browser and opens a new one, takes the call
// onto a second tab with "Move here", or loses the WebRTC UDP for 5 s — and the call
// comes back with audio both ways, proven from each page's own RTCPeerConnection
// getStats (window.__parkwayPCs): packets arriving and an audio level above zero
// (Chromium's fake microphone beeps; the gateway's hold sound is silence, level 0).
// When no tab comes back within the re-attach grace, alice's call ends saying why.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from '@playwright/test';
import { shortGraceDemoPort, shortGracePoolPorts } from '../playwright.config';
import { expect, startDemo, test } from './demo';
import { median, runsFrom } from './runs';
import { button, callItems, callWith, connection, dial, open, restoreNormal, startTimeout } from './support';

test.beforeEach(async ({ request }) => restoreNormal(request));

// Every test closes the browsers it opened: a tab of bob's left over from one test would
// take the next test's call back itself when it needs a tab.
const opened: BrowserContext[] = [];
test.afterEach(async () => {
  for (const ctx of opened.splice(0)) await ctx.close();
});

// The demo's --reattach-grace and --ice-ports are the demo fixture's (tests/demo.ts): each
// worker's demo has a range of its own, so the nft rule of (e) drops its WebRTC alone.
// Generous: this suite judges behaviour; the spans are logged for the closing note.
const backWithin = 30_000;

type Heard = { pcs: number; packets: number; level: number };

// heard sums inbound audio over the page's live PeerConnections.
async function heard(page: Page): Promise<Heard> {
  return page.evaluate(async () => {
    const live = ((window as unknown as { __parkwayPCs?: RTCPeerConnection[] }).__parkwayPCs ?? []).filter(
      (pc) => pc.connectionState !== 'closed',
    );
    const h = { pcs: live.length, packets: 0, level: 0 };
    for (const pc of live) {
      for (const s of (await pc.getStats()).values()) {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          h.packets += s.packetsReceived ?? 0;
          h.level = Math.max(h.level, s.audioLevel ?? 0);
        }
      }
    }
    return h;
  });
}

// hearing resolves once packets keep arriving on page with sound in them.
async function hearing(page: Page, who: string, timeout = backWithin): Promise<void> {
  await expect
    .poll(
      async () => {
        const a = await heard(page);
        await page.waitForTimeout(300);
        const b = await heard(page);
        return b.packets > a.packets && b.level > 0;
      },
      { message: `${who} hears the other side (packets arriving, audio level above zero)`, timeout, intervals: [100] },
    )
    .toBe(true);
}

// user opens name's page (path: / or /widget.html) in a browser of its own, on the
// test's demo or on the one at baseURL.
async function user(browser: Browser, name: string, path = '/', baseURL?: string): Promise<Page> {
  const ctx = await browser.newContext({ permissions: ['microphone'], ...(baseURL ? { baseURL } : {}) });
  opened.push(ctx);
  const page = await ctx.newPage();
  await openAt(page, name, path);
  return page;
}

async function openAt(page: Page, name: string, path: string): Promise<void> {
  if (path === '/') return open(page, name);
  await page.goto(`${path}?user=${name}`);
  await ready(page);
}

async function ready(page: Page): Promise<void> {
  await expect(connection(page)).toHaveAttribute('data-connection', 'connected', { timeout: startTimeout });
}

// talking sets up alice → bob, answered, with audio both ways; it returns the call's
// id on alice's page.
async function talking(alice: Page, bob: Page): Promise<string> {
  await dial(alice, 'bob');
  await expect(button(bob, 'answer')).toBeEnabled({ timeout: 15_000 });
  await button(bob, 'answer').click();
  await expect(callWith(alice, 'bob')).toHaveAttribute('data-call-state', 'active', { timeout: 15_000 });
  await expect(callWith(bob, 'alice')).toHaveAttribute('data-media', 'here');
  await hearing(alice, 'alice');
  await hearing(bob, 'bob');
  return (await callWith(alice, 'bob').getAttribute('data-call-id')) ?? '';
}

// stillUp checks that alice's call is the same call, active, and that she never saw it
// end (a call is listed by its id; an ended one stays listed, with its reason).
async function stillUp(alice: Page, id: string): Promise<void> {
  await expect(callWith(alice, 'bob')).toHaveAttribute('data-call-id', id);
  await expect(callWith(alice, 'bob')).toHaveAttribute('data-call-state', 'active');
  await expect(callItems(alice).and(alice.locator(`[data-call-id="${id}"]`))).toHaveCount(1);
}

// backAfter waits for bob's page to have the call with its media here and audio both
// ways, and returns the ms from t0.
async function backAfter(alice: Page, bob: Page, t0: number): Promise<number> {
  await expect(callWith(bob, 'alice')).toHaveAttribute('data-media', 'here', { timeout: backWithin });
  await Promise.all([hearing(bob, 'bob, re-attached'), hearing(alice, 'alice, after bob came back')]);
  return Date.now() - t0;
}

async function hangUp(alice: Page): Promise<void> {
  await button(alice, 'hangup').click();
  await expect(callWith(alice, 'bob')).toHaveCount(0);
}

// reloads is how many times (a) reloads bob's full page: two in the suite (a call
// re-attached once takes a second reload too), more for a median (PARKWAY_REATTACH_RUNS).
// The widget's is reloaded once. One call serves every reload: setting up a call with
// audio both ways costs as much as the reloads it serves (issue 12).
const reloads = runsFrom('PARKWAY_REATTACH_RUNS', 2);

for (const [where, path, times] of [
  ['page', '/', reloads],
  ['widget', '/widget.html', 1],
] as const) {
  test(`(a) bob reloads his ${where} mid-call and the call comes back with audio both ways${times > 1 ? `, ${times} times (median)` : ''}`, async ({ browser }) => {
    test.setTimeout(120_000 + 30_000 * times);
    const alice = await user(browser, 'alice');
    const bob = await user(browser, 'bob', path);
    const id = await talking(alice, bob);
    const spans: number[] = [];
    for (let i = 0; i < times; i++) {
      await bob.reload();
      await ready(bob);
      spans.push(await backAfter(alice, bob, Date.now()));
      await stillUp(alice, id);
    }
    console.log(`reattach (${where}): page ready → audio back both ways ${spans.join(', ')} ms`);
    if (times > 1) {
      spans.sort((a, b) => a - b);
      console.log(
        `reattach: page ready → audio back both ways, ${times} reloads: median ${median(spans)} ms, min ${spans[0]}, max ${spans[spans.length - 1]} (all ${spans.join(', ')})`,
      );
    }
    await hangUp(alice);
  });
}

test("(b) bob's browser closes and a new one opens within the grace: the call comes back", async ({ browser }) => {
  test.setTimeout(150_000);
  const alice = await user(browser, 'alice');
  const bob = await user(browser, 'bob');
  const id = await talking(alice, bob);
  await bob.context().close();
  const bob2 = await user(browser, 'bob');
  const ms = await backAfter(alice, bob2, Date.now());
  console.log(`reattach (new browser): page ready → audio back both ways ${ms} ms`);
  await stillUp(alice, id);
  await hangUp(alice);
});

// On a demo of its own with a short grace: the shared one's 30 s is for the tests above,
// whose pages must come back within it on a busy machine; this one waits the grace out.
const shortGraceSeconds = 5;

test("(c) no tab comes back within the grace: alice's call ends with the reason", async ({ browser }, info) => {
  const graceMs = shortGraceSeconds * 1000;
  test.setTimeout(120_000);
  const i = info.parallelIndex;
  const demo = await startDemo(
    shortGraceDemoPort(i),
    { graceSeconds: shortGraceSeconds, poolPorts: shortGracePoolPorts(i) },
    path.join(info.project.outputDir, `demo-short-grace-${i}.log`),
  );
  try {
    const alice = await user(browser, 'alice', '/', demo.url);
    const bob = await user(browser, 'bob', '/', demo.url);
    const id = await talking(alice, bob);
    const t0 = Date.now();
    await bob.context().close();
    const item = callItems(alice).and(alice.locator(`[data-call-id="${id}"]`));
    await expect(item).toHaveAttribute('data-call-state', 'ended', { timeout: graceMs + 30_000 });
    await expect(item).toContainText("the caller's browser went away");
    const ms = Date.now() - t0;
    console.log(`reattach: bob's browser closed → alice's call ended after ${ms} ms (grace ${graceMs} ms)`);
    // Not before the grace: a call whose tab went away waits for one to come back.
    expect(ms, 'the call ended only after the re-attach grace').toBeGreaterThanOrEqual(graceMs - 1_000);
  } finally {
    for (const ctx of opened.splice(0)) await ctx.close();
    await demo.stop();
  }
});

test('(d) "Move here" takes the call onto bob\'s second tab; the first shows it moved away', async ({ browser }) => {
  test.setTimeout(150_000);
  const alice = await user(browser, 'alice');
  const bob = await user(browser, 'bob');
  const id = await talking(alice, bob);
  const bob2 = await bob.context().newPage();
  await open(bob2, 'bob');
  const move = callWith(bob2, 'alice').getByRole('button', { name: 'Move here' });
  await expect(move).toBeVisible({ timeout: 15_000 });
  await expect(callWith(bob, 'alice').getByRole('button', { name: 'Move here' })).toBeHidden();
  const t0 = Date.now();
  await move.click();
  const ms = await backAfter(alice, bob2, t0);
  console.log(`move here: press → audio back both ways ${ms} ms`);
  await expect(callWith(bob, 'alice')).toHaveAttribute('data-media', 'elsewhere');
  await expect(callWith(bob, 'alice')).toContainText('moved to another tab');
  await expect(callWith(bob, 'alice').getByRole('button', { name: 'Move here' })).toBeVisible();
  // The gateway closed the first tab's leg; the tab closes its connection once it sees
  // it down (DTLS closed, or ICE consent lost).
  await expect.poll(async () => (await heard(bob)).pcs, { message: "the first tab's connection closed", timeout: 30_000 }).toBe(0);
  await stillUp(alice, id);
  await hangUp(alice);
});

// nft runs a ruleset in this network namespace (scripts/e2e.sh: root, loopback only).
function nft(ruleset: string): void {
  execFileSync('nft', ['-f', '-'], { input: ruleset, env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
}

test('(e) 5 s of dropped WebRTC UDP: ICE restarts, audio resumes both ways, the websocket never drops', async ({ browser, demo }) => {
  const icePorts = demo.icePorts;
  test.setTimeout(150_000);
  const alice = await user(browser, 'alice');
  const bob = await user(browser, 'bob');
  const sockets = new Map<Page, number>();
  for (const p of [alice, bob]) {
    sockets.set(p, 0);
    p.on('websocket', () => sockets.set(p, (sockets.get(p) ?? 0) + 1));
  }
  const id = await talking(alice, bob);
  // The gateway's ICE side uses only icePorts: this drops the WebRTC leg both ways and
  // nothing else (the websocket is TCP, SIP and the SIP-side RTP use other ports).
  nft(`table inet parkway_e2e {
    chain input { type filter hook input priority 0; udp dport ${icePorts} drop; udp sport ${icePorts} drop; }
  }`);
  const restarts = async (p: Page) => p.evaluate(() => (window as unknown as { __parkwayICERestarts?: number }).__parkwayICERestarts ?? 0);
  try {
    // At least 5 s; then until a browser has noticed (Chromium calls a connection
    // without consent responses "disconnected" after about 5 s, so 5 s alone sits on
    // the edge): the restart is what this test is about, not the browser's timer.
    await alice.waitForTimeout(5_000);
    await expect
      .poll(async () => (await restarts(alice)) + (await restarts(bob)), { message: 'a browser began an ICE restart while UDP was dropped', timeout: 30_000 })
      .toBeGreaterThan(0);
  } finally {
    nft('delete table inet parkway_e2e');
  }
  const t0 = Date.now();
  await Promise.all([hearing(alice, 'alice after the UDP came back'), hearing(bob, 'bob after the UDP came back')]);
  const ms = Date.now() - t0;
  const [ra, rb] = [await restarts(alice), await restarts(bob)];
  console.log(`ice restart: UDP back → audio both ways ${ms} ms; restarts begun: alice ${ra}, bob ${rb}`);
  expect(ra + rb, 'an ICE restart was begun').toBeGreaterThan(0);
  for (const p of [alice, bob]) {
    await expect(connection(p)).toHaveAttribute('data-connection', 'connected');
    expect(sockets.get(p), 'websockets opened by the page (no reconnect)').toBe(0);
  }
  await stillUp(alice, id);
  await hangUp(alice);
});
