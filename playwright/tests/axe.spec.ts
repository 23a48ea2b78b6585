// Issue 6: accessibility. axe-core (@axe-core/playwright) finds no serious or critical
// violation on the softphone page or the widget, idle and with an alert on show; and every control is reachable with Tab and works with Enter or Space — a whole
// call placed, held, resumed and hung up from the keyboard alone, in the widget, answered
// from the keyboard on the full page.
import AxeBuilder from '@axe-core/playwright';
import type { Browser, BrowserContext, Locator, Page } from '@playwright/test';
import { expect, test } from './demo';
import { alertRegion, button, connection, open, restoreNormal, startTimeout } from './support';

test.beforeEach(async ({ request }) => restoreNormal(request));

const contexts: BrowserContext[] = [];
test.afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
});

async function newPage(browser: Browser): Promise<Page> {
  const ctx = await browser.newContext({ permissions: ['microphone'] });
  contexts.push(ctx);
  return ctx.newPage();
}

// The two pages, each signed in as alice in demo mode. The widget opened on its own (not
// framed) behaves as the full page does with ?user=.
const PAGES = {
  softphone: '/?user=alice',
  widget: '/widget.html?user=alice',
} as const;

async function openPage(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await expect(connection(page)).toHaveAttribute('data-connection', 'connected', { timeout: startTimeout });
  await expect(page.getByRole('status').first()).toHaveAttribute('data-phase', 'normal');
}

async function seriousViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

// isFocused reports whether loc is the element with the keyboard focus.
const isFocused = (loc: Locator) => loc.evaluate((el) => el === document.activeElement);

// tabTo presses Tab (or Shift+Tab) until loc has the focus, and fails if it never does:
// the control is not reachable from the keyboard.
async function tabTo(page: Page, loc: Locator, back = false): Promise<void> {
  for (let i = 0; i < 80; i++) {
    if (await isFocused(loc)) return;
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  throw new Error(`${loc} is not reachable with ${back ? 'Shift+Tab' : 'Tab'}`);
}

for (const [name, path] of Object.entries(PAGES)) {
  test(`axe: no serious or critical violations on the ${name}`, async ({ browser }) => {
    const page = await newPage(browser);
    await openPage(page, path);
    expect(await seriousViolations(page), `${name}, idle`).toEqual([]);

    // With an alert on show (Retrieve with no orbit is refused on the page itself).
    await button(page, 'retrieve').click();
    await expect(alertRegion(page)).toBeVisible();
    expect(await seriousViolations(page), `${name}, with an alert`).toEqual([]);
  });

  test(`keyboard: every control on the ${name} is reachable with Tab`, async ({ browser }) => {
    const page = await newPage(browser);
    await openPage(page, path);
    // Everything a pointer could use now: enabled buttons, fields, summaries, links.
    const controls = await page.evaluate(() => {
      const all = document.querySelectorAll<HTMLElement>('button, input, summary, a[href], select, textarea, [tabindex]');
      const out: string[] = [];
      all.forEach((el, i) => {
        if ((el as HTMLButtonElement).disabled || el.getAttribute('tabindex') === '-1') return;
        if (!el.checkVisibility({ visibilityProperty: true })) return;
        el.dataset.kbd = String(i);
        out.push(String(i));
      });
      return out;
    });
    expect(controls.length, 'controls to reach').toBeGreaterThan(4);
    const reached = new Set<string>();
    await page.locator('body').click({ position: { x: 1, y: 1 } });
    for (let i = 0; i < controls.length * 2 + 10; i++) {
      await page.keyboard.press('Tab');
      const k = await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.kbd ?? '');
      if (k) reached.add(k);
    }
    const missing = controls.filter((k) => !reached.has(k));
    const names = await page.evaluate(
      (ks) => ks.map((k) => document.querySelector(`[data-kbd="${k}"]`)?.outerHTML.slice(0, 120) ?? k),
      missing,
    );
    expect(names, 'controls Tab never reaches').toEqual([]);
  });
}

test('keyboard: a whole call from the widget, answered on the full page, without a mouse', async ({ browser }) => {
  test.setTimeout(150_000);
  const bob = await newPage(browser);
  await open(bob, 'bob');
  const alice = await newPage(browser);
  await openPage(alice, PAGES.widget);

  // Enter on a control: Retrieve with no orbit is refused, and the alert says why.
  await tabTo(alice, button(alice, 'retrieve'));
  await alice.keyboard.press('Enter');
  await expect(alertRegion(alice)).toContainText('orbit');
  // Space on the alert's Dismiss, reached backwards.
  await tabTo(alice, alice.getByRole('button', { name: 'Dismiss' }), true);
  await alice.keyboard.press('Space');
  await expect(alertRegion(alice)).toBeHidden();

  // Type bob in Number and press Enter: the call goes out. Bob's SIP registration runs
  // in the background after his sign-in; until it is at the pool the call is "not
  // found", so try again until it rings.
  const number = alice.getByLabel('Number', { exact: true });
  await tabTo(alice, number, true);
  await alice.keyboard.type('bob');
  const live = (p: Page) => p.locator('[data-part="calls"] [data-call-state]:not([data-call-state="ended"])');
  await expect(async () => {
    if (await alertRegion(alice).isVisible()) {
      await tabTo(alice, alice.getByRole('button', { name: 'Dismiss' }), true);
      await alice.keyboard.press('Enter');
      await tabTo(alice, number);
    }
    // Again only if the last try left no call: a call slow to show on a loaded machine
    // would otherwise be placed twice.
    if ((await live(alice).count()) === 0) {
      await number.focus();
      await alice.keyboard.press('Enter');
    }
    await expect(live(alice)).toHaveCount(1, { timeout: 8_000 });
  }).toPass({ timeout: 30_000 });

  // Bob answers from the keyboard: Tab to Answer, Enter.
  await expect(button(bob, 'answer')).toBeEnabled({ timeout: 15_000 });
  await tabTo(bob, button(bob, 'answer'));
  await bob.keyboard.press('Enter');
  await expect(live(alice)).toHaveAttribute('data-call-state', 'active', { timeout: 15_000 });

  // Hold with Space, Resume with Enter, Hang up with Enter — each reached with Tab.
  await tabTo(alice, button(alice, 'hold'));
  await alice.keyboard.press('Space');
  await expect(live(alice)).toHaveAttribute('data-call-state', 'held', { timeout: 10_000 });
  await tabTo(alice, button(alice, 'resume'));
  await alice.keyboard.press('Enter');
  await expect(live(alice)).toHaveAttribute('data-call-state', 'active', { timeout: 10_000 });
  await tabTo(alice, button(alice, 'hangup'));
  await alice.keyboard.press('Enter');
  await expect(live(alice)).toHaveCount(0, { timeout: 10_000 });
  await expect(live(bob)).toHaveCount(0, { timeout: 10_000 });
});
