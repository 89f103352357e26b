// Composes bench/RESULTS.md from the suites' outcomes: machine and versions,
// the hit table and chart, the targets as measured ratios, and the
// miss, invalidation, memory, stampede, compression and in-process tier
// staleness sections with how each was measured.

import { SUITES, type BenchConfig } from './lib/config';
import type { MachineInfo } from './lib/machine';
import { formatMs, formatRatio, markdownTable } from './lib/report';
import { median, summarize } from './lib/stats';
import { floorOf, HIT_VARIANTS, hitsTable, memoryTable, roundRatios, summarizeHit, type HitOutcome } from './suites/hits';
import { invalidationSpread, invalidationTable, type InvalidationOutcome } from './suites/invalidation';
import { missTable, type MissOutcome, type MissRound } from './suites/miss';
import { stampedeTable, type StampedeOutcome } from './suites/stampede';
import {
  COMPRESSION_VARIANTS,
  compressionSummary,
  compressionTable,
  summarizeCompression,
  type CompressionOutcome,
} from './suites/compression';
import { sameInstanceNeverStale, stalenessLoadLine, stalenessTable, type StalenessOutcome } from './suites/l1-staleness';
import { ITEM_BODY_BYTES } from './lib/body';
import { shopSection, shopStatementRatio, shopUntouchedHitRatio, type ShopOutcome } from './suites/shop';
import { LARGE_BODY_BYTES } from './lib/large-body';

/** Everything one run produced. */
export interface RunResults {
  config: BenchConfig;
  startedAt: Date;
  elapsedSeconds: number;
  machine: MachineInfo;
  versions: Record<string, string>;
  loadBefore: string;
  loadAfter: string;
  hits?: HitOutcome[];
  miss?: MissOutcome[];
  invalidation?: InvalidationOutcome;
  stampede?: StampedeOutcome[];
  compression?: CompressionOutcome[];
  l1Staleness?: StalenessOutcome;
  shop?: ShopOutcome;
}

/** One row of the targets table. */
interface Target {
  goal: string;
  measured: number;
  perRound: number[];
  met: boolean | null;
  note?: string;
}

function rangeOf(values: number[]): string {
  if (values.length === 0) return '-';
  const { min, max } = summarize(values);
  return `${formatRatio(min)}–${formatRatio(max)}`;
}

function verdict(met: boolean | null): string {
  if (met === null) return 'n/a';
  return met ? 'met' : '**not met**';
}

/** The performance targets, computed from this run only. */
export function targets(results: RunResults): Target[] {
  const list: Target[] = [];
  const hits = results.hits;
  if (hits) {
    const find = (name: string) => hits.find((outcome) => outcome.variant.name === name && !outcome.unavailable);
    const bare = find('bare');
    const ours = find('ours-redis');
    const pipelined = find('ours-redis-pipelined');
    const l1 = hits.find((outcome) => outcome.variant.name === 'ours-l1');
    const redisPeers = hits.filter(
      (outcome) => outcome.variant.role === 'peer' && outcome.variant.store === 'redis' && !outcome.unavailable,
    );
    const fastestPeer = redisPeers.sort((a, b) => summarizeHit(b).median - summarizeHit(a).median)[0];

    // Server CPU per request is the steadier figure on a shared machine: quote it beside each ratio (as a speed, b's CPU over a's).
    const cpuNote = (a: HitOutcome | undefined, b: HitOutcome | undefined) => {
      const sa = summarizeHit(a);
      const sb = summarizeHit(b);
      const ratio = sb.serverCpuMicrosPerRequest / sa.serverCpuMicrosPerRequest;
      return Number.isFinite(ratio)
        ? `by server CPU per request: ${formatRatio(ratio)} (${sa.serverCpuMicrosPerRequest.toFixed(0)} against ${sb.serverCpuMicrosPerRequest.toFixed(0)} µs)`
        : undefined;
    };
    const ratioTarget = (goal: string, a: HitOutcome | undefined, b: HitOutcome | undefined, at: number, extra?: string): void => {
      const measured = summarizeHit(a).median / summarizeHit(b).median;
      list.push({
        goal,
        measured,
        perRound: roundRatios(a, b),
        met: Number.isFinite(measured) ? measured >= at : null,
        note: [cpuNote(a, b), extra].filter(Boolean).join('; '),
      });
    };
    const latencyNote = (a: HitOutcome | undefined, b: HitOutcome | undefined) =>
      `p50 at 1 connection ${formatMs(summarizeHit(a).singleP50Ms, 3)} ms against ${formatMs(summarizeHit(b).singleP50Ms, 3)} ms`;
    const oursFloor = ours && floorOf(hits, ours);
    ratioTarget(
      '1a. hits, default ioredis client: ours ≥ 0.95 × redis-floor (same client)',
      ours,
      oursFloor,
      0.95,
      latencyNote(ours, oursFloor),
    );
    ratioTarget(
      `1b. hits, default ioredis client: ours ≥ 1.3 × fastest Redis-backed peer (${fastestPeer?.variant.label ?? 'none'})`,
      ours,
      fastestPeer,
      1.3,
    );
    const pipelinedFloor = pipelined && floorOf(hits, pipelined);
    ratioTarget(
      '2. hits, auto-pipelining on both sides: ours ≥ 0.97 × redis-floor (auto-pipelining)',
      pipelined,
      pipelinedFloor,
      0.97,
      latencyNote(pipelined, pipelinedFloor),
    );
    const l1Live = l1?.unavailable ? undefined : l1;
    ratioTarget(
      '3. in-process tier: ours ≥ 0.9 × bare',
      l1Live,
      bare,
      0.9,
      l1?.unavailable ? `not available: ${l1.unavailable}` : latencyNote(l1Live, bare),
    );
    const floor = find('redis-floor');
    const memory = (outcome: HitOutcome | undefined) => outcome?.memory?.bytesPerEntry ?? NaN;
    const memoryRatio = memory(ours) / memory(floor);
    list.push({
      goal: "5b. Redis memory per entry at redis-floor's (≤ 1.01 ×)",
      measured: memoryRatio,
      perRound: [],
      met: Number.isFinite(memoryRatio) ? memoryRatio <= 1.01 : null,
      note: `${memory(ours).toFixed(0)} B against ${memory(floor).toFixed(0)} B per entry`,
    });
  }
  if (results.miss) {
    const miss = results.miss;
    const find = (name: string) => miss.find((outcome) => outcome.name === name && !outcome.unavailable);
    const ours = find('miss-ours');
    const floor = find('miss-floor');
    const cpu = (outcome: MissOutcome | undefined) => median((outcome?.rounds ?? []).map((round) => round.serverCpuMicrosPerRequest));
    const rate = (outcome: MissOutcome | undefined) => summarize((outcome?.rounds ?? []).map((round) => round.requestsPerSecond)).median;
    const cpuRatio = cpu(ours) / cpu(floor);
    list.push({
      goal: '4a. misses: server CPU per miss ≤ 1.3 × floor miss',
      measured: cpuRatio,
      perRound: pairRounds(ours, floor, (a, b) => a.serverCpuMicrosPerRequest / b.serverCpuMicrosPerRequest),
      met: Number.isFinite(cpuRatio) ? cpuRatio <= 1.3 : null,
      note: `${cpu(ours).toFixed(0)} against ${cpu(floor).toFixed(0)} µs (uncached handler: ${cpu(find('miss-uncached')).toFixed(0)} µs)`,
    });
    const peers = ['miss-apicache-redis', 'miss-route-cache-redis']
      .map(find)
      .filter((outcome): outcome is MissOutcome => outcome !== undefined);
    const fastest = peers.sort((a, b) => rate(b) - rate(a))[0];
    const peerRatio = rate(ours) / rate(fastest);
    list.push({
      goal: `4b. misses: ours ≥ 1.2 × the req/s of the fastest Redis-backed peer's miss path (${fastest?.label ?? 'none'})`,
      measured: peerRatio,
      perRound: pairRounds(ours, fastest, (a, b) => a.requestsPerSecond / b.requestsPerSecond),
      met: Number.isFinite(peerRatio) ? peerRatio >= 1.2 : null,
      note: `server CPU per miss ${cpu(ours).toFixed(0)} against ${cpu(fastest).toFixed(0)} µs`,
    });
    const commands = ours?.redisCommandsPerRequest;
    list.push({
      goal: '4c. misses: at most 2 store round trips per miss (Redis commands per miss ≤ 2)',
      measured: commands ?? NaN,
      perRound: [],
      met: typeof commands === 'number' ? commands <= 2 : null,
      note: 'the lookup script alone, then the write script: each command is one round trip on this path',
    });
  }
  if (results.invalidation && !results.invalidation.unavailable) {
    const { medians, growth } = invalidationSpread(results.invalidation);
    const underOneMs = medians.every((value) => value < 1);
    list.push({
      goal: '5a. invalidation flat 10 → 100,000 entries (largest median ≤ 2 × smallest), every median < 1 ms',
      measured: growth,
      perRound: [],
      met: Number.isFinite(growth) ? growth <= 2 && underOneMs : null,
      note: `medians ${medians.map((value) => `${formatMs(value, 3)} ms`).join(', ')}`,
    });
  }
  if (results.shop && !results.shop.unavailable) {
    const untouched = shopUntouchedHitRatio(results.shop, 'tags');
    list.push({
      goal: 'shop with tags: ≥ 0.95 of the reads of untouched entries are hits',
      measured: untouched,
      perRound: [],
      met: Number.isFinite(untouched) ? untouched >= 0.95 : null,
    });
    const ratio = shopStatementRatio(results.shop, 'tags');
    list.push({
      goal: "shop with tags: SQL statements ≤ 1.2 × the oracle's",
      measured: ratio,
      perRound: [],
      met: Number.isFinite(ratio) ? ratio <= 1.2 : null,
      note: `namespaces only: ${formatRatio(shopStatementRatio(results.shop, 'namespaces'))} the oracle's`,
    });
  }
  if (results.compression) {
    const once = results.compression.find((outcome) => outcome.variant.name === 'compress-once' && !outcome.unavailable);
    const perHit = results.compression.find((outcome) => outcome.variant.name === 'compress-middleware-gzip' && !outcome.unavailable);
    const a = summarizeCompression(once);
    const b = summarizeCompression(perHit);
    const cpuRatio = a.serverCpuMicrosPerRequest / b.serverCpuMicrosPerRequest;
    list.push({
      goal: '5c. compression once: server CPU per hit ≤ 0.25 × compression() per hit (gzip), Redis memory per entry ≤ 0.3 ×',
      measured: cpuRatio,
      perRound: [],
      met: Number.isFinite(cpuRatio)
        ? cpuRatio <= 0.25 && (once?.memory?.bytesPerEntry ?? NaN) / (perHit?.memory?.bytesPerEntry ?? NaN) <= 0.3
        : null,
      note:
        `${a.serverCpuMicrosPerRequest.toFixed(0)} against ${b.serverCpuMicrosPerRequest.toFixed(0)} µs; ${formatRatio(a.median / b.median)} its req/s; ` +
        `${formatRatio((once?.memory?.bytesPerEntry ?? NaN) / (perHit?.memory?.bytesPerEntry ?? NaN))} its Redis memory per entry`,
    });
  }
  return list;
}

/** Per-round ratios of two miss variants at the loaded level (interleaved rounds pair by index). */
function pairRounds(a: MissOutcome | undefined, b: MissOutcome | undefined, ratio: (x: MissRound, y: MissRound) => number): number[] {
  if (!a || !b) return [];
  return a.rounds.flatMap((round, i) => {
    const other = b.rounds[i];
    return other ? [ratio(round, other)] : [];
  });
}

function targetsTable(results: RunResults): string {
  const rows = targets(results).map((target) => [
    target.goal,
    formatRatio(target.measured),
    rangeOf(target.perRound),
    verdict(target.met),
    target.note ?? '',
  ]);
  return markdownTable(['target', 'measured (ratio of medians)', 'per-round range', 'verdict', 'notes'], rows, ['l', 'r', 'r', 'l', 'l']);
}

/** Ratios of an earlier run of the peers (made before this package existed; the numbers below) next to this run's. */
function earlierTable(hits: HitOutcome[]): string {
  const floor = summarizeHit(hits.find((outcome) => outcome.variant.name === 'redis-floor')).median;
  const bare = summarizeHit(hits.find((outcome) => outcome.variant.name === 'bare')).median;
  const earlier: Array<[string, string, number, number]> = [
    ['redis-floor', '× bare', 0.85, bare],
    ['route-cache-redis', '× redis-floor', 0.72, floor],
    ['apicache-redis', '× redis-floor', 0.64, floor],
    ['express-redis-cache', '× redis-floor', 0.56, floor],
  ];
  const rows = earlier.map(([name, unit, before, base]) => {
    const outcome = hits.find((candidate) => candidate.variant.name === name);
    return [outcome?.variant.label ?? name, unit, formatRatio(before), formatRatio(summarizeHit(outcome).median / base)];
  });
  return markdownTable(['variant', 'ratio', 'earlier run', 'this run'], rows, ['l', 'l', 'r', 'r']);
}

/** Says which suites this run left out (BENCH_ONLY): their sections are missing, not empty. */
function notRunNote(config: BenchConfig): string[] {
  const skipped = SUITES.filter((suite) => !config.suites.includes(suite));
  if (skipped.length === 0) return [];
  return [
    `**Partial run (BENCH_ONLY=${config.suites.join(',')}): the suites ${skipped.join(', ')} did not run, so their sections are missing from this file.** ` +
      "RESULTS.md is rewritten by every run; the last full run's figures are in git history (`git log -p bench/RESULTS.md`).",
    '',
  ];
}

/** The whole of bench/RESULTS.md. */
export function resultsMarkdown(results: RunResults): string {
  const { config, machine, versions } = results;
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);
  const ranSuites = config.suites.join(', ');

  push(
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` (bench/run.ts) on ${results.startedAt.toISOString()}, in ${Math.round(results.elapsedSeconds)} s.`,
    `Mode: ${config.quick ? '**quick smoke run (BENCH_QUICK=1): too short for conclusions**' : 'full'}; suites: ${ranSuites}; ` +
      `${config.rounds} interleaved round(s) of ${config.roundSeconds} s per variant, ${config.connections} connections.`,
    '',
    'This machine (2 cores) is shared with other engineers and noisy: **quote the ratios, not the absolute figures.** ' +
      'Ratios compare variants measured seconds apart in the same run (interleaved rounds); the same variant moves 15% and more between rounds and runs, ' +
      'so look at the min/max and the per-round ranges, and at server CPU per request, which load from other processes disturbs less.',
    '',
    ...notRunNote(config),
    '## Machine and versions',
    '',
    `- CPU: ${machine.cpu}, ${machine.cores} logical cores; memory ${machine.memoryGiB} GiB; ${machine.os}`,
    `- Node ${machine.node}; Redis server ${machine.redisServer} (shared instance on REDIS_URL, untouched apart from this run's own keys)`,
    `- Load average (1/5/15 min) at start: ${results.loadBefore}; at end: ${results.loadAfter}`,
    '',
    markdownTable(
      ['package', 'version'],
      Object.entries(versions).map(([name, version]) => [
        name === 'express-redis-cache/node_modules/redis'
          ? 'redis (bundled by express-redis-cache)'
          : name === 'redis'
            ? 'redis (node-redis v3, for apicache)'
            : name,
        version,
      ]),
    ),
    '',
  );

  if (results.hits) {
    push(
      '## Warm hits: GET /item/:id',
      '',
      `Each variant is its own server process (Express 5 on 127.0.0.1), serving ${ITEM_BODY_BYTES}-byte JSON bodies for 100 ids, all entries warm; ` +
        'autocannon runs in the orchestrator process, cycling over the 100 ids. ' +
        "req/s: median, min and max over the rounds; p50/p99: median over the rounds of each round's percentile.",
      '',
      '![Requests per second per variant](results.svg)',
      '',
      hitsTable(results.hits),
      '',
      '"server CPU µs/req" is the server process\'s CPU time (process.cpuUsage, user + system) over the round divided by the requests it answered, median over rounds: ' +
        "other engineers' load steals wall-clock time from a round but much less of this, so it is the steadier way to compare variants. " +
        '"server busy" is req/s × CPU per request, the share of one core the server used (median over rounds): near 1 the server was CPU-bound; ' +
        'well below 1 it spent part of the round waiting (on Redis, timers, or a CPU taken by another process). ' +
        '"Redis cmds/hit" counts the commands the server sent to Redis during one verification pass over the 100 warm ids (a counter wrapped around the client only for that pass).',
      '',
    );
  }

  const targetList = targets(results);
  if (targetList.length) push('## Targets, as measured in this run', '', targetsTable(results), '');
  if (results.hits) push('### Peers against an earlier measurement', '', earlierTable(results.hits), '');

  if (results.miss) {
    push(
      '## Miss path: what ours costs when it cannot help',
      '',
      'The same handler (waits 1 ms with setTimeout, then sends the 2 KB body), uncached and behind ours on Redis. ' +
        'Every request carries a unique `?n=` and ours keys the route on it, so every request is a genuine miss: ' +
        'a Redis lookup, capturing the response, and storing it in the background (ttl 1 s, so the shared Redis holds only a few seconds of them). ' +
        'This is the honest variant: `statuses: []` would skip the store and hide part of the cost. ' +
        'The uncached server receives the same URLs and ignores the parameter.',
      '',
      `Two loads, each in interleaved rounds. At ${config.connections} connections the 1 ms wait overlaps across requests and the server is CPU-bound, ` +
        'so the req/s ratio is in effect the ratio of CPU per request. At 1 connection nothing queues, so the p50 difference is the latency a single request gains on a miss ' +
        '(Redis round trips included). "Redis cmds/req" counts commands over 100 further misses, background stores included.',
      '',
      missTable(results.miss, config.connections),
      '',
    );
  }

  if (results.invalidation) {
    push('## Invalidation time against namespace size', '');
    if (results.invalidation.unavailable) push(`Not available: ${results.invalidation.unavailable}`, '');
    else {
      push(
        'Each timed run fills a fresh namespace with N entries through `cache.getOrSet` (small values: the size of the values does not change what a clear has to do), ' +
          'then times one `cache.invalidateNamespaces([ns])` from call to resolve, then checks the next read of an entry runs its fetch again. ' +
          'Only the first clear after a fill is timed (a second one would find nothing to clear); the 100,000-entry size has fewer runs because its fill dominates the run time. ' +
          'Leftover keys are unlinked (untimed) after each run.',
        '',
        invalidationTable(results.invalidation),
        '',
      );
    }
  }

  const memoryRows = results.hits?.some((outcome) => outcome.memory);
  if (results.hits && memoryRows) {
    push(
      '## Redis memory per stored entry',
      '',
      `\`MEMORY USAGE <key> SAMPLES 0\` over every key each Redis-backed variant wrote for the 100 warm entries, against the ${ITEM_BODY_BYTES}-byte body. ` +
        "redis-floor stores the bare body, so its figure is Redis's own per-key cost.",
      '',
      memoryTable(results.hits),
      '',
    );
  }

  if (results.stampede) {
    push(
      '## Hot entry expiring under load',
      '',
      `One entry (ttl 2 s) requested by ${config.stampedeConnections} concurrent connections for ${config.stampedeSeconds} s over a 20 ms handler, ours on Redis. ` +
        'The server records when its handler runs; calls less than 250 ms apart form one burst, i.e. one expiry. ' +
        'Without a stampede guard every connection that finds the entry expired runs the handler; with one, each expiry costs one call.',
      '',
      stampedeTable(results.stampede),
      '',
    );
  }

  if (results.compression) {
    push(
      '## Compression once against compression() per hit',
      '',
      `Each variant is its own server process serving GET /large/:id through ours on Redis (namespace \`items\`, ttl 1 h), all 100 entries warm; ` +
        `the handler sends a ${LARGE_BODY_BYTES.toLocaleString('en-US')}-byte JSON product page per id (related products with varied values and text; gzip takes it to about a quarter). ` +
        '`compress: true` gzips an entry once, when it is stored, and hits send the stored gzip as is (`Vary: Accept-Encoding`); ' +
        '`app.use(compression())` (the compression package, defaults) is mounted in front of ours without `compress`, as the README says to, so every hit is compressed on the fly. ' +
        'Given `gzip, deflate, br`, compression() 1.8 picks brotli (quality 4), so a second compression() row has its clients send `gzip` alone, for gzip against gzip. ' +
        'The plain row (no compression) is the reference for "× plain"; the last row is `compress: true` asked by clients sending no Accept-Encoding, who get the stored gzip inflated on every hit. ' +
        "The load sends the row's Accept-Encoding on every request, in interleaved rounds as in the hits table; server CPU µs/req is the server process's CPU time over the round divided by the requests answered (median over rounds).",
      '',
      "Before the rounds each server is warmed until a pass over the 100 ids runs the handler zero times; a verification pass with the row's Accept-Encoding then records Content-Encoding, Vary and the body bytes on the wire, " +
        "decodes every body and compares it with the handler's bytes, and counts the Redis commands per hit; a second pass sends no Accept-Encoding at all (the identity fallback). " +
        '"Redis bytes/entry" is `MEMORY USAGE <key> SAMPLES 0` of the variant\'s entry keys (`<prefix>:{items}:e:<id>`, found by SCAN under its prefix), median over the 100; the namespace\'s generation key is left out.',
      '',
      compressionTable(results.compression),
      '',
      compressionSummary(results.compression),
      '',
    );
  }

  if (results.l1Staleness) {
    const staleness = results.l1Staleness;
    push("## The in-process tier's staleness window under load", '');
    if (staleness.unavailable) push(`Not available: ${staleness.unavailable}`, '');
    else {
      const verdict = sameInstanceNeverStale(staleness);
      push(
        `Two server processes, A and B, each \`createCache({ redis, prefix, l1: { max: 1000, ttl: '30s' } })\` with the same prefix and its own Redis connection. ` +
          "GET /item (namespace `items`, ttl 1 h) answers `{ version }` read from a counter in Redis; on A, PUT /item increments the counter behind `cache.invalidate({ namespaces: ['items'] })`. " +
          `autocannon drives B's GET /item at ${config.connections} connections for ${config.stalenessLoadSeconds} s; after 1 s the orchestrator makes up to ${config.stalenessMutations} mutations, each starting at least ${config.stalenessSpacingMs} ms after the previous one: ` +
          'a PUT on A, the moment its response arrived noted, then B and A polled at once, each back to back over its own keep-alive connection, until the answer carries the new version.',
        '',
        "A window is the time from the PUT's response until the first fresh answer arrived, and 0 when the first poll was already fresh; it is an upper bound (it includes that last poll's round trip through a loaded server). " +
          '"Last stale poll sent" is the matching lower bound: the instance still served the old entry to a request sent that long after the PUT\'s response. ' +
          "The load generator shares the orchestrator's event loop with the pollers, so both include some of its delay. " +
          '"Redis cmds/GET, quiet" comes from 20 GETs before the load: 0 means answers come from the in-process tier, so the windows measure the tier\'s invalidation by pub/sub and not a Redis read ' +
          "(a lost message would show as a window of up to the tier's 30 s ttl; polling gives up at 5 s). Percentiles are nearest-rank: with 30 mutations, p95 is the second largest window.",
        '',
        stalenessTable(staleness),
        '',
        stalenessLoadLine(staleness, config.connections),
        '',
        `"A mutation on the same instance is never stale": ${verdict === null ? 'n/a' : verdict ? 'met' : '**not met**'} ` +
          `(${staleness.mutations.reduce((sum, mutation) => sum + mutation.a.staleReads, 0)} stale reads on A over ${staleness.mutations.length} mutations, each A poll sent right after the PUT's response).`,
        '',
      );
    }
  }

  if (results.shop) push(...shopSection(results.shop));

  push(
    '## Method',
    '',
    '- One run, one machine: every variant is forked as its own process (`node --import tsx bench/servers/<variant>.ts`, NODE_ENV=production) and reports its port over IPC; the load generator (autocannon, in the orchestrator) is never in a server process.',
    `- Before the rounds each server gets every id requested until a full pass over the 100 ids runs the origin handler zero times (the handler counts its calls; ours also says \`X-Cache: HIT\`), bodies are compared byte for byte, ` +
      (config.jitWarmSeconds > 0
        ? `then ${config.jitWarmSeconds} s of unmeasured load warms the JIT.`
        : 'and (quick mode) no unmeasured JIT warm-up follows.'),
    '- Rounds are interleaved (A B C … A B C …) and the starting variant rotates each round; "per-round range" ratios pair variants within the same round.',
    "- Latencies are recorded per response from autocannon's response events (autocannon's own histogram rounds to whole milliseconds).",
    '- All Redis keys live under one random prefix per run on the shared Redis and are removed with SCAN MATCH + UNLINK at the end; nothing is flushed or reconfigured.',
    `- Variants: ${HIT_VARIANTS.map((variant) => `\`${variant.name}\``).join(', ')} (bench/servers/); compression: ${COMPRESSION_VARIANTS.map((variant) => `\`${variant.name}\``).join(', ')} (bench/servers/compression-ours.ts); staleness: bench/servers/l1-staleness.ts.`,
    '',
  );
  return lines.join('\n');
}
