// (c) The whole disaster-recovery walk through the admin API, each step reflected live in
// the page: failover → failed-over → failback → normal, with the active pool following.
// Refused transitions (409) change nothing on the page.
import { expect, PHASE, test } from './demo';
import { expectButtons, expectPhase, open, post, restoreNormal, statusRegion, waitForPhase } from './support';

test.beforeEach(async ({ request }) => restoreNormal(request));
test.afterEach(async ({ request }) => restoreNormal(request));

const pool = (page: import('@playwright/test').Page, part: 'home-pool' | 'active-pool') =>
  page.locator(`[data-part="${part}"]`);

test('outage, failover, failed-over, failback and back to normal, each shown live', { tag: PHASE }, async ({ page, request }) => {
  await open(page, 'carol');
  await expectPhase(page, 'normal');
  await expect(pool(page, 'home-pool')).toHaveText('pool-a');
  await expect(pool(page, 'active-pool')).toHaveText('pool-a');

  // Failback from normal is refused, and the page stays as it is.
  await post(request, '/api/dr/failback', [409]);
  await expectPhase(page, 'normal');

  await post(request, '/api/demo/pools/pool-a/stop');
  await waitForPhase(request, 'failover');
  await expectPhase(page, 'failover');
  await expect(statusRegion(page)).toHaveAttribute('data-resiliency', 'true');
  await expect(pool(page, 'active-pool')).toHaveText('pool-b');

  await post(request, '/api/dr/failover');
  await waitForPhase(request, 'failed-over');
  await expectPhase(page, 'failed-over');
  await expect(statusRegion(page)).toHaveAttribute('data-resiliency', 'false');
  await expect(pool(page, 'active-pool')).toHaveText('pool-b');
  await expectButtons(page, 'failed-over');

  // A second failover is refused: already failed over.
  await post(request, '/api/dr/failover', [409]);
  await expectPhase(page, 'failed-over');

  await post(request, '/api/demo/pools/pool-a/start');
  await expect
    .poll(async () => (await post(request, '/api/dr/failback', [200, 202, 204, 409])) !== 409, {
      message: 'failback accepted once pool-a answers probes',
      timeout: 10_000,
    })
    .toBe(true);
  await waitForPhase(request, ['failback', 'normal']);
  await expectPhase(page, 'normal');
  await expect(pool(page, 'active-pool')).toHaveText('pool-a');
  await expectButtons(page, 'normal');
});

test('a planned failover from normal reaches failed-over with the home pool alive', { tag: PHASE }, async ({ page, request }) => {
  await open(page, 'dave');
  await post(request, '/api/dr/failover');
  await waitForPhase(request, 'failed-over');
  await expectPhase(page, 'failed-over');
  await expect(pool(page, 'active-pool')).toHaveText('pool-b');
  await post(request, '/api/dr/failback');
  await waitForPhase(request, ['failback', 'normal']);
  await expectPhase(page, 'normal');
});
