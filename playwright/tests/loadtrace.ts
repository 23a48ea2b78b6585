// PARKWAY_LOAD_TRACE=1: load.spec.ts records a Chromium trace of every load it measures
// (test-results/…/trace-cold-N.json, trace-warm-N.json: open them in Perfetto or
// chrome://tracing) and prints where the page's main thread spent its CPU from navigation
// to ready (issue 12: what a warm load's time is made of). Tracing costs CPU itself, so
// the marks of traced loads run a little slow; the buckets are CPU time, which the
// shared machine disturbs less than wall time.
import fs from 'node:fs';
import type { Browser, CDPSession } from '@playwright/test';

export const traceLoads = !!process.env.PARKWAY_LOAD_TRACE;

const categories = [
  'toplevel',
  'loading',
  'devtools.timeline',
  'disabled-by-default-devtools.timeline',
  'blink.user_timing',
  'v8',
  'v8.wasm',
  'disabled-by-default-v8.wasm.detailed',
];

type TraceEvent = {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number; // µs
  dur?: number; // µs, wall
  tdur?: number; // µs, the thread's CPU
  args?: { name?: string; data?: { startTime?: number } } & Record<string, unknown>;
};

// startTrace starts a browser-wide trace (every process: the page's renderer, the
// network service, the browser).
export async function startTrace(browser: Browser): Promise<CDPSession> {
  const cdp = await browser.newBrowserCDPSession();
  await cdp.send('Tracing.start', { traceConfig: { includedCategories: categories }, transferMode: 'ReturnAsStream' });
  return cdp;
}

// stopTrace ends the trace, writes it to path and returns its events.
export async function stopTrace(cdp: CDPSession, path: string): Promise<TraceEvent[]> {
  const complete = new Promise<string | undefined>((resolve) => cdp.once('Tracing.tracingComplete', (ev) => resolve(ev.stream)));
  await cdp.send('Tracing.end');
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('Chromium did not hand over the trace within 30 s of Tracing.end')), 30_000);
  });
  const stream = await Promise.race([complete, deadline]).finally(() => clearTimeout(timer));
  if (!stream) throw new Error('Chromium ended the trace without a stream to read it from');
  const chunks: string[] = [];
  for (;;) {
    const r = await cdp.send('IO.read', { handle: stream });
    chunks.push(r.base64Encoded ? Buffer.from(r.data, 'base64').toString() : r.data);
    if (r.eof) break;
  }
  await cdp.send('IO.close', { handle: stream });
  await cdp.detach();
  const text = chunks.join('');
  fs.writeFileSync(path, text);
  const parsed = JSON.parse(text) as TraceEvent[] | { traceEvents: TraceEvent[] };
  return Array.isArray(parsed) ? parsed : parsed.traceEvents;
}

// What a main-thread task was, by the events inside it: the first bucket any of them
// matches (a microtask that streams main.wasm is streaming, not a callback).
const buckets: [string, RegExp][] = [
  ['main.wasm streamed into V8', /^(v8\.wasm\.compileConsume|wasm\.OnBytesReceived|wasm\.FinishStreaming)$/],
  ['instantiate + Go start', /^(wasm\.FinishAsyncCompile|wasm\.AsyncInstantiate)$/],
  ['navigation commit', /(^|::)CommitNavigation$|^AgentSchedulingGroup::CreateWebView$/],
  ['HTML parse, scripts', /^(ParseHTML|HTMLDocumentParser::PumpTokenizer|EvaluateScript)$/],
  ['style, layout, paint', /^(WebFrameWidgetImpl::UpdateLifecycle|UpdateLayoutTree|Layout)$/],
  ['Go/JS callbacks (socket, timers, promises)', /^(v8\.callFunction|FunctionCall|RunMicrotasks|TimerFire)$/],
];

// mainThreadCPU splits the CPU of the page's main thread from navigation start to the
// client's parkway-ready mark into buckets, a whole top-level task at a time; "other" is
// what matched none (resource loads finishing, IPC, the previous page going away).
export function mainThreadCPU(events: TraceEvent[]): Record<string, number> {
  const ready = events.find((e) => e.name === 'parkway-ready' && e.args?.data?.startTime !== undefined);
  if (!ready) throw new Error('the trace has no parkway-ready mark');
  const navStart = ready.ts - (ready.args!.data!.startTime as number) * 1000;
  const main = events.find((e) => e.ph === 'M' && e.name === 'thread_name' && e.pid === ready.pid && e.args?.name === 'CrRendererMain');
  if (!main) throw new Error("the trace does not name the page's main thread");
  const xs = events
    .filter((e) => e.pid === ready.pid && e.tid === main.tid && e.ph === 'X' && e.ts >= navStart && e.ts <= ready.ts)
    .sort((a, b) => a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0));
  const out: Record<string, number> = {};
  let end = -1;
  for (let i = 0; i < xs.length; i++) {
    const task = xs[i];
    if (task.ts < end) continue; // nested in the task before
    end = task.ts + (task.dur ?? 0);
    const inside: string[] = [];
    for (let j = i; j < xs.length && xs[j].ts <= end; j++) inside.push(xs[j].name);
    const bucket = buckets.find(([, re]) => inside.some((n) => re.test(n)))?.[0] ?? 'other';
    out[bucket] = (out[bucket] ?? 0) + (task.tdur ?? 0) / 1000;
  }
  return out;
}
