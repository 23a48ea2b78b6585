// Issue 4: two real Chromium pages (separate browser contexts, Chromium's fake
// microphone) call each other through the demo gateway. Alice calls bob, bob answers,
// both calls become active and audio flows both ways — proven from each page's own
// RTCPeerConnection getStats (the WASM client keeps its live connections in
// window.__parkwayPCs, a test hook) — then Hold / Resume and Hang up through the buttons.
import { expect, test, type Browser, type Page } from '@playwright/test';
import { alertRegion, button, open, restoreNormal } from './support';

test.beforeEach(async ({ request }) => restoreNormal(request));

const calls = (page: Page) => page.locator('[data-part="calls"] [data-call-state]');
const liveCalls = (page: Page) =>
  page.locator('[data-part="calls"] [data-call-state]:not([data-call-state="ended"])');

type Inbound = { pcs: number; packets: number; bytes: number; level?: number; energy?: number };

// inbound sums the audio inbound-rtp stats of every live PeerConnection on the page.
async function inbound(page: Page): Promise<Inbound> {
  return page.evaluate(async () => {
    const pcs = ((window as unknown as { __parkwayPCs?: RTCPeerConnection[] }).__parkwayPCs ?? []).filter(
      (pc) => pc.connectionState !== 'closed',
    );
    const out: Inbound = { pcs: pcs.length, packets: 0, bytes: 0 };
    for (const pc of pcs) {
      (await pc.getStats()).forEach((s) => {
        if (s.type !== 'inbound-rtp' || s.kind !== 'audio') return;
        out.packets += s.packetsReceived ?? 0;
        out.bytes += s.bytesReceived ?? 0;
        if (typeof s.audioLevel === 'number') out.level = Math.max(out.level ?? 0, s.audioLevel);
        if (typeof s.totalAudioEnergy === 'number') out.energy = Math.max(out.energy ?? 0, s.totalAudioEnergy);
      });
    }
    return out;
  });
}

// expectAudio proves audio is arriving on page: packets and bytes grow between two
// samples, and the level of what arrives is above zero where Chromium reports it.
async function expectAudio(page: Page, who: string): Promise<void> {
  await expect.poll(async () => (await inbound(page)).packets, { message: `${who} receives RTP`, timeout: 10_000 }).toBeGreaterThan(0);
  const first = await inbound(page);
  await page.waitForTimeout(1_500);
  const second = await inbound(page);
  console.log(`${who}: inbound ${JSON.stringify(first)} → ${JSON.stringify(second)}`);
  expect(second.pcs, `${who} has a live PeerConnection`).toBeGreaterThan(0);
  expect(second.packets, `${who}'s packetsReceived grows`).toBeGreaterThan(first.packets);
  expect(second.bytes, `${who}'s bytesReceived grows`).toBeGreaterThan(first.bytes);
  // audioLevel is the level right now (Chromium's fake microphone beeps, so it can dip);
  // poll for a moment with sound in it.
  if (second.level !== undefined) {
    await expect
      .poll(async () => (await inbound(page)).level ?? 0, { message: `${who}'s audioLevel above zero`, timeout: 10_000 })
      .toBeGreaterThan(0);
  }
  if (second.energy !== undefined) expect(second.energy, `${who}'s totalAudioEnergy`).toBeGreaterThan(0);
}

async function tab(browser: Browser, user: string): Promise<Page> {
  const ctx = await browser.newContext({ permissions: ['microphone'] });
  const page = await ctx.newPage();
  await open(page, user);
  return page;
}

test('alice calls bob, both hear each other, hold, resume and hang up', async ({ browser }) => {
  test.setTimeout(120_000);
  const alice = await tab(browser, 'alice');
  const bob = await tab(browser, 'bob');

  // Both users' SIP registrations happen in the background after sign-in: until bob's
  // is at the pool, a call to him is "not found". Try again until it rings.
  await alice.getByLabel('Number', { exact: true }).fill('bob');
  await expect(async () => {
    if (await alertRegion(alice).isVisible()) await alice.getByRole('button', { name: 'Dismiss' }).click();
    await button(alice, 'call').click();
    await expect(liveCalls(alice)).toHaveCount(1, { timeout: 8_000 });
  }).toPass({ timeout: 30_000 });
  await expect(liveCalls(alice)).toHaveAttribute('data-direction', 'outgoing');
  await expect(liveCalls(alice)).toContainText('bob');

  const ringing = bob.locator('[data-part="calls"] [data-call-state="ringing"]');
  await expect(ringing).toHaveCount(1, { timeout: 10_000 });
  await expect(ringing).toHaveAttribute('data-direction', 'incoming');
  await expect(ringing).toContainText('alice');
  await button(bob, 'answer').click();

  await expect(liveCalls(bob)).toHaveAttribute('data-call-state', 'active', { timeout: 10_000 });
  await expect(liveCalls(alice)).toHaveAttribute('data-call-state', 'active', { timeout: 10_000 });
  await expect(alertRegion(alice)).toBeHidden();
  await expect(alertRegion(bob)).toBeHidden();

  await expectAudio(alice, 'alice');
  await expectAudio(bob, 'bob');

  await button(alice, 'hold').click();
  await expect(liveCalls(alice)).toHaveAttribute('data-call-state', 'held');
  await button(alice, 'resume').click();
  await expect(liveCalls(alice)).toHaveAttribute('data-call-state', 'active');
  await expect(liveCalls(bob)).toHaveAttribute('data-call-state', 'active');
  await expectAudio(alice, 'alice after resume');

  await button(alice, 'hangup').click();
  await expect(liveCalls(alice)).toHaveCount(0, { timeout: 10_000 });
  await expect(liveCalls(bob)).toHaveCount(0, { timeout: 10_000 });
  await expect(calls(alice).first()).toHaveAttribute('data-call-state', 'ended');
  await expect(calls(bob).first()).toHaveAttribute('data-call-state', 'ended');
  for (const page of [alice, bob]) {
    await expect.poll(async () => (await inbound(page)).pcs, { message: 'the PeerConnection is closed' }).toBe(0);
    await page.context().close();
  }
});
