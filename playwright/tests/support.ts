// Shared helpers for the Parkway specs. Nothing here is imported from Go: the expected
// capabilities are ARCHITECTURE.md §2's table written out again, so a bug in the Go rule and
// the same bug in the UI cannot agree with each other and pass.
import { expect, type APIRequestContext, type Locator, type Page } from '@playwright/test';

export type Phase = 'normal' | 'outage' | 'failover' | 'failed-over' | 'failback';
export const PHASES: Phase[] = ['normal', 'outage', 'failover', 'failed-over', 'failback'];

// The buttons, by the action the page sends and the accessible name it shows.
export const BUTTONS = {
  call: 'Call',
  answer: 'Answer',
  decline: 'Decline',
  hangup: 'Hang up',
  hold: 'Hold',
  resume: 'Resume',
  transfer: 'Transfer',
  park: 'Park',
  retrieve: 'Retrieve',
  mute: 'Mute',
} as const;
export type Action = keyof typeof BUTTONS;
export const ACTIONS = Object.keys(BUTTONS) as Action[];

// What a disabled button says. The phase reasons are the seed's sentences as the
// contract words them; the no-call reason is what any call control says with no call.
export const REASON = {
  noRegistrar:
    'Calls are unavailable: the home pool is unreachable and you have not been moved to the backup pool yet',
  transferOutage: 'Transfer is unavailable: the home pool is unreachable',
  parkOutage: 'Park is unavailable: the home pool is unreachable',
  parkResiliency: 'Park is unavailable in resiliency mode',
  retrieveOutage: 'Retrieve is unavailable: the home pool is unreachable',
  retrieveFailover: 'Retrieve is unavailable in resiliency mode: no calls are parked during failover',
  noCall: 'There is no call',
};

// The status line's words per phase.
export const STATUS_TEXT: Record<Phase, string> = {
  normal: 'Connected — all features available',
  outage: 'Home pool unreachable — calls in progress stay up; new calls wait for redirection',
  failover: 'Resiliency mode — park unavailable',
  'failed-over': 'Running on the backup pool — all features available',
  failback: 'Resiliency mode (moving back to home pool) — park unavailable',
};

export type Verdict = { allowed: boolean; reason?: string };

// expected is ARCHITECTURE.md §2 "what a user can do, by phase" with no call in focus (issue 2
// has no calls): the phase refuses first and says why; where the phase allows, an action
// that needs a call is refused for having none. Call and Retrieve need no call.
export function expected(phase: Phase): Record<Action, Verdict> {
  const ok: Verdict = { allowed: true };
  const noCall: Verdict = { allowed: false, reason: REASON.noCall };
  const refuse = (reason: string): Verdict => ({ allowed: false, reason });
  const outage = phase === 'outage';
  const resiliency = phase === 'failover' || phase === 'failback';
  return {
    // place / answer: ✗ only in outage (no registrar)
    call: outage ? refuse(REASON.noRegistrar) : ok,
    answer: outage ? refuse(REASON.noRegistrar) : noCall,
    // ending a call and muting need no pool; hold / resume are allowed in every phase
    decline: noCall,
    hangup: noCall,
    hold: noCall,
    resume: noCall,
    mute: noCall,
    // transfer: ✗ in outage
    transfer: outage ? refuse(REASON.transferOutage) : noCall,
    // park: ✓ normal and failed-over only
    park: outage ? refuse(REASON.parkOutage) : resiliency ? refuse(REASON.parkResiliency) : noCall,
    // retrieve: ✗ outage and failover; ✓ in failback (a step beyond Lync)
    retrieve: outage
      ? refuse(REASON.retrieveOutage)
      : phase === 'failover'
        ? refuse(REASON.retrieveFailover)
        : ok,
  };
}

export const button = (page: Page, a: Action): Locator =>
  page.getByRole('button', { name: BUTTONS[a], exact: true });
export const statusRegion = (page: Page): Locator => page.getByRole('status');
export const connection = (page: Page): Locator => page.locator('[data-part="connection"]');
export const alertRegion = (page: Page): Locator => page.getByRole('alert');

// startTimeout bounds page load → connected. It is generous on purpose: on a loaded
// two-core machine Chromium can take many seconds to compile and start a 6 MB WASM module,
// and this suite judges behaviour, not speed (load.spec.ts measures that).
export const startTimeout = 30_000;

// open signs user in through /?user=NAME and waits until the page shows a pool state.
export async function open(page: Page, user = 'alice'): Promise<void> {
  await page.goto(`/?user=${encodeURIComponent(user)}`);
  await expect(connection(page)).toHaveAttribute('data-connection', 'connected', { timeout: startTimeout });
  await expect(statusRegion(page)).toHaveAttribute('data-phase', /^(normal|outage|failover|failed-over|failback)$/);
}

// expectButtons checks every button against the table for phase: enabled exactly when
// allowed; when disabled, the reason as title and as accessible description.
export async function expectButtons(page: Page, phase: Phase, opts?: { timeout?: number }): Promise<void> {
  const want = expected(phase);
  for (const a of ACTIONS) {
    const b = button(page, a);
    if (want[a].allowed) {
      await expect(b, `${BUTTONS[a]} in ${phase}`).toBeEnabled(opts);
      await expect(b, `${BUTTONS[a]} in ${phase} has no reason`).not.toHaveAttribute('title', /./, opts);
    } else {
      await expect(b, `${BUTTONS[a]} in ${phase}`).toBeDisabled(opts);
      await expect(b, `${BUTTONS[a]} title in ${phase}`).toHaveAttribute('title', want[a].reason!, opts);
      await expect(b, `${BUTTONS[a]} description in ${phase}`).toHaveAccessibleDescription(want[a].reason!, opts);
    }
  }
}

// expectPhase checks the status region: data-phase and the human text.
export async function expectPhase(page: Page, phase: Phase, opts?: { timeout?: number }): Promise<void> {
  await expect(statusRegion(page)).toHaveAttribute('data-phase', phase, opts);
  await expect(statusRegion(page)).toContainText(STATUS_TEXT[phase], opts);
}

// Snapshot is the page as it was the moment it showed a phase (see recordStates).
export type Snapshot = {
  phase: Phase;
  text: string;
  home: string;
  active: string;
  at: number; // performance.now() in the page
  buttons: Record<Action, { disabled: boolean; title: string | null; description: string | null }>;
};

// recordStates makes the page keep every phase it shows, with the buttons as they were at
// that moment. Some phases are brief by design (outage lasts until users are redirected;
// failback until they are home), too brief to poll for, but each state push is rendered in
// one task and data-phase is written last, so a MutationObserver sees each one whole.
export async function recordStates(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const log: unknown[] = [];
    (window as unknown as { __parkwayStates: unknown[] }).__parkwayStates = log;
    const snap = (status: Element) => {
      const phase = status.getAttribute('data-phase');
      if (!phase) return;
      const buttons: Record<string, unknown> = {};
      for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('button[data-action]'))) {
        const ref = b.getAttribute('aria-describedby');
        buttons[b.dataset.action!] = {
          disabled: b.disabled,
          title: b.getAttribute('title'),
          description: ref ? (document.getElementById(ref)?.textContent ?? null) : null,
        };
      }
      const text = (sel: string) => status.querySelector(sel)?.textContent ?? '';
      log.push({
        phase,
        text: text('[data-part="status-text"]'),
        home: text('[data-part="home-pool"]'),
        active: text('[data-part="active-pool"]'),
        at: performance.now(),
        buttons,
      });
    };
    document.addEventListener('DOMContentLoaded', () => {
      const status = document.querySelector('[data-part="status"]');
      if (!status) return;
      new MutationObserver(() => snap(status)).observe(status, {
        attributes: true,
        attributeFilter: ['data-phase'],
      });
    });
  });
}

export async function recorded(page: Page): Promise<Snapshot[]> {
  return page.evaluate(() => (window as unknown as { __parkwayStates: Snapshot[] }).__parkwayStates ?? []);
}

// checkSnapshot compares one recorded moment with the table.
export function checkSnapshot(s: Snapshot): string[] {
  const problems: string[] = [];
  const want = expected(s.phase);
  if (s.text !== STATUS_TEXT[s.phase]) problems.push(`${s.phase}: status text ${JSON.stringify(s.text)}`);
  for (const a of ACTIONS) {
    const got = s.buttons[a];
    if (!got) {
      problems.push(`${s.phase}: no ${a} button`);
      continue;
    }
    if (got.disabled === want[a].allowed) problems.push(`${s.phase}: ${BUTTONS[a]} disabled=${got.disabled}`);
    if (!want[a].allowed && (got.title !== want[a].reason || got.description !== want[a].reason))
      problems.push(`${s.phase}: ${BUTTONS[a]} says ${JSON.stringify(got.title)} / ${JSON.stringify(got.description)}, want ${JSON.stringify(want[a].reason)}`);
    if (want[a].allowed && got.title) problems.push(`${s.phase}: ${BUTTONS[a]} enabled but titled ${JSON.stringify(got.title)}`);
  }
  return problems;
}

// The admin and demo API of the gateway.
export async function drPhase(request: APIRequestContext): Promise<Phase> {
  const r = await request.get('/api/dr');
  expect(r.ok(), `GET /api/dr: ${r.status()}`).toBeTruthy();
  return (await r.json()).phase as Phase;
}

export async function post(request: APIRequestContext, path: string, okStatuses = [200, 202, 204]): Promise<number> {
  const r = await request.post(path);
  expect(okStatuses, `POST ${path} answered ${r.status()}: ${await r.text()}`).toContain(r.status());
  return r.status();
}

export async function waitForPhase(request: APIRequestContext, want: Phase | Phase[], timeout = 10_000): Promise<Phase> {
  const wants = Array.isArray(want) ? want : [want];
  let last: Phase = 'normal';
  await expect
    .poll(async () => (last = await drPhase(request)), { timeout, message: `gateway phase to become ${wants.join(' or ')}` })
    .toMatch(new RegExp(`^(${wants.join('|')})$`));
  return last;
}

// restoreNormal brings the demo back to normal whatever a spec left behind, so specs
// do not depend on each other: home pool up, then failover/failback as the phase needs.
// A pool that cannot be started again fails the test here, saying why (the gateway's
// answer), instead of leaving the next tests a demo stuck in failover.
export async function restoreNormal(request: APIRequestContext): Promise<void> {
  for (const pool of ['pool-a', 'pool-b']) {
    const path = `/api/demo/pools/${pool}/start`;
    // maxRetries: a connection reset before the request reached the gateway (a
    // keep-alive connection closing under it) is sent again; starting is idempotent.
    const r = await request.post(path, { maxRetries: 2 });
    if (!r.ok()) throw new Error(`the demo's ${pool} cannot be started again: POST ${path} answered ${r.status()}: ${await r.text()}`);
  }
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const phase = await drPhase(request);
    if (phase === 'normal') return;
    if (phase === 'failed-over' || phase === 'failover') await request.post('/api/dr/failback');
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the demo did not return to normal (phase ${await drPhase(request)})`);
}

// The softphone's call list (wasm/callview.go): li.call per call, newest first, with
// data-call-id, data-call-state, data-direction, data-muted (data-orbit once parked),
// aria-current on the call the controls act on, and inside it call-peer, call-state,
// call-timer and the call-select button.
export const callItems = (page: Page): Locator => page.locator('[data-part="calls"] > li.call');
export const liveCallItems = (page: Page): Locator =>
  page.locator('[data-part="calls"] > li.call:not([data-call-state="ended"])');
// callWith is the live call whose peer is exactly peer.
export const callWith = (page: Page, peer: string): Locator =>
  liveCallItems(page).filter({ has: page.locator('[data-part="call-peer"]', { hasText: new RegExp(`^${peer}$`) }) });

// dial calls target from page with the Number field and the Call button, and waits for
// the call to show. SIP registrations happen in the background after sign-in: until
// the callee's is at the pool a call is "not found", so it tries again until it rings.
export async function dial(page: Page, target: string, opts?: { timeout?: number }): Promise<Locator> {
  const before = await liveCallItems(page).count();
  await page.getByLabel('Number', { exact: true }).fill(target);
  await expect(async () => {
    if (await alertRegion(page).isVisible()) await page.getByRole('button', { name: 'Dismiss' }).click();
    // Again only if the last try left no call: on a busy machine a call can take longer
    // than one try to show, and a second click would place a second call.
    if ((await liveCallItems(page).count()) === before) await button(page, 'call').click();
    await expect(liveCallItems(page)).toHaveCount(before + 1, { timeout: 8_000 });
  }).toPass({ timeout: opts?.timeout ?? 30_000 });
  await page.getByLabel('Number', { exact: true }).fill('');
  return callWith(page, target);
}

// Every connection state the indicator showed, in order (some last a few milliseconds).
export async function recordConnection(page: Page) {
  await page.addInitScript(() => {
    const log: string[] = [];
    (window as unknown as { __conn: string[] }).__conn = log;
    document.addEventListener('DOMContentLoaded', () => {
      const el = document.querySelector('[data-part="connection"]')!;
      const push = () => {
        const s = `${el.getAttribute('data-connection')}: ${el.textContent!.trim()}`;
        if (log[log.length - 1] !== s) log.push(s);
      };
      new MutationObserver(push).observe(el, { attributes: true, subtree: true, characterData: true, childList: true });
    });
  });
  return async () => page.evaluate(() => (window as unknown as { __conn: string[] }).__conn);
}

// The Content-Security-Policy violations each watched page has seen (watchCSP): what the
// browser said on the page's console, from any of its frames.
const cspConsole = new WeakMap<Page, string[]>();

// watchCSP records every Content-Security-Policy violation on page from now on: each
// document it loads, the widget's cross-origin iframe included, keeps the
// securitypolicyviolation events it sees, and the page's console keeps the browser's own
// report of each ("Refused to … because it violates the following Content Security
// Policy directive …"), which also covers a refusal no event reaches, such as a
// frame-ancestors one. Call it before the page loads; expectNoCSPViolations reads both.
export async function watchCSP(page: Page): Promise<void> {
  if (cspConsole.has(page)) return;
  const said: string[] = [];
  cspConsole.set(page, said);
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) said.push(`console: ${m.text()}`);
  });
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
    document.addEventListener('securitypolicyviolation', (e) => {
      seen.push(`${location.origin}${location.pathname}: ${e.effectiveDirective} refused ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
}

// expectNoCSPViolations fails, listing them, if page or any of its frames has seen a
// Content-Security-Policy violation since watchCSP: the gateway's policy
// (gateway/assets PagePolicy) must allow everything the softphone really does.
export async function expectNoCSPViolations(page: Page): Promise<void> {
  const said = cspConsole.get(page);
  if (!said) throw new Error('expectNoCSPViolations: call watchCSP before the page loads');
  const seen: string[] = [];
  for (const frame of page.frames()) {
    // A frame that went away meanwhile has nothing more to say.
    const v = await frame
      .evaluate(() => (window as unknown as { __cspViolations?: string[] }).__cspViolations ?? [])
      .catch(() => [] as string[]);
    seen.push(...v);
  }
  expect([...seen, ...said], 'Content-Security-Policy violations').toEqual([]);
}
