// Issue #11: one DR phase for several gateways, as tabs see it. The spec starts its own
// `parkway demo --gateways 3` (three gateways on three ports over the same two pools,
// sharing the phase on one embedded NATS) and opens a tab on each. pool-a is stopped
// through one gateway's admin API and the phase is driven through the others': every
// tab on every gateway shows outage (or failover at once) → failover → failed-over,
// then failback → normal, and at each step every gateway's GET /api/dr has the same
// phase at the same revision of the cluster's phase record.
import { type Browser, type Page } from '@playwright/test';
import path from 'node:path';
import { expect, PHASE, startDemo, test } from './demo';
import { expectButtons, expectPhase, open, type Phase, recordStates, recorded } from './support';

// Ports of its own: not the shared demos' (18787, 18789), not the free project's
// workers' (18800 + index), ICE above theirs.
const base = Number(process.env.PARKWAY_E2E_CLUSTER_PORT ?? 18870);
const urls = [0, 1, 2].map((i) => `http://127.0.0.1:${base + i}`);

type ClusterDR = { phase: Phase; cluster?: { gateway: string; members: number; leader: string; revision: number } };

async function status(url: string): Promise<ClusterDR> {
  const r = await fetch(`${url}/api/dr`, { signal: AbortSignal.timeout(5_000) });
  expect(r.ok, `GET ${url}/api/dr: ${r.status}`).toBeTruthy();
  return (await r.json()) as ClusterDR;
}

// waitCluster waits until every gateway answers phase (one of phases) at one revision,
// all three members alive and one leader named by all, and returns that revision.
async function waitCluster(phases: Phase[], timeout = 30_000): Promise<number> {
  let last = '';
  let revision = 0;
  await expect
    .poll(
      async () => {
        const all = await Promise.all(urls.map(status));
        last = JSON.stringify(all);
        const revs = new Set(all.map((s) => s.cluster?.revision));
        const leaders = new Set(all.map((s) => s.cluster?.leader));
        const ok =
          all.every((s) => phases.includes(s.phase) && s.phase === all[0].phase && s.cluster?.members === 3) &&
          revs.size === 1 &&
          leaders.size === 1 &&
          !leaders.has('');
        revision = all[0].cluster?.revision ?? 0;
        return ok;
      },
      { timeout, message: `every gateway at ${phases.join(' or ')}, one revision, one leader (last: ${last})` },
    )
    .toBe(true);
  return revision;
}

async function post(url: string, p: string, okStatuses = [200, 202, 204]): Promise<number> {
  const r = await fetch(`${url}${p}`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
  expect(okStatuses, `POST ${url}${p} answered ${r.status}: ${await r.text()}`).toContain(r.status);
  return r.status;
}

// openOn opens user's softphone on the gateway at url, in a browser context of its own
// (cookies do not tell ports apart).
async function openOn(browser: Browser, url: string, user: string): Promise<Page> {
  const context = await browser.newContext({ baseURL: url });
  const page = await context.newPage();
  await recordStates(page);
  await open(page, user);
  return page;
}

test.describe('three gateways', () => {
  let demo: { stop: () => Promise<void> } | undefined;

  test.beforeAll(async ({}, info) => {
    test.setTimeout(90_000);
    demo = await startDemo(base, { graceSeconds: 30, poolPorts: '26000-26099', ice: '27000-27999' }, path.join(info.project.outputDir, 'demo-cluster.log'), ['--gateways', '3']);
    await waitCluster(['normal'], 60_000);
  });
  test.afterAll(async () => demo?.stop());

  test('a tab on each gateway shows the same phase through outage, failover, failed-over, failback and normal', { tag: PHASE }, async ({ browser }) => {
    test.setTimeout(180_000);
    // One after another: three pages compiling main.wasm at once on 2 cores starved each
    // other past the start timeout on a loaded machine.
    const tabs: Page[] = [];
    for (const [i, user] of ['alice', 'bob', 'carol'].entries()) tabs.push(await openOn(browser, urls[i], user));
    for (const tab of tabs) await expectPhase(tab, 'normal');

    // pool-a dies (through gw1's demo API): outage, then failover once every gateway
    // has moved its own users to pool-b.
    await post(urls[0], '/api/demo/pools/pool-a/stop');
    const failover = await waitCluster(['failover']);
    for (const tab of tabs) {
      await expectPhase(tab, 'failover', { timeout: 10_000 });
      await expectButtons(tab, 'failover');
    }

    // The admin completes the failover on gw2.
    await post(urls[1], '/api/dr/failover');
    const failedOver = await waitCluster(['failed-over']);
    expect(failedOver).toBeGreaterThan(failover);
    for (const tab of tabs) {
      await expectPhase(tab, 'failed-over', { timeout: 10_000 });
      await expectButtons(tab, 'failed-over');
    }

    // pool-a back, failback on gw3 (refused until the cluster sees pool-a healthy).
    await post(urls[2], '/api/demo/pools/pool-a/start');
    await expect
      .poll(async () => (await post(urls[2], '/api/dr/failback', [200, 202, 204, 409])) !== 409, {
        message: 'failback accepted once pool-a answers probes',
        timeout: 20_000,
      })
      .toBe(true);
    const normal = await waitCluster(['normal']);
    expect(normal).toBeGreaterThan(failedOver);
    for (const tab of tabs) {
      await expectPhase(tab, 'normal', { timeout: 10_000 });
      await expectButtons(tab, 'normal');
    }

    // Every tab went through the same phases in the same order: outage may be too brief
    // to reach a tab (it keeps only the newest state), failback too.
    for (const [i, tab] of tabs.entries()) {
      const seen = (await recorded(tab)).map((s) => s.phase).filter((p, j, all) => j === 0 || all[j - 1] !== p);
      const core = seen.filter((p) => p !== 'outage' && p !== 'failback');
      expect(core, `gateway ${i + 1}'s tab showed ${seen.join(' → ')}`).toEqual(['normal', 'failover', 'failed-over', 'normal']);
      const outage = seen.indexOf('outage');
      if (outage >= 0) expect(seen[outage + 1], `gateway ${i + 1}: after outage`).toBe('failover');
      const failback = seen.indexOf('failback');
      if (failback >= 0) expect(seen[failback + 1], `gateway ${i + 1}: after failback`).toBe('normal');
    }
    for (const tab of tabs) await tab.context().close();
  });
});
