// Suite "l1-staleness": how long another instance keeps serving an
// entry from its in-process tier after a mutation cleared the namespace. Two
// server processes share a prefix, each with `l1`; autocannon loads instance
// B while the parent mutates through instance A (PUT behind cache.invalidate)
// and then polls both instances, one request at a time over a keep-alive
// connection each, until they answer with the new version. A control change
// made without a clear shows that the polls do see what the tier serves.

import type http from 'node:http';
import { NotAvailable, startServer, type ServerHandle } from '../lib/child';
import type { BenchConfig } from '../lib/config';
import { runLoad, type LoadResult } from '../lib/load';
import { describeError } from '../lib/protocol';
import { rawRequest, singleConnectionAgent } from '../lib/raw-http';
import { formatCounters, formatMs, formatRate, markdownTable } from '../lib/report';
import { median, percentile, summarize } from '../lib/stats';

/** Give up on one instance after this long without the new version (the tier's ttl is 30 s). */
const POLL_LIMIT_MS = 5_000;

/** The load runs this long before the first mutation, so B's tier is hot and its event loop busy. */
const RAMP_MS = 1_000;

/** What polling one instance after one mutation saw. */
export interface PollResult {
  /** Responses still showing the old version. */
  staleReads: number;
  /** ms from the mutation's response until the first fresh response arrived; 0 when the first poll was already fresh. */
  windowMs: number;
  /** ms from the mutation's response until the last stale poll was sent (the instance still served the old entry after that); 0 without stale reads. */
  lowerBoundMs: number;
  /** The new version never showed within POLL_LIMIT_MS. */
  timedOut: boolean;
  polls: number;
}

/** One mutation and what each instance did after it. */
export interface StalenessMutation {
  version: number;
  /** How long the PUT took (request to response). */
  putMs: number;
  /** When the PUT was sent and its response arrived, ms since the epoch. */
  putSentAtMs: number;
  putReceivedAtMs: number;
  b: PollResult;
  a: PollResult;
  /** When B's tier dropped the namespace on the clear's message, relative to the PUT's response arriving (negative: before). */
  bDropLagMs?: number;
}

/** The control: a change made without a clear, polled like a mutation. */
export interface StalenessControl {
  polls: number;
  /** Polls that still showed the old version (all of them, if the polls see what the tier serves). */
  oldOnB: number;
  oldOnA: number;
}

/** Everything the suite measured. */
export interface StalenessOutcome {
  unavailable?: string;
  mutations: StalenessMutation[];
  /** Mutations planned (fewer ran if the load ended first). */
  planned: number;
  /** The load on B over its whole run. */
  load?: LoadResult;
  control?: StalenessControl;
  /** Redis commands per GET in a quiet pass before the load (0: answered from the in-process tier). */
  commandsPerGet?: { a: number | null; b: number | null };
  statsA?: Record<string, unknown>;
  statsB?: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function getVersion(port: number, agent?: http.Agent): Promise<{ version: number; sentAt: number; receivedAt: number }> {
  const response = await rawRequest(port, '/item', { agent });
  if (response.status !== 200) throw new Error(`GET /item on port ${port}: status ${response.status}`);
  const { version } = JSON.parse(response.body.toString('utf8')) as { version: number };
  return { version, sentAt: response.sentAt, receivedAt: response.receivedAt };
}

/** Polls one instance back to back until it shows `version`; times are relative to `since` (the mutation's response). */
async function pollUntil(port: number, agent: http.Agent, version: number, since: number): Promise<PollResult> {
  const result: PollResult = { staleReads: 0, windowMs: 0, lowerBoundMs: 0, timedOut: false, polls: 0 };
  for (;;) {
    const seen = await getVersion(port, agent);
    result.polls += 1;
    if (seen.version >= version) {
      if (result.staleReads > 0) result.windowMs = seen.receivedAt - since;
      return result;
    }
    result.staleReads += 1;
    result.lowerBoundMs = Math.max(0, seen.sentAt - since);
    if (seen.receivedAt - since > POLL_LIMIT_MS) {
      result.timedOut = true;
      result.windowMs = seen.receivedAt - since;
      return result;
    }
  }
}

/** Redis commands per GET over 20 GETs (null: the server cannot count). */
async function commandsPerGet(server: ServerHandle, agent: http.Agent): Promise<number | null> {
  await server.countCommands(true);
  for (let i = 0; i < 20; i++) await getVersion(server.port, agent);
  const commands = await server.countCommands(false);
  return commands === null ? null : commands / 20;
}

function log(message: string): void {
  console.log(`[l1-staleness] ${message}`);
}

/** Starts A and B, loads B, and runs the mutations with their polls. */
export async function runL1Staleness(config: BenchConfig, runPrefix: string): Promise<StalenessOutcome> {
  const outcome: StalenessOutcome = { mutations: [], planned: config.stalenessMutations };
  const prefix = `${runPrefix}:l1-staleness`;
  const servers: ServerHandle[] = [];
  const agentA = singleConnectionAgent();
  const agentB = singleConnectionAgent();
  try {
    const started = await Promise.allSettled([
      startServer('l1-staleness', prefix, { L1_ROLE: 'a' }),
      startServer('l1-staleness', prefix, { L1_ROLE: 'b' }),
    ]);
    for (const result of started) if (result.status === 'fulfilled') servers.push(result.value);
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) {
      const error: unknown = failed.reason;
      outcome.unavailable = error instanceof NotAvailable ? error.reason : describeError(error);
      log(`NOT AVAILABLE: ${outcome.unavailable}`);
      return outcome;
    }
    const [a, b] = servers as [ServerHandle, ServerHandle];

    // A first mutation sets the counter; then both tiers hold version 1.
    await rawRequest(a.port, '/item', { method: 'PUT', agent: agentA });
    await sleep(100);
    for (let i = 0; i < 3; i++) await Promise.all([getVersion(a.port, agentA), getVersion(b.port, agentB)]);
    outcome.commandsPerGet = { a: await commandsPerGet(a, agentA), b: await commandsPerGet(b, agentB) };
    log(
      `quiet pass: Redis commands per GET: A ${outcome.commandsPerGet.a ?? '-'}, B ${outcome.commandsPerGet.b ?? '-'} (0: served from the in-process tier)`,
    );

    const loadSeconds = config.stalenessLoadSeconds;
    const loadEndsAt = performance.now() + loadSeconds * 1000;
    const loading = runLoad({ port: b.port, paths: ['/item'], connections: config.connections, seconds: loadSeconds });
    await sleep(RAMP_MS);

    // Control: the counter moves without a clear; both instances must go on answering the old version.
    const silent = await rawRequest(a.port, '/item/silent', { method: 'POST', agent: agentA });
    const { version: silentVersion } = JSON.parse(silent.body.toString('utf8')) as { version: number };
    const control: StalenessControl = { polls: 20, oldOnB: 0, oldOnA: 0 };
    for (let i = 0; i < control.polls; i++) {
      const [seenB, seenA] = await Promise.all([getVersion(b.port, agentB), getVersion(a.port, agentA)]);
      if (seenB.version < silentVersion) control.oldOnB += 1;
      if (seenA.version < silentVersion) control.oldOnA += 1;
    }
    outcome.control = control;

    for (let i = 0; i < config.stalenessMutations; i++) {
      const startedAt = performance.now();
      // Leave the last mutation's polls well inside the load.
      if (startedAt > loadEndsAt - 500) break;
      const put = await rawRequest(a.port, '/item', { method: 'PUT', agent: agentA });
      if (put.status !== 200) throw new Error(`PUT /item on A: status ${put.status}`);
      const { version } = JSON.parse(put.body.toString('utf8')) as { version: number };
      const since = put.receivedAt;
      const [pollB, pollA] = await Promise.all([pollUntil(b.port, agentB, version, since), pollUntil(a.port, agentA, version, since)]);
      outcome.mutations.push({
        version,
        putMs: put.receivedAt - put.sentAt,
        putSentAtMs: performance.timeOrigin + put.sentAt,
        putReceivedAtMs: performance.timeOrigin + put.receivedAt,
        b: pollB,
        a: pollA,
      });
      const spent = performance.now() - startedAt;
      if (spent < config.stalenessSpacingMs) await sleep(config.stalenessSpacingMs - spent);
    }
    outcome.load = await loading;
    const [statsA, statsB] = await Promise.all([a.stats(), b.stats()]);
    const { dropTimesMs: _dropsA, ...countersA } = statsA.extra ?? {};
    const { dropTimesMs, ...countersB } = statsB.extra ?? {};
    outcome.statsA = countersA;
    outcome.statsB = countersB;
    // Both processes stamp times as performance.timeOrigin + now(): one clock on one machine.
    const drops = Array.isArray(dropTimesMs) ? (dropTimesMs as number[]) : [];
    for (const mutation of outcome.mutations) {
      const drop = drops.find((time) => time >= mutation.putSentAtMs);
      if (drop !== undefined) mutation.bDropLagMs = drop - mutation.putReceivedAtMs;
    }

    const summary = stalenessSummary(outcome);
    log(
      `${outcome.mutations.length}/${outcome.planned} mutations under ${Math.round(outcome.load.requestsPerSecond)} req/s on B: ` +
        `B window median ${formatMs(summary.b.median, 2)} ms, p95 ${formatMs(summary.b.p95, 2)} ms, max ${formatMs(summary.b.max, 2)} ms, ` +
        `${summary.b.staleReads} stale reads in ${summary.b.mutationsWithStale} mutations${summary.b.timedOut ? `, ${summary.b.timedOut} TIMED OUT` : ''}; ` +
        `A: ${summary.a.staleReads} stale reads; B dropped its entries ${formatMs(summary.bDropLag.median, 2)} ms (median; max ${formatMs(summary.bDropLag.max, 2)} ms) after the PUT's response; ` +
        `control (no clear): old version on B ${control.oldOnB}/${control.polls}, on A ${control.oldOnA}/${control.polls}`,
    );
  } finally {
    agentA.destroy();
    agentB.destroy();
    await Promise.all(servers.map((server) => server.stop()));
  }
  return outcome;
}

/** Order statistics of one instance's windows over the mutations. */
export interface WindowSummary {
  median: number;
  p95: number;
  max: number;
  /** Median of the lower bounds (when the instance was last seen serving the old entry). */
  lowerBoundMedian: number;
  lowerBoundMax: number;
  staleReads: number;
  mutationsWithStale: number;
  timedOut: number;
  polls: number;
}

function summarizeWindows(results: PollResult[]): WindowSummary {
  const windows = results.map((result) => result.windowMs).sort((x, y) => x - y);
  const lower = results.map((result) => result.lowerBoundMs).sort((x, y) => x - y);
  return {
    median: median(windows),
    p95: percentile(windows, 0.95),
    max: windows[windows.length - 1] ?? NaN,
    lowerBoundMedian: median(lower),
    lowerBoundMax: lower[lower.length - 1] ?? NaN,
    staleReads: results.reduce((sum, result) => sum + result.staleReads, 0),
    mutationsWithStale: results.filter((result) => result.staleReads > 0).length,
    timedOut: results.filter((result) => result.timedOut).length,
    polls: results.reduce((sum, result) => sum + result.polls, 0),
  };
}

/** B's and A's windows. */
export function stalenessSummary(outcome: StalenessOutcome): {
  b: WindowSummary;
  a: WindowSummary;
  putMedianMs: number;
  bDropLag: { median: number; min: number; max: number; count: number };
} {
  const lags = outcome.mutations.flatMap((mutation) => (mutation.bDropLagMs === undefined ? [] : [mutation.bDropLagMs]));
  return {
    b: summarizeWindows(outcome.mutations.map((mutation) => mutation.b)),
    a: summarizeWindows(outcome.mutations.map((mutation) => mutation.a)),
    putMedianMs: median(outcome.mutations.map((mutation) => mutation.putMs)),
    bDropLag: { ...summarize(lags), count: lags.length },
  };
}

/** Whether the same-instance guarantee held: no stale read on A (null: nothing measured). */
export function sameInstanceNeverStale(outcome: StalenessOutcome): boolean | null {
  if (outcome.unavailable || outcome.mutations.length === 0) return null;
  return outcome.mutations.every((mutation) => mutation.a.staleReads === 0);
}

/** The staleness table of RESULTS.md. */
export function stalenessTable(outcome: StalenessOutcome): string {
  const { a, b } = stalenessSummary(outcome);
  const row = (label: string, s: WindowSummary, commands: number | null | undefined, stats: Record<string, unknown> | undefined) => [
    label,
    String(outcome.mutations.length),
    `${s.staleReads} in ${s.mutationsWithStale} mutation(s)`,
    formatMs(s.median, 2),
    formatMs(s.p95, 2),
    formatMs(s.max, 2),
    `${formatMs(s.lowerBoundMedian, 2)} / ${formatMs(s.lowerBoundMax, 2)}`,
    String(s.polls),
    commands === null || commands === undefined ? '-' : commands.toFixed(2),
    [s.timedOut ? `**${s.timedOut} never showed the new version within ${POLL_LIMIT_MS} ms**` : '', formatCounters(stats)]
      .filter(Boolean)
      .join('; '),
  ];
  return markdownTable(
    [
      'instance polled',
      'mutations',
      'stale reads',
      'window median ms',
      'p95 ms',
      'max ms',
      'last stale poll sent, median / max ms',
      'polls',
      'Redis cmds/GET, quiet',
      'notes',
    ],
    [
      row('B (other instance, under load)', b, outcome.commandsPerGet?.b, outcome.statsB),
      row('A (the instance that mutated)', a, outcome.commandsPerGet?.a, outcome.statsA),
    ],
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}

/** One line on the load B was under while the windows were measured. */
export function stalenessLoadLine(outcome: StalenessOutcome, connections: number): string {
  const load = outcome.load;
  if (!load) return '';
  const { putMedianMs, bDropLag, b } = stalenessSummary(outcome);
  const control = outcome.control;
  // Why a zero window can sit beside a positive drop time, said only when this run shows both.
  const ordering =
    b.staleReads === 0 && bDropLag.max > 0
      ? ` No poll sent after the PUT's response read the old entry even so: Redis delivers the message to B before A's response leaves, and B, queueing under load, took the message ahead of the poll that arrived after it. ` +
        'On one machine a client cannot overtake the message; a client much nearer to B than Redis is could, by up to that delivery time.'
      : '';
  return [
    `Load on B during the measurement: ${formatRate(load.requestsPerSecond)} req/s at ${connections} connections over ${load.seconds} s ` +
      `(p50 ${formatMs(load.p50Ms)} ms, p99 ${formatMs(load.p99Ms)} ms${load.errors || load.non2xx ? `, ${load.errors} errors, ${load.non2xx} non-2xx` : ''}); ` +
      `the PUT on A took ${formatMs(putMedianMs)} ms (median).`,
    '',
    `B's tier dropped the namespace on the clear's message ${formatMs(bDropLag.median, 2)} ms after the PUT's response reached the client (median; min ${formatMs(bDropLag.min, 2)}, max ${formatMs(bDropLag.max, 2)} ms, ` +
      `${bDropLag.count} of ${outcome.mutations.length} mutations timed; negative: before the client had the response). ` +
      "This is read from the cache's own debug line in B, stamped on the clock both processes share: the pub/sub delivery the windows depend on, queueing in B included." +
      ordering,
    '',
    control
      ? `Control (the counter incremented without a clear, under the same load): ${control.oldOnB}/${control.polls} polls of B and ${control.oldOnA}/${control.polls} of A still answered the old version, ` +
        `${control.oldOnB === control.polls && control.oldOnA === control.polls ? 'as they must: the polls see what the cache serves, so a zero window is a real zero' : '**not all: the polls may not be reading what the cache serves**'}.`
      : '',
  ].join('\n');
}
