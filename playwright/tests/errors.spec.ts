// (e) A request the gateway refuses shows the gateway's own words in the alert region
// (role="alert", announced by screen readers), titled by the button that asked. The
// gateway carries calls (issue 4), so a Call to a user nobody is registered as is what
// it refuses: "not found". Also: problems the page can tell by itself, and keyboard use.
import type { Page } from '@playwright/test';
import { expect, test } from './demo';
import { alertRegion, button, open, restoreNormal } from './support';

const alertTitle = (page: Page) => page.locator('[data-part="alert-title"]');

test.beforeEach(async ({ request }) => restoreNormal(request));

// gatewayErrors collects the error frames the gateway sends this page.
function gatewayErrors(page: Page) {
  const errors: { code: string; message: string; ref?: string }[] = [];
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => {
      try {
        const env = JSON.parse(payload.toString());
        if (env.type === 'error') errors.push(env.data);
      } catch {
        /* not JSON: not ours to judge here */
      }
    });
  });
  return errors;
}

test('a refused Call shows the gateway\'s error', async ({ page }) => {
  const errors = gatewayErrors(page);
  await open(page, 'alice');
  await page.getByLabel('Number', { exact: true }).fill('nobody');
  await button(page, 'call').click();

  await expect(alertRegion(page)).toBeVisible();
  await expect.poll(() => errors.length, { message: 'the gateway answered with an error frame' }).toBeGreaterThan(0);
  const err = errors[errors.length - 1];
  expect(err.ref, 'the error refers to the request').toBeTruthy();
  await expect(alertRegion(page)).toContainText(err.message);
  await expect(alertRegion(page)).toHaveAttribute('data-code', err.code);
  await expect(alertTitle(page)).toHaveText(/^Call (refused|unavailable|failed)$/);
  expect(err.code).toBe('not-found');
  await expect(alertRegion(page)).toContainText('not found');
  // The call that was refused left no call behind.
  await expect(page.locator('[data-part="calls"] [data-call-state]:not([data-call-state="ended"])')).toHaveCount(0);
  console.log(`Call → ${err.code}: ${err.message}`);

  // Dismissable, from the keyboard too.
  await page.getByRole('button', { name: 'Dismiss' }).focus();
  await page.keyboard.press('Enter');
  await expect(alertRegion(page)).toBeHidden();
});

test('Enter in Number places the call, and a bad number gets the gateway\'s field error', async ({ page }) => {
  const errors = gatewayErrors(page);
  await open(page, 'alice');
  const number = page.getByLabel('Number', { exact: true });
  await number.fill('not a number!');
  await number.press('Enter');
  await expect(alertRegion(page)).toBeVisible();
  // The gateway's bad-field refusal, not whatever came last: the browser may still
  // trickle an ICE candidate for the refused call, which the gateway refuses too.
  await expect.poll(() => errors.some((e) => e.code === 'bad-field')).toBe(true);
  await expect(alertRegion(page)).toContainText(errors.find((e) => e.code === 'bad-field')!.message);
  await expect(alertRegion(page)).toHaveAttribute('data-code', 'bad-field');
});

test('what the page can tell by itself it says without asking the gateway', async ({ page }) => {
  const errors = gatewayErrors(page);
  await open(page, 'alice');
  await button(page, 'call').click();
  await expect(alertRegion(page)).toContainText('Enter a name or number to call.');
  await expect(alertRegion(page)).toHaveAttribute('data-code', 'local');
  await expect(page.getByLabel('Number', { exact: true })).toBeFocused();

  await button(page, 'retrieve').click();
  await expect(alertRegion(page)).toContainText('Enter the orbit number the call is parked on.');
  await expect(page.getByLabel('Orbit', { exact: true })).toBeFocused();
  expect(errors).toHaveLength(0);
});

test('Retrieve sends the orbit and shows the gateway\'s answer', async ({ page }) => {
  const errors = gatewayErrors(page);
  await open(page, 'alice');
  await page.getByLabel('Orbit', { exact: true }).fill('7001');
  await page.getByLabel('Orbit', { exact: true }).press('Enter');
  await expect.poll(() => errors.length).toBeGreaterThan(0);
  await expect(alertRegion(page)).toContainText(errors[errors.length - 1].message);
  await expect(alertTitle(page)).toHaveText(/^Retrieve (refused|unavailable|failed)$/);
});

test('the controls are reachable and usable from the keyboard, with a visible focus', async ({ page }) => {
  await open(page, 'alice');
  const number = page.getByLabel('Number', { exact: true });
  await number.focus();
  await number.fill('nobody');
  await page.keyboard.press('Tab');
  await expect(button(page, 'call')).toBeFocused();
  const outline = await button(page, 'call').evaluate((el) => getComputedStyle(el).outlineStyle);
  expect(outline).not.toBe('none');
  await page.keyboard.press('Space');
  await expect(alertTitle(page)).toHaveText(/^Call /);
  // Disabled buttons are skipped; the next stop is an enabled control (Orbit, Retrieve).
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Orbit', { exact: true })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(button(page, 'retrieve')).toBeFocused();
});
