// Helpers for the park, transfer and pool-failure story specs (issues 4 and 5): a signed-in
// tab per user that remembers every error it was shown, the softphone's DOM hooks, audio
// proven from getStats and told apart by frequency in the page, and ARCHITECTURE.md §2's
// capability table written out as data, so the UI is checked against the design and not
// against the Go rule it is built from.
import { expect, type Browser, type BrowserContext, type Locator, type Page } from '@playwright/test';
import { type Phase } from './support';

export type Action =
  | 'call'
  | 'answer'
  | 'decline'
  | 'hangup'
  | 'hold'
  | 'resume'
  | 'transfer'
  | 'park'
  | 'retrieve'
  | 'mute';
export const ACTIONS: Action[] = ['call', 'answer', 'decline', 'hangup', 'hold', 'resume', 'transfer', 'park', 'retrieve', 'mute'];
export type CallState = 'none' | 'dialing' | 'ringing' | 'active' | 'held';

// ARCHITECTURE.md §2 "what a user can do, by phase", one row per action. Ending a call and
// muting one's own microphone need no pool, so they are allowed in every phase.
const Y = true;
const N = false;
export const BY_PHASE: Record<Action, Record<Phase, boolean>> = {
  //         normal     outage     failover     failed-over       failback
  call: /*  */ { normal: Y, outage: N, failover: Y, 'failed-over': Y, failback: Y },
  answer: /**/ { normal: Y, outage: N, failover: Y, 'failed-over': Y, failback: Y },
  decline: { normal: Y, outage: Y, failover: Y, 'failed-over': Y, failback: Y },
  hangup: { normal: Y, outage: Y, failover: Y, 'failed-over': Y, failback: Y },
  hold: /*  */ { normal: Y, outage: Y, failover: Y, 'failed-over': Y, failback: Y },
  resume: { normal: Y, outage: Y, failover: Y, 'failed-over': Y, failback: Y },
  transfer: { normal: Y, outage: N, failover: Y, 'failed-over': Y, failback: Y },
  park: /*  */ { normal: Y, outage: N, failover: N, 'failed-over': Y, failback: N },
  retrieve: { normal: Y, outage: N, failover: N, 'failed-over': Y, failback: Y },
  mute: /*  */ { normal: Y, outage: Y, failover: Y, 'failed-over': Y, failback: Y },
};

// The call in focus must be in one of these states for the action ('any': the action
// starts a new call and needs none).
export const BY_CALL: Record<Action, CallState[] | 'any'> = {
  call: 'any',
  retrieve: 'any',
  answer: ['ringing'],
  decline: ['ringing'],
  hangup: ['dialing', 'ringing', 'active', 'held'],
  hold: ['active'],
  resume: ['held'],
  transfer: ['active', 'held'],
  park: ['active', 'held'],
  mute: ['dialing', 'active', 'held'],
};

export function allowed(phase: Phase, focus: CallState, a: Action): boolean {
  const calls = BY_CALL[a];
  return BY_PHASE[a][phase] && (calls === 'any' || calls.includes(focus));
}

// UIState is what one page offers at one moment, read in a single task.
export type UIState = {
  phase: Phase | null;
  focus: CallState;
  focusId: string | null;
  enabled: Action[];
  disabled: { action: Action; title: string | null; description: string | null }[];
  at: number;
};

// readUI runs in the page: the phase shown, the focus call's state, every button.
function readUI(): UIState {
  const phase = document.querySelector('[data-part="status"]')?.getAttribute('data-phase') ?? null;
  const focusEl = document.querySelector('[data-part="calls"] > li.call[aria-current="true"]');
  let focus = (focusEl?.getAttribute('data-call-state') ?? 'none') as string;
  if (focus === 'ended') focus = 'none';
  const enabled: string[] = [];
  const disabled: { action: string; title: string | null; description: string | null }[] = [];
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('button[data-action]'))) {
    const a = b.dataset.action!;
    if (!b.disabled) {
      enabled.push(a);
      continue;
    }
    const ref = b.getAttribute('aria-describedby');
    disabled.push({
      action: a,
      title: b.getAttribute('title'),
      description: ref ? (document.getElementById(ref)?.textContent ?? null) : null,
    });
  }
  return {
    phase: phase as never,
    focus: focus as never,
    focusId: focusEl?.getAttribute('data-call-id') ?? null,
    enabled: enabled as never,
    disabled: disabled as never,
    at: performance.now(),
  };
}

// offends lists what a page offers that the gateway would refuse: an enabled button the
// table does not allow for the phase and focus call, and (looser, for people) a disabled
// button that does not say why.
export function offends(s: UIState): string[] {
  if (!s.phase) return ['no phase shown'];
  const out: string[] = [];
  for (const a of s.enabled) {
    if (!ACTIONS.includes(a)) continue;
    if (!allowed(s.phase, s.focus, a)) out.push(`${a} enabled in ${s.phase} with focus call ${s.focus}`);
  }
  for (const d of s.disabled) {
    if (!d.title || d.title !== d.description)
      out.push(`${d.action} disabled in ${s.phase} without a reason (title ${JSON.stringify(d.title)}, description ${JSON.stringify(d.description)})`);
  }
  return out;
}

// offendsByPhase is offends narrowed to what the phase alone forbids: the phase and the
// buttons arrive together in one state push, so even a moment's disagreement is a bug.
export function offendsByPhase(s: UIState): string[] {
  if (!s.phase) return [];
  return s.enabled.filter((a) => ACTIONS.includes(a) && !BY_PHASE[a][s.phase!]).map((a) => `${a} enabled in ${s.phase}`);
}

export type Shown = { title: string; text: string; code: string | null; at: number };
export type GatewayError = { code: string; message: string; field?: string; ref?: string };

// Tab is one signed-in user's page and everything it was told that went wrong.
export type Tab = {
  user: string;
  page: Page;
  context: BrowserContext;
  gatewayErrors: GatewayError[];
};

// tab opens a page for user in context (a new one with a microphone when not given),
// recording before the page loads: every alert it shows, and what it offered at every
// change of phase, call list or button (window.__storyUI).
export async function tab(browser: Browser, user: string, context?: BrowserContext): Promise<Tab> {
  const ctx = context ?? (await browser.newContext({ permissions: ['microphone'] }));
  const page = await ctx.newPage();
  const gatewayErrors: GatewayError[] = [];
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => {
      try {
        const env = JSON.parse(payload.toString());
        if (env.type === 'error') gatewayErrors.push(env.data);
      } catch {
        /* not JSON */
      }
    });
  });
  page.on('console', (m) => {
    if (m.type() === 'error') console.log(`[${user} console] ${m.text()}`);
  });
  await page.addInitScript(`(${recorder.toString()})(${readUI.toString()})`);
  await page.goto(`/?user=${encodeURIComponent(user)}`);
  // support.ts's open() allows 30 s; pages here start three or four at a time on a
  // loaded two-core machine, so they get longer. It bounds a hang; it times nothing.
  await expect(page.locator('[data-part="connection"]'), `${user}'s page connects`).toHaveAttribute('data-connection', 'connected', {
    timeout: 120_000,
  });
  await expect(page.locator('[data-part="status"]')).toHaveAttribute('data-phase', /^(normal|outage|failover|failed-over|failback)$/);
  return { user, page, context: ctx, gatewayErrors };
}

// tabsFor opens a tab per user, one after another (a page compiling its WASM is CPU
// bound: starting them together only makes each one slower).
export async function tabsFor(browser: Browser, users: string[]): Promise<Tab[]> {
  const out: Tab[] = [];
  for (const u of users) out.push(await tab(browser, u));
  return out;
}

// recorder runs in the page before it loads (see tab): it keeps every alert shown and a
// UIState after every batch of DOM changes that touch what is offered.
function recorder(read: () => unknown) {
  const w = window as unknown as { __storyAlerts: unknown[]; __storyUI: unknown[] };
  w.__storyAlerts = [];
  w.__storyUI = [];
  let lastAlert = '';
  const watch = () => {
    const alert = document.querySelector<HTMLElement>('[data-part="alert"]');
    if (alert && !alert.hidden) {
      const title = alert.querySelector('[data-part="alert-title"]')?.textContent ?? '';
      const text = alert.querySelector('[data-part="alert-text"]')?.textContent ?? '';
      const code = alert.getAttribute('data-code');
      const key = `${title}|${text}|${code}`;
      if (key !== lastAlert && (title || text)) w.__storyAlerts.push({ title, text, code, at: performance.now() });
      lastAlert = key;
    } else lastAlert = '';
    if (document.querySelector('[data-part="status"]')?.getAttribute('data-phase')) w.__storyUI.push(read());
  };
  document.addEventListener('DOMContentLoaded', () => {
    new MutationObserver(watch).observe(document.body, {
      subtree: true,
      childList: true,
      characterData: true,
      attributes: true,
      attributeFilter: ['data-phase', 'disabled', 'data-call-state', 'aria-current', 'hidden', 'data-code', 'title'],
    });
  });
}

export const alertsShown = (t: Tab): Promise<Shown[]> =>
  t.page.evaluate(() => (window as unknown as { __storyAlerts: Shown[] }).__storyAlerts ?? []);
export const uiHistory = (t: Tab): Promise<UIState[]> =>
  t.page.evaluate(() => (window as unknown as { __storyUI: UIState[] }).__storyUI ?? []);

// refusals is every capability refusal a tab got: gateway error frames with code
// "refused", alerts coded or titled so, and any errors the softphone keeps itself.
export async function refusals(t: Tab): Promise<string[]> {
  const out = t.gatewayErrors.filter((e) => e.code === 'refused').map((e) => `${t.user}: gateway refused: ${e.message}`);
  for (const a of await alertsShown(t))
    if (a.code === 'refused' || /refused/i.test(a.title)) out.push(`${t.user}: alert ${a.title}: ${a.text}`);
  return out;
}

// expectOffersOnlyAllowed checks the page now (after whatever just changed has settled)
// against the table. Returns the state it accepted.
export async function expectOffersOnlyAllowed(t: Tab, phase?: Phase): Promise<UIState> {
  let last: UIState | undefined;
  await expect
    .poll(
      async () => {
        last = await t.page.evaluate(`(${readUI.toString()})()`);
        const bad = offends(last!);
        if (phase && last!.phase !== phase) bad.push(`page shows phase ${last!.phase}, want ${phase}`);
        return bad;
      },
      { message: `${t.user}'s page offers only what the gateway allows`, timeout: 10_000 },
    )
    .toEqual([]);
  return last!;
}

// --- the softphone's hooks ---

export const btn = (p: Page, a: Action): Locator => p.locator(`button[data-action="${a}"]`);

// press clicks a control once it is enabled, failing with what it said instead if it
// stays disabled (a click would wait for the test's whole timeout).
export async function press(p: Page, a: Action): Promise<void> {
  const b = btn(p, a);
  await expect(b, `${a} is enabled (it says: ${await b.getAttribute('title')})`).toBeEnabled({ timeout: 15_000 });
  await b.click({ timeout: 15_000 });
}
export const numberField = (p: Page): Locator => p.locator('[data-part="number"]');
export const orbitField = (p: Page): Locator => p.locator('[data-part="orbit"]');
export const calls = (p: Page): Locator => p.locator('[data-part="calls"] > li.call');
export const liveCalls = (p: Page): Locator =>
  p.locator('[data-part="calls"] > li.call:not([data-call-state="ended"])');
export const callWith = (p: Page, peer: string): Locator =>
  liveCalls(p).filter({ has: p.locator('[data-part="call-peer"]', { hasText: peer }) });
export const focusCall = (p: Page): Locator => p.locator('[data-part="calls"] > li.call[aria-current="true"]');
export const parkNotice = (p: Page): Locator => p.locator('[data-part="park-notice"]');
export const parked = (p: Page): Locator => p.locator('[data-part="parked"] > li[data-orbit]');
export const parkedAt = (p: Page, orbit: string): Locator => p.locator(`[data-part="parked"] > li[data-orbit="${orbit}"]`);
export const alertBox = (p: Page): Locator => p.locator('[data-part="alert"]');
export const alertText = (p: Page): Locator => p.locator('[data-part="alert-text"]');

export async function dismissAlert(p: Page): Promise<void> {
  if (await alertBox(p).isVisible()) await p.locator('[data-part="alert-dismiss"]').click();
}

// select focuses call li (the controls act on the focus call).
export async function select(p: Page, call: Locator): Promise<void> {
  if ((await call.getAttribute('aria-current')) === 'true') return;
  await call.locator('[data-part="call-select"]').click();
  await expect(call).toHaveAttribute('aria-current', 'true');
}

// dial calls target from t and waits for the call to show. Sign-ins register at the
// pool in the background, and users move pools on failover: until target's
// registration is there a call to them is "not found", so try again until it rings.
export async function dial(t: Tab, target: string): Promise<Locator> {
  const p = t.page;
  const before = await liveCalls(p).count();
  await expect(async () => {
    await dismissAlert(p);
    // Again only if the last try left no call: on a busy machine a call can take longer
    // than one try to show, and a second press would place a second call.
    if ((await liveCalls(p).count()) === before) {
      await numberField(p).fill(target);
      await press(p, 'call');
    }
    await expect(liveCalls(p)).toHaveCount(before + 1, { timeout: 8_000 });
  }).toPass({ timeout: 40_000 });
  const c = callWith(p, target);
  await expect(c).toHaveCount(1);
  await expect(c).toHaveAttribute('data-direction', 'outgoing');
  return c;
}

// answer answers the call ringing on t from peer.
export async function answer(t: Tab, peer: string): Promise<Locator> {
  const p = t.page;
  const ringing = liveCalls(p).filter({ has: p.locator('[data-part="call-peer"]', { hasText: peer }) }).and(
    p.locator('[data-call-state="ringing"]'),
  );
  await expect(ringing, `${t.user} rings from ${peer}`).toHaveCount(1, { timeout: 15_000 });
  await expect(ringing).toHaveAttribute('data-direction', 'incoming');
  await select(p, ringing);
  await press(p, 'answer');
  const c = callWith(p, peer);
  await expect(c, `${t.user} is connected to ${peer}`).toHaveAttribute('data-call-state', 'active', { timeout: 15_000 });
  return c;
}

// connect places a call from a to b, b answers; both calls active.
export async function connect(a: Tab, b: Tab): Promise<{ ac: Locator; bc: Locator }> {
  const ac = await dial(a, b.user);
  const bc = await answer(b, a.user);
  await expect(ac, `${a.user}'s call to ${b.user}`).toHaveAttribute('data-call-state', 'active', { timeout: 15_000 });
  return { ac, bc };
}

// parkFocus parks t's focus call (on orbit, when given) and returns the orbit the park
// notice shows.
export async function parkFocus(t: Tab, orbitRange: RegExp, orbit?: string): Promise<string> {
  const p = t.page;
  await orbitField(p).fill(orbit ?? '');
  await press(p, 'park');
  await expect(parkNotice(p), `${t.user} is told the orbit`).toBeVisible({ timeout: 15_000 });
  await expect(parkNotice(p)).toContainText(orbitRange);
  const text = await parkNotice(p).innerText();
  const m = text.match(orbitRange);
  expect(m, `an orbit in ${orbitRange} in ${JSON.stringify(text)}`).toBeTruthy();
  if (orbit) expect(m![0]).toBe(orbit);
  return m![0];
}

// expectParkedShown checks that t's parked panel shows the call on orbit, live.
export async function expectParkedShown(t: Tab, orbit: string, peer: string, by: string): Promise<Locator> {
  const li = parkedAt(t.page, orbit);
  await expect(li, `${t.user}'s parked panel shows orbit ${orbit}`).toHaveCount(1, { timeout: 10_000 });
  await expect(li.locator('[data-part="parked-peer"]')).toContainText(peer);
  await expect(li.locator('[data-part="parked-by"]')).toContainText(by);
  await expect(li.locator('[data-part="parked-left"]')).not.toBeEmpty();
  await expect(li.locator('[data-part="parked-retrieve"]')).toBeEnabled();
  return li;
}

// hangUpAll ends every live call on every tab (a parked party hanging up frees the
// orbit), so a spec leaves nothing behind for the next. Best effort: it never throws.
export async function hangUpAll(tabs: Tab[]): Promise<void> {
  for (const t of tabs) {
    for (let i = 0; i < 6; i++) {
      try {
        const n = await liveCalls(t.page).count();
        if (n === 0) break;
        const c = liveCalls(t.page).first();
        await select(t.page, c);
        const state = await c.getAttribute('data-call-state');
        const b = btn(t.page, state === 'ringing' ? 'decline' : 'hangup');
        if (await b.isEnabled()) await b.click({ timeout: 5_000 });
        await expect(liveCalls(t.page)).toHaveCount(n - 1, { timeout: 5_000 });
      } catch {
        /* best effort */
      }
    }
  }
}

export async function closeAll(tabs: Tab[]): Promise<void> {
  const seen = new Set<BrowserContext>();
  for (const t of tabs) {
    if (seen.has(t.context)) continue;
    seen.add(t.context);
    await t.context.close().catch(() => {});
  }
}

// --- audio ---

type Inbound = { pcs: number; packets: number; bytes: number; level?: number; energy?: number };

// inbound sums the audio inbound-rtp stats of every live PeerConnection on the page
// (the softphone keeps them in window.__parkwayPCs, a test hook).
export async function inbound(page: Page): Promise<Inbound> {
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

// expectAudio proves audio is arriving at t: packets and bytes grow between two samples,
// and the level of what arrives is above zero.
export async function expectAudio(t: Tab, what: string): Promise<void> {
  const page = t.page;
  await expect.poll(async () => (await inbound(page)).packets, { message: `${what}: RTP arrives`, timeout: 10_000 }).toBeGreaterThan(0);
  // Growth, waited for rather than slept for: the next samples until more has arrived.
  const first = await inbound(page);
  let second = first;
  await expect
    .poll(async () => {
      second = await inbound(page);
      return second.packets > first.packets && second.bytes > first.bytes;
    }, { message: `${what}: packetsReceived and bytesReceived grow`, timeout: 10_000 })
    .toBe(true);
  console.log(`${what}: inbound ${JSON.stringify(first)} → ${JSON.stringify(second)}`);
  expect(second.pcs, `${what}: a live PeerConnection`).toBeGreaterThan(0);
  expect(second.packets, `${what}: packetsReceived grows`).toBeGreaterThan(first.packets);
  expect(second.bytes, `${what}: bytesReceived grows`).toBeGreaterThan(first.bytes);
  // Sound, not only packets: audioLevel is the level right now and Chromium's fake
  // microphone beeps, so it dips to zero between beeps; totalAudioEnergy integrates the
  // level, so its growth says sound arrived in between. Poll until either shows it.
  let energy = second.energy ?? 0;
  await expect
    .poll(
      async () => {
        const now = await inbound(page);
        const heard = (now.level ?? 0) > 0 || (now.energy ?? 0) > energy;
        energy = Math.max(energy, now.energy ?? 0);
        return heard;
      },
      { message: `${what}: audioLevel above zero (or totalAudioEnergy growing)`, timeout: 10_000 },
    )
    .toBe(true);
}

export const POOL_A_HZ = [440, 660];
export const POOL_B_HZ = [1000, 1200];

// tones listens to what the page plays (every remote <audio> the softphone made) with an
// AnalyserNode for ms and returns, per frequency, the loudest level (dBFS) seen within
// ±2 bins of it. The music on hold alternates its two notes every 500 ms, so listening
// for 2.5 s hears both.
export async function tones(page: Page, freqs: number[], ms = 2_500): Promise<Record<number, number>> {
  return page.evaluate(
    async ({ freqs, ms }) => {
      const streams = Array.from(document.querySelectorAll<HTMLAudioElement>('audio'))
        .map((a) => a.srcObject)
        .filter((s): s is MediaStream => s instanceof MediaStream && s.getAudioTracks().length > 0);
      const best: Record<number, number> = {};
      for (const f of freqs) best[f] = -Infinity;
      if (streams.length === 0) return best;
      const ctx = new AudioContext();
      await ctx.resume();
      const an = ctx.createAnalyser();
      an.fftSize = 8192;
      an.smoothingTimeConstant = 0;
      const sources = streams.map((s) => ctx.createMediaStreamSource(s));
      for (const s of sources) s.connect(an);
      const buf = new Float32Array(an.frequencyBinCount);
      const binHz = ctx.sampleRate / an.fftSize;
      const end = performance.now() + ms;
      while (performance.now() < end) {
        await new Promise((r) => setTimeout(r, 100));
        an.getFloatFrequencyData(buf);
        for (const f of freqs) {
          const k = Math.round(f / binHz);
          for (let i = Math.max(0, k - 2); i <= Math.min(buf.length - 1, k + 2); i++) best[f] = Math.max(best[f], buf[i]);
        }
      }
      for (const s of sources) s.disconnect();
      await ctx.close();
      return best;
    },
    { freqs, ms },
  );
}

// expectMusic checks that the page hears one pool's music on hold and not the other's:
// each of want's notes at least 20 dB above the louder of other's.
export async function expectMusic(t: Tab, want: number[], other: number[], what: string): Promise<Record<number, number>> {
  let levels: Record<number, number> = {};
  await expect
    .poll(
      async () => {
        const lv = (levels = await tones(t.page, [...want, ...other]));
        const floor = Math.max(...other.map((f) => lv[f]));
        const quiet = Math.min(...want.map((f) => lv[f]));
        console.log(`${what}: levels ${JSON.stringify(Object.fromEntries(Object.entries(lv).map(([k, v]) => [k, Math.round(v)])))}`);
        return quiet - floor;
      },
      { message: `${what}: hears ${want.join('/')} Hz, not ${other.join('/')} Hz`, timeout: 12_000, intervals: [250] },
    )
    .toBeGreaterThan(20);
  return levels;
}

// expectNoMusic checks that a note the page heard at level (dBFS) while parked is at
// least 20 dB quieter now that the call was retrieved.
export async function expectNoMusic(t: Tab, hz: number, level: number, what: string): Promise<void> {
  await expect
    .poll(async () => (await tones(t.page, [hz], 1_500))[hz], {
      message: `${what}: the ${hz} Hz note of the music on hold (${Math.round(level)} dB while parked) is gone`,
      timeout: 12_000,
      intervals: [250],
    })
    .toBeLessThan(level - 20);
}
