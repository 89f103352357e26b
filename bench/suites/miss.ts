// Suite "miss": what ours adds when it cannot help. The same 1 ms handler,
// uncached and behind ours on Redis with a key unique per request, in
// interleaved rounds, at two loads: the usual connections (the server is
// CPU-bound, so req/s compares CPU per request) and a single connection
// (nothing queues, so the p50 difference is the latency one request gains).

import { NotAvailable, startServer, type ServerHandle } from '../lib/child';
import type { BenchConfig } from '../lib/config';
import { runLoad, type LoadResult } from '../lib/load';
import { describeError } from '../lib/protocol';
import { formatCounters, formatMs, formatRate, formatRatio, markdownTable } from '../lib/report';
import { median, summarize } from '../lib/stats';

/** The miss-path variants; the first is the baseline, the second ours (missOverhead reads them by position). */
export const MISS_VARIANTS = [
  { name: 'miss-uncached', label: '1 ms handler, uncached' },
  { name: 'miss-ours', label: '1 ms handler behind ours (every request a miss)' },
  { name: 'miss-ours-pipelined', label: '1 ms handler behind ours, ioredis auto-pipelining (every request a miss)' },
  { name: 'miss-floor', label: 'floor miss: 1 GET, the handler, 1 SET in the background' },
  { name: 'miss-apicache-redis', label: 'apicache (Redis, node-redis v3), every request a miss' },
  { name: 'miss-route-cache-redis', label: 'route-cache (Redis, ioredis), every request a miss' },
] as const;

/** One round at one load level. */
export type MissRound = LoadResult & { serverCpuMicrosPerRequest: number };

/** Everything measured for one miss-path variant. */
export interface MissOutcome {
  name: string;
  label: string;
  unavailable?: string;
  /** Rounds at config.connections. */
  rounds: MissRound[];
  /** Rounds at one connection. */
  singleRounds: MissRound[];
  /** Redis commands per request over a verification pass of 100 unique requests (background writes included). */
  redisCommandsPerRequest?: number | null;
  /** Handler calls over requests answered (1.0: every request reached the handler). */
  handlerCallsPerRequest?: number;
  cacheStats?: Record<string, unknown>;
}

// A new query value per request: ours never finds an entry, the uncached server ignores it.
const missPath = (n: number) => `/miss?n=${n}`;

async function measureRound(
  server: ServerHandle,
  connections: number,
  seconds: number,
): Promise<{ round: MissRound; handlerCalls: number }> {
  const before = await server.stats();
  const load = await runLoad({ port: server.port, paths: missPath, connections, seconds });
  const after = await server.stats();
  const serverCpuMicrosPerRequest = (after.cpuMicros - before.cpuMicros) / Math.max(1, load.ok);
  return { round: { ...load, serverCpuMicrosPerRequest }, handlerCalls: after.handlerCalls - before.handlerCalls };
}

/** Runs the interleaved miss-path rounds at both load levels. */
export async function runMiss(config: BenchConfig, runPrefix: string): Promise<MissOutcome[]> {
  const outcomes: MissOutcome[] = MISS_VARIANTS.map((variant) => ({ ...variant, rounds: [], singleRounds: [] }));
  const servers = new Map<string, ServerHandle>();
  try {
    for (const outcome of outcomes) {
      try {
        servers.set(outcome.name, await startServer(outcome.name, `${runPrefix}:${outcome.name}`));
      } catch (error) {
        outcome.unavailable = error instanceof NotAvailable ? error.reason : describeError(error);
        console.log(`[miss] ${outcome.name}: NOT AVAILABLE: ${outcome.unavailable}`);
      }
    }
    const live = outcomes.filter((outcome) => servers.has(outcome.name));
    const serverOf = (outcome: MissOutcome) => servers.get(outcome.name) as ServerHandle;
    if (config.jitWarmSeconds > 0) {
      for (const outcome of live) {
        await runLoad({ port: serverOf(outcome).port, paths: missPath, connections: config.connections, seconds: config.jitWarmSeconds });
      }
    }

    const totals = new Map<string, { calls: number; ok: number }>();
    for (const [level, connections] of [
      ['loaded', config.connections],
      ['single', 1],
    ] as const) {
      for (let round = 0; round < config.rounds; round++) {
        const order = live.map((_, i) => live[(i + round) % live.length] as MissOutcome);
        for (const outcome of order) {
          const { round: result, handlerCalls } = await measureRound(serverOf(outcome), connections, config.roundSeconds);
          (level === 'loaded' ? outcome.rounds : outcome.singleRounds).push(result);
          const total = totals.get(outcome.name) ?? { calls: 0, ok: 0 };
          total.calls += handlerCalls;
          total.ok += result.ok;
          totals.set(outcome.name, total);
          console.log(
            `[miss] ${String(connections).padStart(2)} conn round ${round + 1}/${config.rounds} ${outcome.name.padEnd(14)} ` +
              `${Math.round(result.requestsPerSecond).toString().padStart(6)} req/s  p50 ${result.p50Ms.toFixed(3)} ms  p99 ${result.p99Ms.toFixed(2)} ms` +
              `  server ${result.serverCpuMicrosPerRequest.toFixed(0)} µs CPU/req` +
              `${result.errors || result.non2xx ? `  errors ${result.errors} non2xx ${result.non2xx}` : ''}`,
          );
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    }

    for (const outcome of live) {
      const server = serverOf(outcome);
      const total = totals.get(outcome.name);
      if (total && total.ok > 0) outcome.handlerCallsPerRequest = total.calls / total.ok;
      outcome.cacheStats = (await server.stats()).extra;
      await server.countCommands(true);
      for (let i = 0; i < 100; i++) await (await fetch(`http://127.0.0.1:${server.port}/miss?n=verify-${i}`)).text();
      await new Promise((resolve) => setTimeout(resolve, 300)); // let the background stores go out
      const commands = await server.countCommands(false);
      outcome.redisCommandsPerRequest = commands === null ? null : commands / 100;
    }
  } finally {
    await Promise.all([...servers.values()].map((server) => server.stop()));
  }
  return outcomes;
}

/** The two readings of "miss-path overhead", ours against the uncached handler. */
export interface MissOverhead {
  /** req/s of ours over uncached at config.connections (ratio of medians, and per interleaved round). */
  loadedRatio: number;
  loadedPerRound: number[];
  /** Median p50 at one connection: ours minus uncached, in ms and as a share of uncached. */
  singleAddedMs: number;
  singleAddedShare: number;
}

/** Computes both readings (NaN when a variant did not run). */
export function missOverhead(outcomes: MissOutcome[]): MissOverhead {
  const [uncached, ours] = outcomes;
  if (!uncached || !ours || uncached.unavailable || ours.unavailable) {
    return { loadedRatio: NaN, loadedPerRound: [], singleAddedMs: NaN, singleAddedShare: NaN };
  }
  const rate = (rounds: MissRound[]) => summarize(rounds.map((round) => round.requestsPerSecond)).median;
  const p50 = (rounds: MissRound[]) => median(rounds.map((round) => round.p50Ms));
  const singleAddedMs = p50(ours.singleRounds) - p50(uncached.singleRounds);
  return {
    loadedRatio: rate(ours.rounds) / rate(uncached.rounds),
    loadedPerRound: ours.rounds.flatMap((round, i) => {
      const base = uncached.rounds[i];
      return base ? [round.requestsPerSecond / base.requestsPerSecond] : [];
    }),
    singleAddedMs,
    singleAddedShare: singleAddedMs / p50(uncached.singleRounds),
  };
}

/** The miss-path table of RESULTS.md. */
export function missTable(outcomes: MissOutcome[], connections: number): string {
  const base = outcomes[0];
  const rows = outcomes.map((outcome) => {
    if (outcome.unavailable) return [outcome.label, '-', '-', '-', '-', '-', '-', '-', '-', '-', `not available: ${outcome.unavailable}`];
    const rate = summarize(outcome.rounds.map((round) => round.requestsPerSecond));
    const single = (pick: (round: MissRound) => number) => median(outcome.singleRounds.map(pick));
    const baseRate = base ? summarize(base.rounds.map((round) => round.requestsPerSecond)).median : NaN;
    const baseSingleP50 = base ? median(base.singleRounds.map((round) => round.p50Ms)) : NaN;
    return [
      outcome.label,
      formatRate(rate.median),
      `${formatRate(rate.min)}–${formatRate(rate.max)}`,
      formatRatio(rate.median / baseRate),
      formatMs(median(outcome.rounds.map((round) => round.serverCpuMicrosPerRequest)), 0),
      formatMs(
        single((round) => round.p50Ms),
        3,
      ),
      formatMs(
        single((round) => round.p99Ms),
        3,
      ),
      outcome === base ? '-' : `${formatMs(single((round) => round.p50Ms) - baseSingleP50, 3)} ms`,
      formatMs(
        single((round) => round.serverCpuMicrosPerRequest),
        0,
      ),
      outcome.redisCommandsPerRequest === null || outcome.redisCommandsPerRequest === undefined
        ? '-'
        : outcome.redisCommandsPerRequest.toFixed(2),
      [
        outcome.handlerCallsPerRequest === undefined ? '' : `handler calls/request ${outcome.handlerCallsPerRequest.toFixed(3)}`,
        formatCounters(outcome.cacheStats),
      ]
        .filter(Boolean)
        .join('; '),
    ];
  });
  return markdownTable(
    [
      'variant',
      `req/s, ${connections} conn (median)`,
      'min–max',
      '× uncached',
      `server CPU µs/req, ${connections} conn`,
      'p50 ms, 1 conn',
      'p99 ms, 1 conn',
      'p50 added, 1 conn',
      'server CPU µs/req, 1 conn',
      'Redis cmds/req',
      'notes',
    ],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}
