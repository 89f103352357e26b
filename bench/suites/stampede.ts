// Suite "stampede": one hot entry with ttl 2 s expiring
// under 200 concurrent clients, over a 20 ms handler. Counts handler calls
// per expiry and the latency tail across expiries, with staleTtl 5 s and
// without it.

import { NotAvailable, type ServerHandle, startServer } from '../lib/child';
import type { BenchConfig } from '../lib/config';
import { runLoad, type LoadResult, type LoadSamples } from '../lib/load';
import { describeError } from '../lib/protocol';
import { formatCounters, formatMs, formatRate, markdownTable } from '../lib/report';
import { median, percentile } from '../lib/stats';

/** The two settings compared. */
export const STAMPEDE_VARIANTS = [
  { name: 'stampede-stale', label: 'ttl 2 s, staleTtl 5 s', staleTtl: '5s' },
  { name: 'stampede-nostale', label: 'ttl 2 s, no staleTtl', staleTtl: '0' },
] as const;

/** Gap between handler calls that starts a new burst (one burst per expiry). */
const BURST_GAP_MS = 250;

/** Responses completing this long after a burst starts count as "around an expiry". */
const EXPIRY_WINDOW_MS = 500;

/** What one setting did under load. */
export interface StampedeOutcome {
  name: string;
  label: string;
  unavailable?: string;
  load?: LoadResult;
  /** Handler calls while the load ran. */
  handlerCalls?: number;
  /** Sizes of the bursts of handler calls (calls less than BURST_GAP_MS apart). */
  bursts?: number[];
  /** Latency of responses completing within EXPIRY_WINDOW_MS after a burst began, and of all others. */
  aroundExpiry?: { responses: number; p99Ms: number; maxMs: number };
  elsewhere?: { responses: number; p99Ms: number; maxMs: number };
  cacheStats?: Record<string, unknown>;
}

/** Groups call times into bursts (calls less than BURST_GAP_MS apart): each burst's start and size. */
export function bursts(timesMs: readonly number[]): Array<{ startMs: number; size: number }> {
  const sorted = [...timesMs].sort((a, b) => a - b);
  const found: Array<{ startMs: number; size: number }> = [];
  let last = -Infinity;
  for (const time of sorted) {
    const current = found[found.length - 1];
    if (!current || time - last > BURST_GAP_MS) found.push({ startMs: time, size: 1 });
    else current.size += 1;
    last = time;
  }
  return found;
}

/** Splits a run's latencies into those completing just after an expiry and the rest. */
function splitByExpiry(samples: LoadSamples, burstStarts: number[]) {
  const near: number[] = [];
  const far: number[] = [];
  samples.completedAtMs.forEach((time, index) => {
    const latency = samples.latencyMs[index] ?? NaN;
    const isNear = burstStarts.some((start) => time >= start && time <= start + EXPIRY_WINDOW_MS);
    (isNear ? near : far).push(latency);
  });
  const describe = (values: number[]) => {
    const sorted = values.sort((a, b) => a - b);
    return { responses: sorted.length, p99Ms: percentile(sorted, 0.99), maxMs: sorted[sorted.length - 1] ?? NaN };
  };
  return { aroundExpiry: describe(near), elsewhere: describe(far) };
}

/** Runs each setting once for `stampedeSeconds` with 200 connections. */
export async function runStampede(config: BenchConfig, runPrefix: string): Promise<StampedeOutcome[]> {
  const outcomes: StampedeOutcome[] = [];
  for (const variant of STAMPEDE_VARIANTS) {
    const outcome: StampedeOutcome = { name: variant.name, label: variant.label };
    outcomes.push(outcome);
    let server: ServerHandle;
    try {
      server = await startServer('stampede-ours', `${runPrefix}:${variant.name}`, { STAMPEDE_STALE_TTL: variant.staleTtl });
    } catch (error) {
      outcome.unavailable = error instanceof NotAvailable ? error.reason : describeError(error);
      console.log(`[stampede] ${variant.name}: NOT AVAILABLE: ${outcome.unavailable}`);
      continue;
    }
    try {
      // One request first, so the load starts on a stored entry rather than on a cold miss.
      await (await fetch(`http://127.0.0.1:${server.port}/hot`)).text();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const before = await server.stats();
      const loadStart = Date.now();
      const { samples, ...load } = await runLoad({
        port: server.port,
        paths: ['/hot'],
        connections: config.stampedeConnections,
        seconds: config.stampedeSeconds,
        keepSamples: true,
      });
      outcome.load = load;
      const after = await server.stats();
      const times = ((after.extra?.callTimesMs as number[] | undefined) ?? []).filter((time) => time >= loadStart);
      outcome.handlerCalls = after.handlerCalls - before.handlerCalls;
      const found = bursts(times);
      outcome.bursts = found.map((burst) => burst.size);
      if (samples)
        Object.assign(
          outcome,
          splitByExpiry(
            samples,
            found.map((burst) => burst.startMs),
          ),
        );
      const { callTimesMs: _times, ...stats } = after.extra ?? {};
      outcome.cacheStats = stats;
      console.log(
        `[stampede] ${variant.name}: ${outcome.handlerCalls} handler calls in ${outcome.bursts.length} bursts ` +
          `(median ${median(outcome.bursts)}, max ${Math.max(0, ...outcome.bursts)}), p99 ${outcome.load.p99Ms.toFixed(1)} ms, max ${outcome.load.maxMs.toFixed(1)} ms; ` +
          `around expiries p99 ${formatMs(outcome.aroundExpiry?.p99Ms ?? NaN, 1)} ms, elsewhere p99 ${formatMs(outcome.elsewhere?.p99Ms ?? NaN, 1)} ms`,
      );
    } finally {
      await server.stop();
    }
  }
  return outcomes;
}

/** The stampede table of RESULTS.md. */
export function stampedeTable(outcomes: StampedeOutcome[]): string {
  const rows = outcomes.map((outcome) => {
    if (outcome.unavailable || !outcome.load || !outcome.bursts) {
      return [outcome.label, '-', '-', '-', '-', '-', '-', '-', '-', '-', `not available: ${outcome.unavailable ?? 'no result'}`];
    }
    return [
      outcome.label,
      formatRate(outcome.load.requestsPerSecond),
      String(outcome.handlerCalls ?? '-'),
      String(outcome.bursts.length),
      String(median(outcome.bursts)),
      String(Math.max(0, ...outcome.bursts)),
      formatMs(outcome.load.p99Ms, 1),
      formatMs(outcome.load.maxMs, 1),
      outcome.aroundExpiry ? `${formatMs(outcome.aroundExpiry.p99Ms, 1)} / ${formatMs(outcome.aroundExpiry.maxMs, 1)}` : '-',
      outcome.elsewhere ? `${formatMs(outcome.elsewhere.p99Ms, 1)} / ${formatMs(outcome.elsewhere.maxMs, 1)}` : '-',
      [
        formatCounters(outcome.cacheStats),
        outcome.load.errors || outcome.load.non2xx ? `${outcome.load.errors} errors, ${outcome.load.non2xx} non-2xx` : '',
      ]
        .filter(Boolean)
        .join('; '),
    ];
  });
  return markdownTable(
    [
      'setting',
      'req/s',
      'handler calls',
      'bursts (≈ expiries)',
      'calls per burst (median)',
      'max',
      'p99 ms (whole run)',
      'max ms',
      `p99 / max ms, ≤ ${EXPIRY_WINDOW_MS} ms after an expiry`,
      'p99 / max ms, elsewhere',
      'notes',
    ],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}
