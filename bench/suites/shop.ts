// Suite "shop": the example shop under a realistic load. Three
// instances of example-app on one PostgreSQL database (created from a seeded
// template for each variant and dropped after) and the shared Redis (a prefix
// of the run's own), the same seeded request sequence for each variant:
// namespace-only invalidation (the map of before tags, INVALIDATION=namespaces)
// against tags, and an oracle that clears exactly the changed entries
// (bench/lib/shop-oracle.ts). SQL statements are counted by the app itself
// (every statement through its Db, read from GET /stats before and after).

import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { Client } from 'pg';
import { createPostgresDb } from '../../example-app/src/db';
import { migrate } from '../../example-app/src/migrations';
import { seedIfEmpty } from '../../example-app/src/seed';
import { adminDatabaseUrl, databaseUrl } from '../../test/helpers/pg-database';
import { startShopProcess, type ShopProcess } from '../../test/helpers/shop-process';
import type { BenchConfig } from '../lib/config';
import { describeError } from '../lib/protocol';
import { rawRequest } from '../lib/raw-http';
import { formatMs, markdownTable } from '../lib/report';
import { percentile } from '../lib/stats';
import { CACHE_CODES, driveSequence, type DriveRecord } from '../lib/shop-driver';
import { runOracle, type OracleOutcome } from '../lib/shop-oracle';
import {
  CATALOGS,
  COUNT_PATHS,
  LIST_PATHS,
  READ_MIX,
  shopWorkload,
  type CatalogName,
  type ReadKind,
  type ShopRequest,
  type ShopSnapshot,
  type SnapshotItem,
} from '../lib/shop-workload';

/** The strategies run for real. */
export const SHOP_VARIANTS = [
  { name: 'namespaces', label: 'namespaces only (the map before tags)' },
  { name: 'tags', label: 'tags' },
] as const;

const INSTANCES = 3;
const ADMIN_TOKEN = `bench-${randomBytes(8).toString('hex')}`;
/** What the shop warms at startup (example-app/src/bootstrap.ts): cached before the first request, in every variant and the oracle. */
const WARM_PATHS = ['/courses/published', '/products/published', '/events/upcoming', '/courses/count', '/products/count', '/events/count'];

/** One measured variant. */
export interface ShopVariantOutcome {
  name: string;
  label: string;
  reads: number;
  hits: number;
  /** Reads the oracle serves from cache: entries read before and changed by no write since. */
  untouchedReads: number;
  untouchedHits: number;
  /** Untouched reads that missed while the entry's previous read was at most 2 × connections requests earlier (likely still filling). */
  untouchedMissesInFlight: number;
  /** Untouched reads that missed, per read class. */
  untouchedMissesByKind: Record<string, number>;
  /** SQL statements all instances sent during the sequence. */
  statements: number;
  readP50Ms: number;
  readP99Ms: number;
  writeP50Ms: number;
  seconds: number;
  /** X-Cache counts over the reads. */
  cacheCounts: Record<string, number>;
  /** Answers by status class over the whole sequence. */
  statusCounts: Record<string, number>;
  errors: number;
  /** Statements per request class, measured one request at a time after the run. */
  calibration: Record<string, number>;
  unavailable?: string;
}

/** The oracle's figures. */
export interface ShopOracleOutcome {
  reads: number;
  hits: number;
  coldMisses: number;
  changedMisses: number;
  uncacheable: number;
  statements: number;
}

/** The whole suite's outcome. */
export interface ShopOutcome {
  requests: number;
  reads: number;
  writes: Record<string, number>;
  connections: number;
  seed: number;
  variants: ShopVariantOutcome[];
  oracle?: ShopOracleOutcome;
  unavailable?: string;
}

async function withAdmin<T>(run: (client: Client) => Promise<T>, url = adminDatabaseUrl): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** The seeded shop's items, users and holdings, read from the template. */
async function readSnapshot(url: string): Promise<ShopSnapshot> {
  return withAdmin(async (client) => {
    const items = {} as Record<CatalogName, SnapshotItem[]>;
    const holders = {} as Record<CatalogName, Map<number, Set<number>>>;
    const extra = { courses: '', products: ', type', events: ', event_date > now() AS upcoming' };
    for (const catalog of Object.keys(CATALOGS) as CatalogName[]) {
      const { rows } = await client.query<SnapshotItem>(
        `SELECT id, slug, is_published AS published, deleted_at IS NOT NULL AS deleted${extra[catalog]} FROM ${catalog} ORDER BY id`,
      );
      items[catalog] = rows;
      const { held, column } = CATALOGS[catalog];
      const holdings = await client.query<{ item: number; user_id: number }>(`SELECT ${column} AS item, user_id FROM ${held}`);
      const byItem = new Map<number, Set<number>>();
      for (const row of holdings.rows) {
        const users = byItem.get(row.item) ?? new Set<number>();
        users.add(row.user_id);
        byItem.set(row.item, users);
      }
      holders[catalog] = byItem;
    }
    const users = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
    return { items, holders, userCount: users.rows[0]?.n ?? 0 };
  }, url);
}

async function statsOf(shop: ShopProcess): Promise<{ queries: number; cache: Record<string, unknown> }> {
  const res = await rawRequest(shop.port, '/stats');
  const body = JSON.parse(res.body.toString('utf8')) as { database: { queries: number }; cache: Record<string, unknown> };
  return { queries: body.database.queries, cache: body.cache };
}

async function totalQueries(shops: readonly ShopProcess[]): Promise<number> {
  let total = 0;
  for (const shop of shops) total += (await statsOf(shop)).queries;
  return total;
}

/** Statements one request costs, alone on instance 0: reads missed (after a clear-all) and hit, and each kind of write. */
async function calibrate(shop: ShopProcess, snapshot: ShopSnapshot): Promise<Record<string, number>> {
  const costs: Record<string, number> = {};
  const measure = async (name: string, method: string, path: string, body?: Record<string, unknown>, expectCache?: string) => {
    const before = (await statsOf(shop)).queries;
    const res = await oneRequest(shop.port, method, path, body);
    if (expectCache && res.cache !== expectCache)
      throw new Error(`calibration ${name}: ${method} ${path} answered X-Cache ${res.cache}, not ${expectCache}`);
    costs[name] = (await statsOf(shop)).queries - before;
    return res.status;
  };
  const clear = await rawRequest(shop.port, '/admin/cache/clear', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (clear.status !== 200) throw new Error(`calibration: POST /admin/cache/clear answered ${clear.status}`);
  const reads: Record<ReadKind, string> = {
    detail: '/courses/3',
    slug: `/courses/slug/${snapshot.items.courses.find((item) => item.id === 5)?.slug ?? 'missing'}`,
    list: '/courses',
    count: '/courses/count',
    holders: '/courses/3/enrollments/count',
    'user-list': '/users/3/enrollments',
  };
  for (const [kind, path] of Object.entries(reads)) {
    await measure(`read ${kind} (miss)`, 'GET', path, undefined, 'MISS');
    // The miss is stored after its answer: give the store a moment, then read it again.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await measure(`read ${kind} (hit)`, 'GET', path, undefined, 'HIT');
  }
  await measure('read 404', 'GET', '/courses/999999');
  await measure('PUT title', 'PUT', '/courses/3', { title: 'Calibrated title' });
  await measure('PUT price', 'PUT', '/courses/3', { price: 12.5 });
  await measure('POST create', 'POST', '/courses', {
    title: 'Calibration',
    slug: 'calibration-course',
    price: 1,
    duration_hours: 1,
    level: 'beginner',
  });
  await measure('DELETE', 'DELETE', '/courses/4');
  await measure('hold 201', 'POST', '/users/4999/enrollments', { course_id: 499 });
  await measure('hold 409', 'POST', '/users/4999/enrollments', { course_id: 499 });
  return costs;
}

/** One request outside the load, on a fresh connection: its status and X-Cache. */
function oneRequest(
  port: number,
  method: string,
  path: string,
  body?: Record<string, unknown>,
): Promise<{ status: number; cache: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const headers = payload ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {};
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cache: String(res.headers['x-cache'] ?? '') }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Summarises one variant's answers against the oracle's classification. */
function summarizeVariant(
  variant: (typeof SHOP_VARIANTS)[number],
  sequence: readonly ShopRequest[],
  record: DriveRecord,
  oracle: OracleOutcome,
  statements: number,
  calibration: Record<string, number>,
  connections: number,
): ShopVariantOutcome {
  const readLatencies: number[] = [];
  const writeLatencies: number[] = [];
  const cacheCounts: Record<string, number> = {};
  const statusCounts: Record<string, number> = {};
  let reads = 0;
  let hits = 0;
  let untouchedReads = 0;
  let untouchedHits = 0;
  let untouchedMissesInFlight = 0;
  const untouchedMissesByKind: Record<string, number> = {};
  const lastRead = new Map<string, number>();
  const inFlightWindow = 2 * connections;
  sequence.forEach((request, index) => {
    const statusClass = `${Math.floor((record.status[index] ?? 0) / 100)}xx`;
    statusCounts[statusClass] = (statusCounts[statusClass] ?? 0) + 1;
    if (!request.read) {
      writeLatencies.push(record.latencyMs[index] ?? NaN);
      return;
    }
    reads += 1;
    readLatencies.push(record.latencyMs[index] ?? NaN);
    const cache = CACHE_CODES[record.cache[index] ?? 0] || '(none)';
    cacheCounts[cache] = (cacheCounts[cache] ?? 0) + 1;
    const hit = cache === 'HIT' || cache === 'STALE';
    if (hit) hits += 1;
    if (oracle.hit[index] === 1) {
      untouchedReads += 1;
      if (hit) untouchedHits += 1;
      else {
        untouchedMissesByKind[request.read] = (untouchedMissesByKind[request.read] ?? 0) + 1;
        if (index - (lastRead.get(request.path) ?? -Infinity) <= inFlightWindow) untouchedMissesInFlight += 1;
      }
    }
    lastRead.set(request.path, index);
  });
  readLatencies.sort((a, b) => a - b);
  writeLatencies.sort((a, b) => a - b);
  return {
    name: variant.name,
    label: variant.label,
    reads,
    hits,
    untouchedReads,
    untouchedHits,
    untouchedMissesInFlight,
    untouchedMissesByKind,
    statements,
    readP50Ms: percentile(readLatencies, 0.5),
    readP99Ms: percentile(readLatencies, 0.99),
    writeP50Ms: percentile(writeLatencies, 0.5),
    seconds: record.seconds,
    cacheCounts,
    statusCounts,
    errors: record.errors,
    calibration,
  };
}

/** The oracle's statements: its misses at the measured cost of a miss of each class, and every write at its measured cost. */
function oracleStatements(
  oracle: OracleOutcome,
  sequence: readonly ShopRequest[],
  statuses: Uint16Array,
  costs: Record<string, number>,
): number {
  let total = 0;
  for (const [kind, misses] of Object.entries(oracle.missesByKind)) total += misses * (costs[`read ${kind} (miss)`] ?? NaN);
  total += oracle.uncacheable * (costs['read 404'] ?? NaN);
  sequence.forEach((request, index) => {
    const write = request.write;
    if (write === undefined) return;
    const status = statuses[index] ?? 0;
    const ok = status >= 200 && status < 300;
    // The oracle's writes cost what the write itself needs (the tags run's), with nothing spent on finding what to clear.
    const name = !ok
      ? 'hold 409'
      : write.type === 'update'
        ? 'PUT price'
        : write.type === 'delete'
          ? 'DELETE'
          : write.type === 'create'
            ? 'POST create'
            : 'hold 201';
    total += costs[name] ?? NaN;
  });
  return total;
}

/** Runs the namespace and tag variants on the same sequence, then the oracle. */
export async function runShop(config: BenchConfig, runPrefix: string): Promise<ShopOutcome> {
  const suffix = randomBytes(5).toString('hex');
  const template = `ecabench_shop_${suffix}_tpl`;
  const outcome: ShopOutcome = {
    requests: config.shopRequests,
    reads: 0,
    writes: {},
    connections: config.shopConnections,
    seed: config.shopSeed,
    variants: [],
  };
  const created: string[] = [];
  try {
    await withAdmin((client) => client.query(`CREATE DATABASE ${template}`));
    created.push(template);
    const seedDb = createPostgresDb(databaseUrl(template), { max: 2 });
    try {
      await migrate(seedDb);
      await seedIfEmpty(seedDb);
    } finally {
      await seedDb.close();
    }
    const snapshot = await readSnapshot(databaseUrl(template));
    const sequence = shopWorkload(snapshot, {
      seed: config.shopSeed,
      requests: config.shopRequests,
      editShare: 0.01,
      holdShare: 0.05,
      zipfExponent: 0.9,
    });
    outcome.reads = sequence.filter((request) => request.read).length;
    for (const request of sequence) {
      if (request.write) {
        const name = request.write.type === 'update' ? `update ${request.write.field}` : request.write.type;
        outcome.writes[name] = (outcome.writes[name] ?? 0) + 1;
      }
    }

    let tagsRun: { record: DriveRecord; calibration: Record<string, number> } | undefined;
    const records = new Map<string, { record: DriveRecord; statements: number; calibration: Record<string, number> }>();
    for (const variant of SHOP_VARIANTS) {
      const name = `ecabench_shop_${suffix}_${variant.name}`;
      await withAdmin((client) => client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
      created.push(name);
      const shops: ShopProcess[] = [];
      try {
        const started = await Promise.all(
          Array.from({ length: INSTANCES }, () =>
            startShopProcess({
              databaseUrl: databaseUrl(name),
              redisUrl: config.redisUrl,
              prefix: `${runPrefix}:shop-${variant.name}`,
              // A loaded 2-core machine can take Redis past the default 100 ms; BYPASS answers are counted either way.
              cacheTimeoutMs: 1000,
              env: { INVALIDATION: variant.name, ADMIN_TOKEN, NODE_ENV: 'production' },
            }),
          ),
        );
        shops.push(...started);
        const before = await totalQueries(shops);
        console.log(
          `[shop] ${variant.name}: ${sequence.length} requests over ${config.shopConnections} connections to ${INSTANCES} instances`,
        );
        const record = await driveSequence(
          shops.map((shop) => shop.port),
          sequence,
          config.shopConnections,
        );
        const statements = (await totalQueries(shops)) - before;
        const counters: Record<string, number> = {};
        for (const shop of shops) {
          for (const [name, value] of Object.entries((await statsOf(shop)).cache)) {
            if (typeof value === 'number') counters[name] = (counters[name] ?? 0) + value;
          }
        }
        console.log(`[shop] ${variant.name}: cache.stats() over the instances: ${JSON.stringify(counters)}`);
        console.log(`[shop] ${variant.name}: ${Math.round(record.seconds * 10) / 10} s, ${statements} SQL statements`);
        const calibration = await calibrate(shops[0]!, snapshot);
        records.set(variant.name, { record, statements, calibration });
        if (variant.name === 'tags') tagsRun = { record, calibration };
      } catch (error) {
        outcome.variants.push({ ...emptyVariant(variant), unavailable: describeError(error) });
        console.log(`[shop] ${variant.name} NOT AVAILABLE: ${describeError(error)}`);
      } finally {
        await Promise.all(shops.map((shop) => shop.stop()));
      }
    }

    if (tagsRun === undefined) {
      outcome.unavailable = 'the tags variant did not run, so the oracle has no write outcomes or costs to follow';
      return outcome;
    }
    const oracle = runOracle(snapshot, sequence, tagsRun.record.status, WARM_PATHS);
    outcome.oracle = {
      reads: oracle.reads,
      hits: oracle.hits,
      coldMisses: oracle.coldMisses,
      changedMisses: oracle.changedMisses,
      uncacheable: oracle.uncacheable,
      statements: oracleStatements(oracle, sequence, tagsRun.record.status, tagsRun.calibration),
    };
    for (const variant of SHOP_VARIANTS) {
      const run = records.get(variant.name);
      if (run)
        outcome.variants.push(
          summarizeVariant(variant, sequence, run.record, oracle, run.statements, run.calibration, config.shopConnections),
        );
    }
    outcome.variants.sort((a, b) => SHOP_VARIANTS.findIndex((v) => v.name === a.name) - SHOP_VARIANTS.findIndex((v) => v.name === b.name));
    return outcome;
  } catch (error) {
    outcome.unavailable = describeError(error);
    console.log(`[shop] NOT AVAILABLE: ${outcome.unavailable}`);
    return outcome;
  } finally {
    for (const name of created.reverse()) {
      await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => undefined);
    }
  }
}

function emptyVariant(variant: (typeof SHOP_VARIANTS)[number]): ShopVariantOutcome {
  return {
    name: variant.name,
    label: variant.label,
    reads: 0,
    hits: 0,
    untouchedReads: 0,
    untouchedHits: 0,
    untouchedMissesInFlight: 0,
    untouchedMissesByKind: {},
    statements: NaN,
    readP50Ms: NaN,
    readP99Ms: NaN,
    writeP50Ms: NaN,
    seconds: NaN,
    cacheCounts: {},
    statusCounts: {},
    errors: 0,
    calibration: {},
  };
}

const percent = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-');
const perThousand = (statements: number, reads: number): string =>
  reads > 0 && Number.isFinite(statements) ? ((1000 * statements) / reads).toFixed(1) : '-';

/** Statements of a variant over the oracle's. */
export function shopStatementRatio(outcome: ShopOutcome, name: string): number {
  const variant = outcome.variants.find((candidate) => candidate.name === name && !candidate.unavailable);
  return variant && outcome.oracle ? variant.statements / outcome.oracle.statements : NaN;
}

/** Share of the oracle's hits (reads of untouched entries) a variant served as hits. */
export function shopUntouchedHitRatio(outcome: ShopOutcome, name: string): number {
  const variant = outcome.variants.find((candidate) => candidate.name === name && !candidate.unavailable);
  return variant && variant.untouchedReads > 0 ? variant.untouchedHits / variant.untouchedReads : NaN;
}

/** The shop table of RESULTS.md. */
export function shopTable(outcome: ShopOutcome): string {
  const rows = outcome.variants.map((variant) => {
    if (variant.unavailable) return [variant.label, `not available: ${variant.unavailable}`, '', '', '', '', '', ''];
    return [
      variant.label,
      percent(variant.hits, variant.reads),
      percent(variant.untouchedHits, variant.untouchedReads),
      perThousand(variant.statements, variant.reads),
      `${(variant.statements / (outcome.oracle?.statements ?? NaN)).toFixed(2)}×`,
      formatMs(variant.readP50Ms),
      formatMs(variant.readP99Ms),
      `untouched misses ${variant.untouchedReads - variant.untouchedHits} (${Object.entries(variant.untouchedMissesByKind)
        .map(([kind, n]) => `${kind} ${n}`)
        .join(', ')}; ` +
        `${variant.untouchedMissesInFlight} within ${2 * outcome.connections} requests of the previous read); ` +
        Object.entries(variant.cacheCounts)
          .map(([name, count]) => `${name} ${count}`)
          .join(', ') +
        `; answers ${Object.entries(variant.statusCounts)
          .map(([name, count]) => `${name} ${count}`)
          .join(', ')}` +
        `; ${Math.round(outcome.requests / variant.seconds)} req/s` +
        (variant.errors ? `; ${variant.errors} errors` : ''),
    ];
  });
  if (outcome.oracle) {
    const oracle = outcome.oracle;
    rows.push([
      'oracle (clears exactly what changed; computed)',
      percent(oracle.hits, oracle.reads),
      '100.0% (by definition)',
      perThousand(oracle.statements, oracle.reads),
      '1.00×',
      '-',
      '-',
      `misses: ${oracle.coldMisses} first reads, ${oracle.changedMisses} after a change, ${oracle.uncacheable} 404s`,
    ]);
  }
  return markdownTable(
    [
      'variant',
      'hit ratio',
      'hits on untouched entries',
      'SQL statements / 1,000 reads',
      'SQL × oracle',
      'read p50 ms',
      'read p99 ms',
      'notes',
    ],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}

/** The statements per request class each variant measured, as a table. */
export function shopCalibrationTable(outcome: ShopOutcome): string {
  const live = outcome.variants.filter((variant) => !variant.unavailable);
  const names = [...new Set(live.flatMap((variant) => Object.keys(variant.calibration)))];
  return markdownTable(
    ['request', ...live.map((variant) => variant.label)],
    names.map((name) => [name, ...live.map((variant) => String(variant.calibration[name] ?? '-'))]),
    ['l', ...live.map(() => 'r' as const)],
  );
}

/** The request mix, for the method text. */
export function shopMixLine(outcome: ShopOutcome): string {
  const writes = Object.entries(outcome.writes)
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');
  const readShares = Object.entries(READ_MIX)
    .map(([kind, share]) => `${kind} ${share}%`)
    .join(', ');
  return (
    `${outcome.requests.toLocaleString('en-US')} requests (seed ${outcome.seed}): ${outcome.reads.toLocaleString('en-US')} reads (${readShares}; ` +
    `${LIST_PATHS.length} list routes, ${COUNT_PATHS.length} counts) and writes: ${writes}.`
  );
}

/** The shop's section of RESULTS.md (also copied into the README's notes). */
export function shopSection(outcome: ShopOutcome): string[] {
  const lines = ['## A shop under a realistic load', ''];
  if (outcome.unavailable) return [...lines, `Not available: ${outcome.unavailable}`, ''];
  const untouched = shopUntouchedHitRatio(outcome, 'tags');
  const ratio = shopStatementRatio(outcome, 'tags');
  lines.push(
    `Three instances of example-app (\`node --import tsx example-app/src/server.ts\`, NODE_ENV=production, CACHE_TIMEOUT_MS=1000) on one PostgreSQL database and the shared Redis (the run's own prefix), ` +
      'behind a round-robin split done by the load generator (request i goes to instance i mod 3). Each variant gets a fresh copy of the same seeded database ' +
      '(`CREATE DATABASE … TEMPLATE`, dropped after), a fresh Redis prefix, fresh processes (their startup warmup included), and the same request sequence, ' +
      `sent in order over ${outcome.connections} keep-alive connections: ${shopMixLine(outcome)} ` +
      'Items and users are chosen with Zipf(0.9) popularity over a seeded shuffle; edits pick items uniformly (update 80%: title, price or description; create 15%; soft delete 5%), ' +
      'holdings pick a Zipf user and a Zipf published item. 1% of requests are catalog edits and 5% enrollments, purchases and bookings.',
    '',
    shopTable(outcome),
    '',
    '- **Hit ratio**: X-Cache HIT (or STALE) over all reads, cold first reads included. ' +
      '**Hits on untouched entries**: over the reads the oracle serves from cache, i.e. of an entry read before and changed by no write since, the share this variant served as a hit. ' +
      '**SQL statements**: every statement the three instances sent during the sequence (the app counts each one through its Db; GET /stats before and after), writes included, per 1,000 reads.',
    '- **Oracle**: bench/lib/shop-oracle.ts replays the same sequence against a model of which rows each entry shows (details: the row, updated_at included; catalog lists: title and price of their rows; ' +
      "users' lists: their holdings and those items' titles; holder counts: the holdings), with each write's status from the tags run, and keeps an entry until a write really changed it. " +
      'Its statements are its misses at the statements a miss of that route costs, plus every write at what the write itself costs in the tags app, both measured one request at a time after the run (table below). ' +
      'It is sequential: the real runs, 16 requests at a time, also miss on an entry a concurrent request is still filling, which the oracle does not.',
    `- Goals: with tags, at least 95% hits on untouched entries: **${Number.isFinite(untouched) ? `${(100 * untouched).toFixed(1)}%, ${untouched >= 0.95 ? 'met' : 'not met'}` : 'n/a'}**; ` +
      `SQL statements within 1.2× of the oracle: **${Number.isFinite(ratio) ? `${ratio.toFixed(2)}×, ${ratio <= 1.2 ? 'met' : 'not met'}` : 'n/a'}**.`,
    '',
    'Statements per request, one request at a time on one instance after the run (reads after `POST /admin/cache/clear`, i.e. `cache.invalidateAll()`):',
    '',
    shopCalibrationTable(outcome),
    '',
  );
  return lines;
}
