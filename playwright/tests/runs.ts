// Repetition counts of the measuring tests (load.spec.ts, widget.spec.ts, reattach.spec.ts). What such a
// test checks a run or two shows, and that is all `go tool task test` does; the medians of
// many runs are a benchmark's, and whoever wants them asks through the environment
// (`go tool task bench-anchors` sets PARKWAY_LOAD_RUNS, scripts/anchors/bench-anchors.sh).

// runsFrom reads the count named name from the environment: a whole number from 1 up,
// byDefault when unset. Anything else is an error that says what it wants.
export function runsFrom(name: string, byDefault: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return byDefault;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}=${JSON.stringify(v)}: want a whole number of runs, 1 or more`);
  return n;
}

// median is the middle of xs (the mean of the two middle ones for an even count).
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
