// Suite "hits": every variant serves GET /item/:id over 100 warm ids; the
// load generator visits them in interleaved rounds (A B C … A B C …) so
// drift on this shared machine spreads over all variants alike. Also
// measures Redis memory per stored entry, since the entries are there.

import type Redis from 'ioredis';
import { ITEM_BODY_BYTES, ITEM_IDS, itemJson, itemPath } from '../lib/body';
import { NotAvailable, startServer, type ServerHandle } from '../lib/child';
import type { BenchConfig } from '../lib/config';
import { runLoad, type LoadResult } from '../lib/load';
import { describeError } from '../lib/protocol';
import { memoryUsage, scanKeys } from '../lib/redis-keys';
import { barChartSvg, formatBytes, formatMs, formatRate, formatRatio, markdownTable, type Bar } from '../lib/report';
import { median, summarize } from '../lib/stats';

/** What a variant is, for the table and the ratios. */
export interface HitVariant {
  /** The server file in bench/servers/ and the variant's Redis prefix segment. */
  name: string;
  label: string;
  role: 'ceiling' | 'floor' | 'ours' | 'peer';
  store: 'none' | 'memory' | 'redis' | 'redis + in-process';
  /** May be reported "not available" without failing the run (a feature still in progress). */
  optional?: boolean;
  /** The floor it is compared with, like for like (same ioredis client options); default redis-floor. */
  floor?: string;
}

/** The variants, in the order the table lists them. */
export const HIT_VARIANTS: readonly HitVariant[] = [
  { name: 'bare', label: 'bare (no cache)', role: 'ceiling', store: 'none' },
  { name: 'redis-floor', label: 'redis-floor (1 GET + res.end)', role: 'floor', store: 'redis' },
  {
    name: 'redis-floor-pipelined',
    label: 'redis-floor, ioredis auto-pipelining',
    role: 'floor',
    store: 'redis',
    floor: 'redis-floor-pipelined',
  },
  { name: 'ours-redis', label: 'ours on Redis', role: 'ours', store: 'redis' },
  {
    name: 'ours-redis-pipelined',
    label: 'ours on Redis, ioredis auto-pipelining',
    role: 'ours',
    store: 'redis',
    floor: 'redis-floor-pipelined',
  },
  { name: 'ours-redis-tags-1', label: 'ours on Redis, entries with 1 tag', role: 'ours', store: 'redis' },
  { name: 'ours-redis-tags-8', label: 'ours on Redis, entries with 8 tags', role: 'ours', store: 'redis' },
  { name: 'ours-l1', label: 'ours, in-process tier', role: 'ours', store: 'redis + in-process', optional: true },
  { name: 'ours-memory', label: 'ours, memory store', role: 'ours', store: 'memory' },
  { name: 'apicache-memory', label: 'apicache (memory)', role: 'peer', store: 'memory' },
  { name: 'apicache-redis', label: 'apicache (Redis, node-redis v3)', role: 'peer', store: 'redis' },
  { name: 'express-redis-cache', label: 'express-redis-cache', role: 'peer', store: 'redis' },
  { name: 'route-cache-memory', label: 'route-cache (memory)', role: 'peer', store: 'memory' },
  { name: 'route-cache-redis', label: 'route-cache (Redis, ioredis)', role: 'peer', store: 'redis' },
];

/** One measured round of one variant. */
export interface HitRound extends LoadResult {
  round: number;
  /** Origin handler calls during the round: should be 0 when every entry is warm. */
  misses: number;
  /** Server CPU time per answered request: steadier than req/s on a shared machine. */
  serverCpuMicrosPerRequest: number;
}

/** What the warm-up pass saw. */
export interface WarmCheck {
  /** Handler calls during the third pass over the 100 ids (0: all hits). */
  missesAfterWarm: number;
  /** Redis commands sent per request during that pass (null: no Redis or not countable). */
  redisCommandsPerHit: number | null;
  /** Values of X-Cache seen on that pass (ours only). */
  xCache: Record<string, number>;
  bodyMismatches: number;
}

/** Redis memory of a variant's stored entries. */
export interface EntryMemory {
  keys: number;
  totalBytes: number;
  /** All of the variant's keys divided by the 100 entries (indexes and counters included). */
  bytesPerEntry: number;
  /** MEMORY USAGE of the largest key (normally one entry). */
  largestKeyBytes: number;
  largestKey: string;
}

/** Everything measured for one variant. */
export interface HitOutcome {
  variant: HitVariant;
  unavailable?: string;
  warm?: WarmCheck;
  rounds: HitRound[];
  /** Rounds at one connection: nothing queues, so p50 is one request's latency. */
  singleRounds: HitRound[];
  memory?: EntryMemory;
}

/** Fetches each id once and returns how many bodies differ from the expected ones. */
async function passOverIds(port: number, xCache?: Record<string, number>): Promise<number> {
  let mismatches = 0;
  for (const id of ITEM_IDS) {
    const response = await fetch(`http://127.0.0.1:${port}${itemPath(id)}`);
    const body = await response.text();
    if (response.status !== 200 || body !== itemJson(id)) mismatches += 1;
    const header = response.headers.get('x-cache');
    if (xCache && header) xCache[header] = (xCache[header] ?? 0) + 1;
  }
  return mismatches;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Requests every id until a full pass runs no handler (caches may store in the background). */
async function warm(server: ServerHandle, variant: HitVariant): Promise<WarmCheck> {
  const caches = variant.role === 'ours' || variant.role === 'peer';
  let check: WarmCheck | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    await passOverIds(server.port);
    await sleep(300);
    const before = await server.stats();
    await server.countCommands(true);
    const xCache: Record<string, number> = {};
    const bodyMismatches = await passOverIds(server.port, xCache);
    const commands = await server.countCommands(false);
    const after = await server.stats();
    check = {
      missesAfterWarm: caches ? after.handlerCalls - before.handlerCalls : 0,
      redisCommandsPerHit: commands === null ? null : commands / ITEM_IDS.length,
      xCache,
      bodyMismatches,
    };
    if (check.missesAfterWarm === 0) break;
  }
  return check as WarmCheck;
}

function log(message: string): void {
  console.log(`[hits] ${message}`);
}

/** Starts every variant, warms it, runs the interleaved rounds and measures Redis memory. */
export async function runHits(config: BenchConfig, runPrefix: string, redis: Redis): Promise<HitOutcome[]> {
  const outcomes: HitOutcome[] = HIT_VARIANTS.map((variant) => ({ variant, rounds: [], singleRounds: [] }));
  const servers = new Map<string, ServerHandle>();
  const prefixOf = (variant: HitVariant) => `${runPrefix}:${variant.name}`;

  try {
    log(`starting ${HIT_VARIANTS.length} servers`);
    const started = await Promise.allSettled(HIT_VARIANTS.map((variant) => startServer(variant.name, prefixOf(variant))));
    started.forEach((result, index) => {
      const outcome = outcomes[index] as HitOutcome;
      if (result.status === 'fulfilled') servers.set(outcome.variant.name, result.value);
      else {
        const error = result.reason;
        outcome.unavailable = error instanceof NotAvailable ? error.reason : describeError(error);
        log(`${outcome.variant.name}: NOT AVAILABLE: ${outcome.unavailable}`);
      }
    });
    const live = outcomes.filter((outcome) => servers.has(outcome.variant.name));

    for (const outcome of live) {
      const server = servers.get(outcome.variant.name) as ServerHandle;
      outcome.warm = await warm(server, outcome.variant);
      const { missesAfterWarm, redisCommandsPerHit, xCache, bodyMismatches } = outcome.warm;
      log(
        `${outcome.variant.name}: warm (misses on 3rd pass ${missesAfterWarm}, Redis commands/hit ${redisCommandsPerHit ?? '-'}` +
          `${Object.keys(xCache).length ? `, X-Cache ${JSON.stringify(xCache)}` : ''}, body mismatches ${bodyMismatches})`,
      );
    }

    const paths = ITEM_IDS.map(itemPath);
    if (config.jitWarmSeconds > 0) {
      log(`JIT warm-up: ${config.jitWarmSeconds} s per variant (not measured)`);
      for (const outcome of live) {
        const server = servers.get(outcome.variant.name) as ServerHandle;
        await runLoad({ port: server.port, paths, connections: config.connections, seconds: config.jitWarmSeconds });
      }
    }

    // At config.connections (throughput, p99 under load), then at 1 connection (one request's latency), each in interleaved rounds.
    const levels: Array<[number, number]> = [
      [config.connections, config.rounds],
      [1, Math.min(config.rounds, 3)],
    ];
    for (const [connections, rounds] of levels) {
      for (let round = 0; round < rounds; round++) {
        // Rotate the starting variant each round so none always runs first or last.
        const order = live.map((_, i) => live[(i + round) % live.length] as HitOutcome);
        for (const outcome of order) {
          const server = servers.get(outcome.variant.name) as ServerHandle;
          const before = await server.stats();
          const load = await runLoad({ port: server.port, paths, connections, seconds: config.roundSeconds });
          const after = await server.stats();
          const misses = outcome.variant.role === 'ours' || outcome.variant.role === 'peer' ? after.handlerCalls - before.handlerCalls : 0;
          const serverCpuMicrosPerRequest = (after.cpuMicros - before.cpuMicros) / Math.max(1, load.ok);
          (connections === 1 ? outcome.singleRounds : outcome.rounds).push({ ...load, round, misses, serverCpuMicrosPerRequest });
          log(
            `${String(connections).padStart(2)} conn round ${round + 1}/${rounds} ${outcome.variant.name.padEnd(21)} ${Math.round(
              load.requestsPerSecond,
            )
              .toString()
              .padStart(6)} req/s  p50 ${load.p50Ms.toFixed(3)} ms  p99 ${load.p99Ms.toFixed(2)} ms` +
              `  server ${serverCpuMicrosPerRequest.toFixed(0)} µs CPU/req  client CPU ${(load.clientCpu * 100).toFixed(0)}%` +
              `${load.errors || load.non2xx ? `  errors ${load.errors} non2xx ${load.non2xx}` : ''}${misses ? `  misses ${misses}` : ''}`,
          );
          await sleep(200);
        }
      }
    }

    for (const outcome of live) {
      if (outcome.variant.store === 'none' || outcome.variant.store === 'memory') continue;
      // One variant's prefix can start another's ('ours-redis', 'ours-redis-pipelined'): keep only keys whose prefix ends where the name does.
      const prefix = prefixOf(outcome.variant);
      const keys = (await scanKeys(redis, prefix)).filter((key) => !/[A-Za-z0-9-]/.test(key.charAt(prefix.length)));
      const usage = await memoryUsage(redis, keys);
      let largestKey = '';
      let largestKeyBytes = 0;
      let totalBytes = 0;
      for (const [key, bytes] of usage) {
        totalBytes += bytes;
        if (bytes > largestKeyBytes) {
          largestKeyBytes = bytes;
          largestKey = key;
        }
      }
      outcome.memory = { keys: keys.length, totalBytes, bytesPerEntry: totalBytes / ITEM_IDS.length, largestKeyBytes, largestKey };
      log(
        `${outcome.variant.name}: ${keys.length} keys, ${(totalBytes / ITEM_IDS.length).toFixed(0)} B per entry (body ${ITEM_BODY_BYTES} B)`,
      );
    }
  } finally {
    await Promise.all([...servers.values()].map((server) => server.stop()));
  }
  return outcomes;
}

/** Median, min and max req/s and median latencies of a variant over its rounds. */
export interface HitSummary {
  median: number;
  min: number;
  max: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuMicrosPerRequest: number;
  /** Share of one core the server used (req/s × CPU per request). */
  serverBusy: number;
  clientCpu: number;
  /** Median p50 and server CPU per request over the rounds at one connection. */
  singleP50Ms: number;
  singleCpuMicrosPerRequest: number;
}

/** Summarises one variant's rounds (NaN everywhere when it did not run). */
export function summarizeHit(outcome: HitOutcome | undefined): HitSummary {
  const rounds = outcome?.rounds ?? [];
  const rate = summarize(rounds.map((round) => round.requestsPerSecond));
  return {
    ...rate,
    p50Ms: median(rounds.map((round) => round.p50Ms)),
    p99Ms: median(rounds.map((round) => round.p99Ms)),
    serverCpuMicrosPerRequest: median(rounds.map((round) => round.serverCpuMicrosPerRequest)),
    serverBusy: median(rounds.map((round) => (round.requestsPerSecond * round.serverCpuMicrosPerRequest) / 1e6)),
    clientCpu: median(rounds.map((round) => round.clientCpu)),
    singleP50Ms: median((outcome?.singleRounds ?? []).map((round) => round.p50Ms)),
    singleCpuMicrosPerRequest: median((outcome?.singleRounds ?? []).map((round) => round.serverCpuMicrosPerRequest)),
  };
}

/** The floor a Redis-backed variant is compared with: redis-floor with the same client options. */
export function floorOf(outcomes: HitOutcome[], outcome: HitOutcome): HitOutcome | undefined {
  const name = outcome.variant.floor ?? 'redis-floor';
  return outcomes.find((candidate) => candidate.variant.name === name && !candidate.unavailable);
}

/** Per-round ratios a/b over the rounds both ran (interleaved, so each pair shares the machine's state). */
export function roundRatios(a: HitOutcome | undefined, b: HitOutcome | undefined): number[] {
  if (!a || !b) return [];
  const byRound = new Map(b.rounds.map((round) => [round.round, round.requestsPerSecond]));
  return a.rounds.flatMap((round) => {
    const other = byRound.get(round.round);
    return other ? [round.requestsPerSecond / other] : [];
  });
}

function notesFor(outcome: HitOutcome): string {
  if (outcome.unavailable) return `not available: ${outcome.unavailable}`;
  const notes: string[] = [];
  const misses = outcome.rounds.reduce((sum, round) => sum + round.misses, 0);
  const errors = outcome.rounds.reduce((sum, round) => sum + round.errors + round.non2xx, 0);
  if (outcome.warm && outcome.warm.missesAfterWarm > 0) notes.push(`${outcome.warm.missesAfterWarm}/100 still missing after warm-up`);
  if (misses > 0) notes.push(`${misses} handler calls during rounds`);
  if (errors > 0) notes.push(`${errors} errors/non-2xx`);
  const clientCpu = summarizeHit(outcome).clientCpu;
  if (clientCpu > 0.9) notes.push(`load generator at ${(clientCpu * 100).toFixed(0)}% of a core: may have capped this figure`);
  if (outcome.warm && outcome.warm.bodyMismatches > 0) notes.push(`${outcome.warm.bodyMismatches} bodies differ`);
  const xCache = outcome.warm?.xCache ?? {};
  if (Object.keys(xCache).length > 0)
    notes.push(
      `X-Cache: ${Object.entries(xCache)
        .map(([value, count]) => `${value} ${count}`)
        .join(', ')}`,
    );
  return notes.join('; ');
}

/** The main table of RESULTS.md. */
export function hitsTable(outcomes: HitOutcome[]): string {
  const bare = summarizeHit(outcomes.find((outcome) => outcome.variant.role === 'ceiling'));
  const rows = outcomes.map((outcome) => {
    const summary = summarizeHit(outcome);
    const floor = summarizeHit(floorOf(outcomes, outcome));
    const commands = outcome.warm?.redisCommandsPerHit;
    return [
      outcome.variant.label,
      outcome.variant.store,
      formatRate(summary.median),
      formatRate(summary.min),
      formatRate(summary.max),
      formatMs(summary.p50Ms),
      formatMs(summary.p99Ms),
      formatMs(summary.singleP50Ms, 3),
      formatRatio(summary.median / bare.median),
      outcome.variant.store.startsWith('redis') ? formatRatio(summary.median / floor.median) : '-',
      Number.isFinite(summary.serverCpuMicrosPerRequest) ? summary.serverCpuMicrosPerRequest.toFixed(0) : '-',
      Number.isFinite(summary.serverBusy) ? summary.serverBusy.toFixed(2) : '-',
      commands === null || commands === undefined ? '-' : commands.toFixed(2),
      notesFor(outcome),
    ];
  });
  return markdownTable(
    [
      'variant',
      'store',
      'req/s median',
      'min',
      'max',
      'p50 ms',
      'p99 ms',
      'p50 ms, 1 conn',
      '× bare',
      '× redis-floor (same client options)',
      'server CPU µs/req',
      'server busy',
      'Redis cmds/hit',
      'notes',
    ],
    rows,
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}

/** The chart: one bar per variant, ratios to bare as notes. */
export function hitsChart(outcomes: HitOutcome[], subtitle: string): string {
  const bare = summarizeHit(outcomes.find((outcome) => outcome.variant.role === 'ceiling'));
  const bars: Bar[] = outcomes.map((outcome) => {
    const summary = summarizeHit(outcome);
    return {
      label: outcome.variant.label,
      value: summary.median,
      min: summary.min,
      max: summary.max,
      note: outcome.unavailable ? 'not available' : `${formatRatio(summary.median / bare.median)} bare`,
      kind: outcome.variant.role,
    };
  });
  return barChartSvg('GET /item/:id, warm cache, 2 KB JSON, 100 ids', subtitle, bars);
}

/** Redis memory per stored entry, against the body size. */
export function memoryTable(outcomes: HitOutcome[]): string {
  const rows = outcomes.flatMap((outcome) => {
    const memory = outcome.memory;
    if (!memory) return [];
    return [
      [
        outcome.variant.label,
        String(memory.keys),
        formatBytes(memory.bytesPerEntry),
        formatRatio(memory.bytesPerEntry / ITEM_BODY_BYTES),
        formatBytes(memory.largestKeyBytes),
        `\`${memory.largestKey.replace(/^[^:]+:/, '…:')}\``,
      ],
    ];
  });
  return markdownTable(
    ['variant', 'keys for 100 entries', 'bytes per entry (all keys / 100)', '× body', 'largest key', 'largest key name'],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'l'],
  );
}
