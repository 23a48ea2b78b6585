// Side tool (not a test): where a page load's time goes, from a Chromium trace (issue 12).
//
//   ../scripts/loopback-only.sh sh -c 'parkway demo --http 127.0.0.1:18950 & sleep 5;
//     node tools/loadtimeline.mjs http://127.0.0.1:18950 [runs] [outdir]'
//
// For each run it starts Chromium (headless, with playwright.config.ts's flags, copied
// below, and CHROMIUM_EXTRA's) on a fresh profile on disk with a DevTools port, visits
// BASEURL/?user=alice (the first visit, held open SETTLE_MS, default 1000, after ready,
// traced throughout), closes that tab, opens a new tab of the same profile (the repeat
// visit, load.spec's "warm") and reloads it (the same-tab reload), tracing each load
// browser-wide. It prints, per load, the moments that matter relative to navigation start
// (requests, scripts, the wasm compile's and code cache's events, the client's marks), the
// page main thread's CPU by what it ran, when V8 compiled top-tier code and handed Blink
// a module to cache, and the profile's Code Cache/wasm size at the end; the traces go to
// outdir. ANALYSE=trace.json[,…] only prints what a saved trace holds. (load.spec's
// PARKWAY_LOAD_TRACE cannot trace the repeat visit: a persistent context has no Browser
// to start a browser-wide trace on.)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from '@playwright/test';

const base = process.argv[2];
const runs = Number(process.argv[3] ?? 3);
const outdir = process.argv[4] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'parkway-timeline-'));
const settleMs = Number(process.env.SETTLE_MS ?? 1000);
const extraArgs = (process.env.CHROMIUM_EXTRA ?? '').split(' ').filter(Boolean);
if (!base && !process.env.ANALYSE) throw new Error('usage: loadtimeline.mjs BASEURL [runs] [outdir]');
fs.mkdirSync(outdir, { recursive: true });

const categories = [
  'toplevel',
  'loading',
  'netlog',
  'devtools.timeline',
  'disabled-by-default-devtools.timeline',
  'blink.user_timing',
  'v8',
  'v8.wasm',
  'disabled-by-default-v8.wasm.detailed',
  'disabled-by-default-v8.compile',
  'blink',
  'navigation',
];

const flags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
  '--mute-audio',
  '--no-default-browser-check',
  '--disable-field-trial-config',
  '--disable-background-timer-throttling',
  '--disable-backgrounding-occluded-windows',
  '--disable-renderer-backgrounding',
  '--disable-features=AvoidUnnecessaryBeforeUnloadCheckSync,DestroyProfileOnBrowserClose,HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,LensOverlay,MediaRouter,PaintHolding,ThirdPartyStoragePartitioning,AvoidCorsURLLoaderRestartOnRedirect,TcpPortRandomizationWin,OptimizationHints,NetworkTimeServiceQuerying,AimEnabled,PreconnectToSearch,WebUIOmniboxPopup,WebUIOmniboxAimPopup',
  ...extraArgs,
];

async function startChromium(profile) {
  const proc = spawn('/usr/bin/chromium', [...flags, `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const ws = await new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`chromium gave no DevTools URL in 30 s: ${err.slice(-2000)}`)), 30_000);
    proc.stderr.on('data', (d) => {
      err += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => reject(new Error(`chromium exited ${code}: ${err.slice(-2000)}`)));
  });
  const browser = await chromium.connectOverCDP(ws);
  return { proc, browser };
}

function untilStarted(timeoutMs) {
  return new Promise((resolve, reject) => {
    const root = document.documentElement;
    const outcome = () => (root.dataset.ready === 'true' ? 'ready' : root.dataset.client === 'failed' ? 'failed' : undefined);
    if (outcome()) return resolve(outcome());
    const observer = new MutationObserver(() => {
      const now = outcome();
      if (now) {
        observer.disconnect();
        clearTimeout(timer);
        resolve(now);
      }
    });
    const timer = setTimeout(() => {
      observer.disconnect();
      reject(new Error(`not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    observer.observe(root, { attributes: true, attributeFilter: ['data-ready', 'data-client'] });
  });
}

async function traced(browser, file, load) {
  const cdp = await browser.newBrowserCDPSession();
  await cdp.send('Tracing.start', { traceConfig: { includedCategories: categories }, transferMode: 'ReturnAsStream' });
  await load();
  const done = new Promise((resolve) => cdp.once('Tracing.tracingComplete', (ev) => resolve(ev.stream)));
  await cdp.send('Tracing.end');
  const stream = await done;
  const chunks = [];
  for (;;) {
    const r = await cdp.send('IO.read', { handle: stream });
    chunks.push(r.base64Encoded ? Buffer.from(r.data, 'base64').toString() : r.data);
    if (r.eof) break;
  }
  await cdp.send('IO.close', { handle: stream });
  await cdp.detach();
  const text = chunks.join('');
  fs.writeFileSync(file, text);
  const parsed = JSON.parse(text);
  return Array.isArray(parsed) ? parsed : parsed.traceEvents;
}

async function load(page, url) {
  await page.goto(url);
  const outcome = await page.evaluate(untilStarted, 30_000);
  if (outcome !== 'ready') throw new Error(`${url}: ${outcome}`);
  return page.evaluate(() => {
    const o = {};
    for (const e of performance.getEntriesByType('mark')) o[e.name] = e.startTime;
    return o;
  });
}

// caching prints, for a load traced past ready, when V8 compiled top-tier code and when
// Blink was handed a module to cache and cached it.
function caching(events) {
  const ready = events.find((e) => e.name === 'parkway-ready' && e.args?.data?.startTime !== undefined);
  const navStart = ready.ts - ready.args.data.startTime * 1000;
  const pid = ready.pid;
  const rel = (ts) => ((ts - navStart) / 1000).toFixed(0);
  const tops = events.filter((e) => e.pid === pid && e.name === 'wasm.TopTierCompilation' && e.ph === 'X').map((e) => e.ts);
  const buckets = {};
  for (const t of tops) {
    const b = Math.floor((t - navStart) / 250_000) * 250;
    buckets[b] = (buckets[b] ?? 0) + 1;
  }
  console.log(`--- top-tier compile jobs by 250 ms window: ${Object.entries(buckets).map(([k, v]) => `${k}:${v}`).join(' ')}`);
  for (const e of events) {
    if (e.pid !== pid) continue;
    if (/^(wasm\.CompilationChunkFinished|v8\.wasm\.(compiledModule|cachedModule|moduleCache\w*)|wasm\.SerializeModule)$/.test(e.name)) console.log(`${rel(e.ts).padStart(8)}  ${e.name} ${JSON.stringify(e.args ?? {})}`);
  }
}

// analyse prints the load's moments and the page main thread's CPU.
function analyse(kind, events, marks) {
  const ready = events.find((e) => e.name === 'parkway-ready' && e.args?.data?.startTime !== undefined);
  if (!ready) throw new Error('no parkway-ready in trace');
  const pid = ready.pid;
  const navStart = ready.ts - ready.args.data.startTime * 1000;
  const rel = (ts) => ((ts - navStart) / 1000).toFixed(1);
  const threads = {};
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') threads[`${e.pid}:${e.tid}`] = e.args.name;
  const mainTid = Number(Object.entries(threads).find(([k, v]) => v === 'CrRendererMain' && k.startsWith(`${pid}:`))[0].split(':')[1]);
  const inWindow = events.filter((e) => e.ts >= navStart - 50_000 && e.ts <= ready.ts + 1000);
  const lines = [];
  const seen = new Set();
  const note = (ts, what) => lines.push([ts, what]);
  // network: requests by URL
  const reqs = {};
  for (const e of inWindow) {
    const d = e.args?.data;
    if (!d) continue;
    if (e.name === 'ResourceSendRequest') reqs[d.requestId] = { url: d.url, send: e.ts, prio: d.priority };
    if (e.name === 'ResourceReceiveResponse' && reqs[d.requestId]) Object.assign(reqs[d.requestId], { resp: e.ts, cached: d.fromCache, enc: d.encodedDataLength, status: d.statusCode });
    if (e.name === 'ResourceFinish' && reqs[d.requestId]) Object.assign(reqs[d.requestId], { fin: e.ts, decoded: d.decodedBodyLength, encoded: d.encodedDataLength });
  }
  for (const r of Object.values(reqs)) {
    const short = r.url.replace(/^https?:\/\/[^/]+/, '');
    note(r.send, `request ${short} (${r.prio})`);
    if (r.resp) note(r.resp, `response ${short} status ${r.status}${r.cached ? ' from cache' : ''}`);
    if (r.fin) note(r.fin, `finished ${short} (${r.encoded ?? '?'} B on the wire, ${r.decoded ?? '?'} decoded)`);
  }
  const interesting =
    /^(v8\.wasm\.|wasm\.(StartStreaming|FinishStreaming|FinishAsyncCompile|AsyncInstantiate|BaselineFinished|CompilationChunkFinished|Deserialize|SerializeModule|DeserializeModule|AsyncCompile|StreamingFinished)|WebSocket|navigationStart|domInteractive|domContentLoaded|firstContentfulPaint|firstPaint|parkway-|EvaluateScript|v8\.compile$|CommitLoad|ParseHTML)/;
  for (const e of inWindow) {
    if (!interesting.test(e.name)) continue;
    if (e.pid !== pid && !e.name.startsWith('WebSocket')) continue;
    let what = e.name;
    if (e.name === 'EvaluateScript' || e.name === 'v8.compile') what += ` ${(e.args?.data?.url ?? '').replace(/^https?:\/\/[^/]+/, '')}`;
    if (e.name === 'ParseHTML') continue;
    const key = `${what}@${e.ts}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const dur = e.dur ? ` (${(e.dur / 1000).toFixed(1)} ms wall${e.tdur ? `, ${(e.tdur / 1000).toFixed(1)} cpu` : ''}, ${threads[`${e.pid}:${e.tid}`] ?? e.tid})` : ` [${threads[`${e.pid}:${e.tid}`] ?? e.tid}]`;
    if (e.name.startsWith('v8.wasm.') && e.args) what += ` ${JSON.stringify(e.args)}`;
    note(e.ts, what + dur);
  }
  lines.sort((a, b) => a[0] - b[0]);
  console.log(`\n=== ${kind}: ready ${(ready.args.data.startTime).toFixed(1)} ms`);
  for (const [ts, what] of lines) console.log(`${rel(ts).padStart(8)}  ${what}`);
  // main thread: top-level tasks by what they contain
  const main = inWindow.filter((e) => e.pid === pid && e.tid === mainTid && e.ph === 'X' && e.ts >= navStart && e.ts <= ready.ts).sort((a, b) => a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0));
  const buckets = {};
  let end = -1;
  const big = [];
  for (let i = 0; i < main.length; i++) {
    const t = main[i];
    if (t.ts < end) continue;
    end = t.ts + (t.dur ?? 0);
    const inner = {};
    for (let j = i + 1; j < main.length && main[j].ts <= end; j++) {
      const n = main[j].name;
      inner[n] = (inner[n] ?? 0) + (main[j].tdur ?? main[j].dur ?? 0);
    }
    const names = Object.keys(inner);
    const pick =
      names.find((n) => /^(v8\.wasm\.compileConsume|wasm\.OnBytesReceived|wasm\.FinishStreaming)$/.test(n)) ? 'wasm streaming' :
      names.find((n) => /^wasm\.(CompileLazy|LazyCompile)/.test(n)) && names.find((n) => /^wasm\.(FinishAsyncCompile|AsyncInstantiate)$/.test(n)) ? 'instantiate+Go start (incl. lazy compile)' :
      names.find((n) => /^wasm\.(FinishAsyncCompile|AsyncInstantiate)$/.test(n)) ? 'instantiate+Go start' :
      names.find((n) => /CommitNavigation$/.test(n)) ? 'navigation commit' :
      names.find((n) => /^(ParseHTML|EvaluateScript)$/.test(n)) ? 'HTML/scripts' :
      names.find((n) => /^(UpdateLayoutTree|Layout|WebFrameWidgetImpl::UpdateLifecycle)$/.test(n)) ? 'style/layout/paint' :
      names.find((n) => /^(v8\.callFunction|FunctionCall|RunMicrotasks|TimerFire)$/.test(n)) ? 'callbacks (Go/JS)' : 'other';
    const lazy = Object.entries(inner).filter(([n]) => /CompileLazy|LazyCompil/i.test(n)).reduce((s, [, v]) => s + v, 0);
    buckets[pick] = (buckets[pick] ?? 0) + (t.tdur ?? 0) / 1000;
    buckets['(of which lazy wasm compile)'] = (buckets['(of which lazy wasm compile)'] ?? 0) + lazy / 1000;
    if ((t.dur ?? 0) > 3000) big.push(`${rel(t.ts).padStart(8)} +${((t.dur ?? 0) / 1000).toFixed(1)} ms wall ${((t.tdur ?? 0) / 1000).toFixed(1)} cpu  ${pick}  [${Object.entries(inner).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([n, v]) => `${n} ${(v / 1000).toFixed(1)}`).join(', ')}]`);
  }
  console.log('--- main-thread tasks > 3 ms:');
  for (const b of big) console.log(b);
  const total = Object.entries(buckets).filter(([k]) => !k.startsWith('(')).reduce((s, [, v]) => s + v, 0);
  console.log(`--- main-thread CPU to ready: ${total.toFixed(1)} ms: ${Object.entries(buckets).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
  // other threads of the renderer: CPU
  const other = {};
  for (const e of inWindow) {
    if (e.pid !== pid || e.tid === mainTid || e.ph !== 'X' || !e.tdur) continue;
    const n = threads[`${e.pid}:${e.tid}`] ?? String(e.tid);
    if (/^wasm\.|^V8\.|^v8/.test(e.name)) other[`${n}: ${e.name}`] = (other[`${n}: ${e.name}`] ?? 0) + e.tdur / 1000;
  }
  console.log(`--- renderer's other threads (wasm/v8 events, cpu ms): ${Object.entries(other).sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
  console.log(`--- marks: ${Object.entries(marks).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
}

if (process.env.ANALYSE) {
  for (const file of process.env.ANALYSE.split(',')) {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
    analyse(file, Array.isArray(parsed) ? parsed : parsed.traceEvents, {});
  }
  process.exit(0);
}

for (let i = 0; i < runs; i++) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'parkway-tl-'));
  const { proc, browser } = await startChromium(profile);
  try {
    const ctx = browser.contexts()[0];
    const first = await ctx.newPage();
    let marks;
    const coldEvents = await traced(browser, path.join(outdir, `cold-${i}.json`), async () => {
      marks = await load(first, `${base}/?user=alice&run=${i}&first`);
      // the first visit is held open settleMs, traced: when V8 tiers up and caches
      await first.waitForTimeout(settleMs);
    });
    analyse(`run ${i} cold (first visit, profile on disk)`, coldEvents, marks);
    caching(coldEvents);
    await first.close();
    for (const p of ctx.pages()) if (p.url() === 'about:blank') await p.close().catch(() => {});
    const page = await ctx.newPage();
    const warmEvents = await traced(browser, path.join(outdir, `warm-${i}.json`), async () => {
      marks = await load(page, `${base}/?user=alice&run=${i}&warm`);
    });
    analyse(`run ${i} warm (repeat visit, new tab)`, warmEvents, marks);
    await page.waitForTimeout(500);
    const reloadEvents = await traced(browser, path.join(outdir, `reload-${i}.json`), async () => {
      marks = await load(page, `${base}/?user=alice&run=${i}&reload`);
    });
    analyse(`run ${i} reload (same tab)`, reloadEvents, marks);
  } finally {
    await browser.close().catch(() => {});
    proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const cache = path.join(profile, 'Default', 'Code Cache', 'wasm');
    let bytes = 0;
    try {
      for (const f of fs.readdirSync(cache, { recursive: true })) {
        const st = fs.statSync(path.join(cache, f));
        if (st.isFile()) bytes += st.size;
      }
    } catch {}
    console.log(`--- profile Code Cache/wasm: ${bytes} B`);
    fs.rmSync(profile, { recursive: true, force: true });
  }
}
console.log(`traces in ${outdir}`);
