// The demo a spec runs against, and the `test` every spec imports from here.
//
// The suite is split in two Playwright projects (playwright.config.ts):
//   phase — tests tagged PHASE (`test('…', { tag: PHASE }, …)`): they stop or start a
//           pool, or fail over / fail back, through the admin API or the demo's buttons.
//           They run one at a time against the shared demos the config's webServer starts
//           (the default one on 18787, the survivable-park one on 18789).
//   free  — every other test. They run in several workers at once, each worker against a
//           `parkway demo` of its own, started here on its own ports. A worker's tests
//           run one at a time, so the demo's four users are never shared by two tests.
// Both projects run at the same time. A test that changes the phase without the tag
// would change it under a test of its own worker only, but it belongs in `phase`: there
// it is checked against the demo the story and capability specs use.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test as base } from '@playwright/test';
import { baseURL, icePorts, reattachGraceSeconds, workerPoolPorts } from '../playwright.config';

// PHASE marks a test that changes a demo's pool phase (see above).
export const PHASE = '@phase';

export type Demo = {
  url: string; // http://127.0.0.1:port
  icePorts: string; // MIN-MAX: the gateway's WebRTC UDP ports (reattach.spec drops them with nft)
  reattachGraceSeconds: number;
};

type WorkerFixtures = {
  // ownDemo: each worker starts a demo of its own (project free) instead of using the
  // shared one (project phase, and a plain `playwright test` without projects' options).
  ownDemo: boolean;
  demo: Demo;
};

// A worker's own demo listens on ownDemoBase + parallelIndex and uses 1,000 ICE ports of
// its own above 21000 and 100 pool ports of its own above 24200 (workerPoolPorts): never
// the shared demos' 18787/18789, 20000–20999 or 24000–24199, and below the kernel's
// ephemeral range (32768+) that Chromium's own UDP sockets use.
const ownDemoBase = Number(process.env.PARKWAY_E2E_WORKER_PORT ?? 18800);

export const test = base.extend<object, WorkerFixtures>({
  ownDemo: [false, { scope: 'worker', option: true }],
  demo: [
    async ({ ownDemo }, use, info) => {
      if (!ownDemo) {
        await use({ url: baseURL, icePorts, reattachGraceSeconds });
        return;
      }
      const i = info.parallelIndex;
      const ice = `${21000 + 1000 * i}-${21999 + 1000 * i}`;
      const log = path.join(info.project.outputDir, `demo-worker-${i}.log`);
      const demo = await startDemo(ownDemoBase + i, { ice, poolPorts: workerPoolPorts(i), graceSeconds: reattachGraceSeconds }, log);
      try {
        await use({ url: demo.url, icePorts: ice, reattachGraceSeconds });
      } finally {
        await demo.stop();
      }
    },
    { scope: 'worker', timeout: 60_000 },
  ],
  baseURL: async ({ demo }, use) => use(demo.url),
});

export { expect } from '@playwright/test';

// DemoOptions are a started demo's flags: its re-attach grace, the pools' port band
// (--pool-ports, a band no other demo of the namespace uses) and the gateway's ICE ports
// (--ice-ports; none: any).
export type DemoOptions = { graceSeconds: number; poolPorts: string; ice?: string };

// startDemo starts `parkway demo` as the config's webServer starts the shared one, and
// waits until its admin API answers. Its output goes to logFile. setpriv --pdeathsig
// ends it with the worker even if the worker is killed before its teardown runs. A spec
// may start a demo of its own with more flags (extraArgs, e.g. --gateways 3).
export async function startDemo(
  port: number,
  opts: DemoOptions,
  logFile: string,
  extraArgs: string[] = [],
): Promise<{ url: string; stop: () => Promise<void> }> {
  const bin = process.env.PARKWAY_BIN ?? path.join(__dirname, '..', '..', 'bin', 'parkway');
  const url = `http://127.0.0.1:${port}`;
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const out = fs.openSync(logFile, 'a');
  const args = ['demo', '--http', `127.0.0.1:${port}`, '--reattach-grace', `${opts.graceSeconds}s`, '--pool-ports', opts.poolPorts, ...extraArgs];
  if (opts.ice) args.push('--ice-ports', opts.ice);
  const child: ChildProcess = spawn('setpriv', ['--pdeathsig', 'KILL', '--', bin, ...args], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));

  const tail = () => fs.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (gone) throw new Error(`parkway demo on ${url} exited before serving (log ${logFile}):\n${tail()}`);
    try {
      const r = await fetch(`${url}/api/dr`, { signal: AbortSignal.timeout(2_000) });
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`parkway demo on ${url} did not answer GET /api/dr within 30 s (log ${logFile}):\n${tail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const stop = async () => {
    if (gone) return;
    child.kill('SIGINT'); // stop at once, as Playwright stops the webServer
    const killed = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killed);
  };
  return { url, stop };
}
