// Suite "compression": compression once against compression() per
// hit. Every variant serves GET /large/:id (100 ids, ~20 KB JSON each) from
// ours on Redis, all entries warm, in interleaved rounds; measured: req/s,
// latency, server CPU per hit, what goes over the wire, and what one entry
// costs in Redis. A verification pass decodes every body and checks that a
// client sending no Accept-Encoding gets the plain body, byte for byte.

import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type Redis from 'ioredis';
import { ITEM_IDS } from '../lib/body';
import { NotAvailable, startServer, type ServerHandle } from '../lib/child';
import type { BenchConfig } from '../lib/config';
import { LARGE_BODY_BYTES, largeItemJson } from '../lib/large-body';
import { runLoad, type LoadResult } from '../lib/load';
import { describeError } from '../lib/protocol';
import { rawRequest } from '../lib/raw-http';
import { memoryUsage, scanKeys } from '../lib/redis-keys';
import { formatBytes, formatMs, formatRate, formatRatio, markdownTable } from '../lib/report';
import { median, summarize } from '../lib/stats';

/** What browsers send. */
export const BROWSER_ACCEPT_ENCODING = 'gzip, deflate, br';

/** One compression variant: a server mode and what its clients accept. */
export interface CompressionVariant {
  /** The variant's process and Redis prefix segment. */
  name: string;
  label: string;
  /** COMPRESSION_MODE of bench/servers/compression-ours.ts. */
  mode: 'once' | 'middleware' | 'none';
  /** The load's Accept-Encoding header (null: none sent). */
  acceptEncoding: string | null;
}

/** The variants, in table order; "compress-none" is the reference for the ratios. */
export const COMPRESSION_VARIANTS: readonly CompressionVariant[] = [
  { name: 'compress-once', label: 'ours, compress: true (stored gzip sent as is)', mode: 'once', acceptEncoding: BROWSER_ACCEPT_ENCODING },
  {
    name: 'compress-middleware',
    label: 'compression() in front of ours (per hit)',
    mode: 'middleware',
    acceptEncoding: BROWSER_ACCEPT_ENCODING,
  },
  {
    name: 'compress-middleware-gzip',
    label: 'compression() in front of ours, clients accepting gzip only',
    mode: 'middleware',
    acceptEncoding: 'gzip',
  },
  { name: 'compress-none', label: 'ours, no compression (plain 20 KB)', mode: 'none', acceptEncoding: BROWSER_ACCEPT_ENCODING },
  {
    name: 'compress-once-identity',
    label: 'ours, compress: true, clients without Accept-Encoding (inflated per hit)',
    mode: 'once',
    acceptEncoding: null,
  },
];

const REFERENCE = 'compress-none';

/** One measured round of one variant. */
export interface CompressionRound extends LoadResult {
  round: number;
  /** Origin handler calls during the round (0: every request was a hit). */
  misses: number;
  serverCpuMicrosPerRequest: number;
}

/** What one pass over the 100 ids, with one Accept-Encoding, received. */
export interface WireCheck {
  /** Content-Encoding values seen ("identity" when absent), with counts. */
  encodings: Record<string, number>;
  /** Vary values seen, with counts. */
  vary: Record<string, number>;
  /** Median body bytes on the wire per response. */
  bodyBytes: number;
  /** Responses whose decoded body differs from the origin's (or whose status is not 200). */
  mismatches: number;
}

/** Redis memory of one variant's entries. */
export interface CompressionMemory {
  entryKeys: number;
  /** Median MEMORY USAGE of the entry keys. */
  bytesPerEntry: number;
}

/** Everything measured for one variant. */
export interface CompressionOutcome {
  variant: CompressionVariant;
  unavailable?: string;
  /** Handler calls during the last warm-up pass (0: warm). */
  missesAfterWarm?: number;
  /** The load's own Accept-Encoding, as received. */
  wire?: WireCheck;
  /** The same ids requested with no Accept-Encoding at all. */
  identity?: WireCheck;
  redisCommandsPerHit?: number | null;
  rounds: CompressionRound[];
  memory?: CompressionMemory;
}

const largePath = (id: string) => `/large/${id}`;

function decode(encoding: string | undefined, body: Buffer): Buffer {
  if (encoding === undefined || encoding === 'identity') return body;
  if (encoding === 'gzip') return gunzipSync(body);
  if (encoding === 'br') return brotliDecompressSync(body);
  if (encoding === 'deflate') return inflateSync(body);
  throw new Error(`unexpected Content-Encoding ${encoding}`);
}

/** One pass over the 100 ids with the given Accept-Encoding (null: none), decoding and checking every body. */
async function passOverIds(port: number, acceptEncoding: string | null): Promise<WireCheck> {
  const check: WireCheck = { encodings: {}, vary: {}, bodyBytes: NaN, mismatches: 0 };
  const sizes: number[] = [];
  for (const id of ITEM_IDS) {
    const response = await rawRequest(port, largePath(id), {
      headers: acceptEncoding === null ? {} : { 'Accept-Encoding': acceptEncoding },
    });
    const encoding = response.headers['content-encoding'];
    check.encodings[encoding ?? 'identity'] = (check.encodings[encoding ?? 'identity'] ?? 0) + 1;
    const vary = response.headers.vary ?? '(none)';
    check.vary[vary] = (check.vary[vary] ?? 0) + 1;
    sizes.push(response.body.length);
    let decoded: Buffer | undefined;
    try {
      decoded = decode(encoding, response.body);
    } catch {
      decoded = undefined;
    }
    if (response.status !== 200 || !decoded || !decoded.equals(Buffer.from(largeItemJson(id)))) check.mismatches += 1;
  }
  check.bodyBytes = median(sizes);
  return check;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const originCalls = async (server: ServerHandle) => Number((await server.stats()).extra?.originCalls ?? NaN);

/** Requests every id until a pass runs the handler zero times (entries are stored, and gzipped, in the background). */
async function warm(server: ServerHandle, acceptEncoding: string | null): Promise<number> {
  let misses = NaN;
  for (let attempt = 0; attempt < 4; attempt++) {
    await passOverIds(server.port, acceptEncoding);
    await sleep(300);
    const before = await originCalls(server);
    await passOverIds(server.port, acceptEncoding);
    misses = (await originCalls(server)) - before;
    if (misses === 0) break;
  }
  return misses;
}

function log(message: string): void {
  console.log(`[compression] ${message}`);
}

function describeCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([value, count]) => `${value} ×${count}`)
    .join(', ');
}

/** Starts every variant, warms and verifies it, runs the interleaved rounds and measures Redis memory per entry. */
export async function runCompression(config: BenchConfig, runPrefix: string, redis: Redis): Promise<CompressionOutcome[]> {
  const outcomes: CompressionOutcome[] = COMPRESSION_VARIANTS.map((variant) => ({ variant, rounds: [] }));
  const servers = new Map<string, ServerHandle>();
  const prefixOf = (variant: CompressionVariant) => `${runPrefix}:${variant.name}`;
  const headersOf = (variant: CompressionVariant) =>
    variant.acceptEncoding === null ? undefined : { 'Accept-Encoding': variant.acceptEncoding };

  try {
    log(`starting ${COMPRESSION_VARIANTS.length} servers`);
    const started = await Promise.allSettled(
      COMPRESSION_VARIANTS.map((variant) => startServer('compression-ours', prefixOf(variant), { COMPRESSION_MODE: variant.mode })),
    );
    started.forEach((result, index) => {
      const outcome = outcomes[index] as CompressionOutcome;
      if (result.status === 'fulfilled') servers.set(outcome.variant.name, result.value);
      else {
        outcome.unavailable = result.reason instanceof NotAvailable ? result.reason.reason : describeError(result.reason);
        log(`${outcome.variant.name}: NOT AVAILABLE: ${outcome.unavailable}`);
      }
    });
    const live = outcomes.filter((outcome) => servers.has(outcome.variant.name));
    const serverOf = (outcome: CompressionOutcome) => servers.get(outcome.variant.name) as ServerHandle;

    for (const outcome of live) {
      const server = serverOf(outcome);
      outcome.missesAfterWarm = await warm(server, outcome.variant.acceptEncoding);
      await server.countCommands(true);
      outcome.wire = await passOverIds(server.port, outcome.variant.acceptEncoding);
      const commands = await server.countCommands(false);
      outcome.redisCommandsPerHit = commands === null ? null : commands / ITEM_IDS.length;
      outcome.identity = await passOverIds(server.port, null);
      log(
        `${outcome.variant.name}: warm (misses on last pass ${outcome.missesAfterWarm}); ` +
          `Accept-Encoding ${JSON.stringify(outcome.variant.acceptEncoding)} → ${describeCounts(outcome.wire.encodings)}, ${outcome.wire.bodyBytes} B body, ` +
          `Vary ${describeCounts(outcome.wire.vary)}, ${outcome.wire.mismatches} mismatches; ` +
          `no Accept-Encoding → ${describeCounts(outcome.identity.encodings)}, ${outcome.identity.bodyBytes} B, ${outcome.identity.mismatches} mismatches`,
      );
    }

    const paths = ITEM_IDS.map(largePath);
    if (config.jitWarmSeconds > 0) {
      log(`JIT warm-up: ${config.jitWarmSeconds} s per variant (not measured)`);
      for (const outcome of live) {
        await runLoad({
          port: serverOf(outcome).port,
          paths,
          connections: config.connections,
          seconds: config.jitWarmSeconds,
          headers: headersOf(outcome.variant),
        });
      }
    }

    for (let round = 0; round < config.rounds; round++) {
      const order = live.map((_, i) => live[(i + round) % live.length] as CompressionOutcome);
      for (const outcome of order) {
        const server = serverOf(outcome);
        const before = await server.stats();
        const load = await runLoad({
          port: server.port,
          paths,
          connections: config.connections,
          seconds: config.roundSeconds,
          headers: headersOf(outcome.variant),
        });
        const after = await server.stats();
        const misses = Number(after.extra?.originCalls ?? 0) - Number(before.extra?.originCalls ?? 0);
        const serverCpuMicrosPerRequest = (after.cpuMicros - before.cpuMicros) / Math.max(1, load.ok);
        outcome.rounds.push({ ...load, round, misses, serverCpuMicrosPerRequest });
        log(
          `round ${round + 1}/${config.rounds} ${outcome.variant.name.padEnd(24)} ${Math.round(load.requestsPerSecond).toString().padStart(6)} req/s` +
            `  p50 ${load.p50Ms.toFixed(2)} ms  p99 ${load.p99Ms.toFixed(2)} ms  server ${serverCpuMicrosPerRequest.toFixed(0)} µs CPU/req` +
            `  client CPU ${(load.clientCpu * 100).toFixed(0)}%${load.errors || load.non2xx ? `  errors ${load.errors} non2xx ${load.non2xx}` : ''}${misses ? `  misses ${misses}` : ''}`,
        );
        await sleep(200);
      }
    }

    for (const outcome of live) {
      // Entry keys only (`<prefix>:{items}:e:<id>`): the generation key is shared by the namespace.
      const keys = await scanKeys(redis, `${prefixOf(outcome.variant)}:{items}:e:`);
      const usage = await memoryUsage(redis, keys);
      outcome.memory = { entryKeys: keys.length, bytesPerEntry: median([...usage.values()]) };
      log(
        `${outcome.variant.name}: ${keys.length} entry keys, ${outcome.memory.bytesPerEntry} B per entry (MEMORY USAGE, median; body ${LARGE_BODY_BYTES} B)`,
      );
    }
  } finally {
    await Promise.all([...servers.values()].map((server) => server.stop()));
  }
  return outcomes;
}

/** Median, min and max req/s and median latencies and CPU of a variant over its rounds. */
export function summarizeCompression(outcome: CompressionOutcome | undefined) {
  const rounds = outcome?.rounds ?? [];
  return {
    ...summarize(rounds.map((round) => round.requestsPerSecond)),
    p50Ms: median(rounds.map((round) => round.p50Ms)),
    p99Ms: median(rounds.map((round) => round.p99Ms)),
    serverCpuMicrosPerRequest: median(rounds.map((round) => round.serverCpuMicrosPerRequest)),
    clientCpu: median(rounds.map((round) => round.clientCpu)),
  };
}

function notesFor(outcome: CompressionOutcome): string {
  const notes: string[] = [];
  if (outcome.missesAfterWarm !== undefined && outcome.missesAfterWarm > 0)
    notes.push(`${outcome.missesAfterWarm}/100 still missing after warm-up`);
  const misses = outcome.rounds.reduce((sum, round) => sum + round.misses, 0);
  const errors = outcome.rounds.reduce((sum, round) => sum + round.errors + round.non2xx, 0);
  if (misses > 0) notes.push(`${misses} handler calls during rounds`);
  if (errors > 0) notes.push(`${errors} errors/non-2xx`);
  if (outcome.wire && outcome.wire.mismatches > 0) notes.push(`**${outcome.wire.mismatches} bodies differ after decoding**`);
  if (outcome.wire) notes.push(`Vary: ${describeCounts(outcome.wire.vary)}`);
  if (outcome.redisCommandsPerHit !== undefined && outcome.redisCommandsPerHit !== null)
    notes.push(`Redis cmds/hit ${outcome.redisCommandsPerHit.toFixed(2)}`);
  const clientCpu = summarizeCompression(outcome).clientCpu;
  if (clientCpu > 0.9) notes.push(`load generator at ${(clientCpu * 100).toFixed(0)}% of a core`);
  return notes.join('; ');
}

/** The compression table of RESULTS.md. */
export function compressionTable(outcomes: CompressionOutcome[]): string {
  const reference = summarizeCompression(outcomes.find((outcome) => outcome.variant.name === REFERENCE && !outcome.unavailable));
  const rows = outcomes.map((outcome) => {
    const sent = outcome.variant.acceptEncoding === null ? '(none)' : `\`${outcome.variant.acceptEncoding}\``;
    if (outcome.unavailable)
      return [outcome.variant.label, sent, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', `not available: ${outcome.unavailable}`];
    const summary = summarizeCompression(outcome);
    return [
      outcome.variant.label,
      sent,
      outcome.wire ? describeCounts(outcome.wire.encodings) : '-',
      outcome.wire ? formatBytes(outcome.wire.bodyBytes) : '-',
      formatRate(summary.median),
      `${formatRate(summary.min)}–${formatRate(summary.max)}`,
      formatRatio(summary.median / reference.median),
      formatMs(summary.p50Ms),
      formatMs(summary.p99Ms),
      Number.isFinite(summary.serverCpuMicrosPerRequest) ? summary.serverCpuMicrosPerRequest.toFixed(0) : '-',
      formatRatio(summary.serverCpuMicrosPerRequest / reference.serverCpuMicrosPerRequest),
      outcome.memory ? formatBytes(outcome.memory.bytesPerEntry) : '-',
      notesFor(outcome),
    ];
  });
  return markdownTable(
    [
      'variant',
      'Accept-Encoding sent',
      'Content-Encoding received',
      'body bytes/response',
      'req/s median',
      'min–max',
      'req/s × plain',
      'p50 ms',
      'p99 ms',
      'server CPU µs/req',
      'CPU × plain',
      'Redis bytes/entry',
      'notes',
    ],
    rows,
    ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}

/** The headline comparison, compress once against compression() per hit, as sentences. */
export function compressionSummary(outcomes: CompressionOutcome[]): string {
  const find = (name: string) => outcomes.find((outcome) => outcome.variant.name === name && !outcome.unavailable);
  const once = find('compress-once');
  const lines: string[] = [];
  const perHit = [find('compress-middleware'), find('compress-middleware-gzip')].filter(
    (outcome): outcome is CompressionOutcome => outcome !== undefined,
  );
  if (once) {
    const a = summarizeCompression(once);
    for (const other of perHit) {
      const b = summarizeCompression(other);
      lines.push(
        `- \`compress: true\` against ${other.variant.label} (${other.wire ? describeCounts(other.wire.encodings) : '?'}): ` +
          `${formatRatio(a.median / b.median)} its req/s, ${formatRatio(a.serverCpuMicrosPerRequest / b.serverCpuMicrosPerRequest)} its server CPU per hit ` +
          `(${a.serverCpuMicrosPerRequest.toFixed(0)} against ${b.serverCpuMicrosPerRequest.toFixed(0)} µs), ` +
          `${formatRatio((once.memory?.bytesPerEntry ?? NaN) / (other.memory?.bytesPerEntry ?? NaN))} the Redis memory per entry ` +
          `(${formatBytes(once.memory?.bytesPerEntry ?? NaN)} against ${formatBytes(other.memory?.bytesPerEntry ?? NaN)}), ` +
          `${formatBytes(once.wire?.bodyBytes ?? NaN)} against ${formatBytes(other.wire?.bodyBytes ?? NaN)} on the wire per response.`,
      );
    }
  }
  const identityRows = outcomes.filter((outcome) => outcome.identity);
  if (identityRows.length) {
    const failures = identityRows.filter(
      (outcome) =>
        outcome.identity && (outcome.identity.mismatches > 0 || Object.keys(outcome.identity.encodings).some((e) => e !== 'identity')),
    );
    lines.push(
      `- Identity fallback: each variant was also asked for the 100 ids with no Accept-Encoding header. ` +
        (failures.length === 0
          ? `Every answer came without Content-Encoding and byte-identical to the handler's body (${LARGE_BODY_BYTES} B), including from \`compress: true\`, whose stored gzip was inflated for it.`
          : `**Not all did**: ${failures.map((outcome) => `${outcome.variant.name} (${describeCounts(outcome.identity?.encodings ?? {})}, ${outcome.identity?.mismatches} mismatches)`).join('; ')}.`),
    );
  }
  return lines.join('\n');
}
