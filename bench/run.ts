// `npm run bench`: runs the suites (warm hits, miss path, invalidation,
// hot-entry expiry, compression, in-process tier staleness, the shop under load), writes bench/RESULTS.md and bench/results.svg, prints the
// table, and removes every Redis key the run wrote. Settings: bench/lib/config.ts.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { readConfig } from './lib/config';
import { loadAverage, machineInfo, packageVersions } from './lib/machine';
import { newRunPrefix, scanKeys, unlinkPrefix } from './lib/redis-keys';
import { resultsMarkdown, targets, type RunResults } from './results';
import { COMPRESSION_VARIANTS, compressionTable, runCompression } from './suites/compression';
import { hitsChart, hitsTable, runHits, HIT_VARIANTS } from './suites/hits';
import { runInvalidation } from './suites/invalidation';
import { runL1Staleness, stalenessTable } from './suites/l1-staleness';
import { MISS_VARIANTS, missTable, runMiss } from './suites/miss';
import { runShop, shopTable } from './suites/shop';
import { runStampede } from './suites/stampede';

const BENCH_DIR = __dirname;

async function main(): Promise<number> {
  const config = readConfig();
  const startedAt = new Date();
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`cannot reach Redis at ${config.redisUrl}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const runPrefix = newRunPrefix();

  // Ctrl-C: children exit on their own when the IPC channel closes; our keys must go too.
  process.once('SIGINT', () => {
    console.log("\ninterrupted: removing this run's Redis keys");
    void unlinkPrefix(redis, runPrefix).finally(() => process.exit(130));
  });

  const estimate =
    (config.suites.includes('hits')
      ? HIT_VARIANTS.length * ((config.rounds + Math.min(config.rounds, 3)) * (config.roundSeconds + 0.5) + config.jitWarmSeconds + 1)
      : 0) +
    (config.suites.includes('miss')
      ? MISS_VARIANTS.length * (2 * config.rounds * (config.roundSeconds + 0.5) + config.jitWarmSeconds)
      : 0) +
    (config.suites.includes('invalidation') ? (config.quick ? 15 : 60) : 0) +
    (config.suites.includes('stampede') ? 2 * (config.stampedeSeconds + 2) : 0) +
    (config.suites.includes('compression')
      ? COMPRESSION_VARIANTS.length * (config.rounds * (config.roundSeconds + 0.5) + config.jitWarmSeconds + 1)
      : 0) +
    (config.suites.includes('l1-staleness') ? config.stalenessLoadSeconds + 5 : 0) +
    (config.suites.includes('shop') ? (config.quick ? 45 : 150) : 0) +
    20;
  console.log(
    `bench: ${config.quick ? 'QUICK ' : ''}suites ${config.suites.join(', ')}; ${config.rounds} rounds × ${config.roundSeconds} s, ` +
      `${config.connections} connections; Redis prefix ${runPrefix}; about ${Math.ceil(estimate / 60)} min`,
  );

  const results: RunResults = {
    config,
    startedAt,
    elapsedSeconds: 0,
    machine: await machineInfo(redis),
    versions: packageVersions(),
    loadBefore: loadAverage(),
    loadAfter: '',
  };

  try {
    if (config.suites.includes('hits')) results.hits = await runHits(config, runPrefix, redis);
    if (config.suites.includes('miss')) results.miss = await runMiss(config, runPrefix);
    if (config.suites.includes('invalidation')) results.invalidation = await runInvalidation(config, runPrefix);
    if (config.suites.includes('stampede')) results.stampede = await runStampede(config, runPrefix);
    if (config.suites.includes('compression')) results.compression = await runCompression(config, runPrefix, redis);
    if (config.suites.includes('l1-staleness')) results.l1Staleness = await runL1Staleness(config, runPrefix);
    if (config.suites.includes('shop')) results.shop = await runShop(config, runPrefix);
  } finally {
    const removed = await unlinkPrefix(redis, runPrefix);
    const left = (await scanKeys(redis, runPrefix)).length;
    console.log(`removed ${removed} Redis keys under ${runPrefix}${left ? ` (${left} still there: written after the scan?)` : ''}`);
    await redis.quit();
  }

  results.loadAfter = loadAverage();
  results.elapsedSeconds = (Date.now() - startedAt.getTime()) / 1000;
  writeFileSync(path.join(BENCH_DIR, 'RESULTS.md'), resultsMarkdown(results));
  if (results.hits) {
    const subtitle = `${config.rounds} interleaved rounds × ${config.roundSeconds} s, ${config.connections} connections, ${startedAt.toISOString().slice(0, 10)}; shared machine: compare ratios`;
    writeFileSync(path.join(BENCH_DIR, 'results.svg'), hitsChart(results.hits, subtitle));
  }

  console.log('');
  if (results.hits) console.log(`${hitsTable(results.hits)}\n`);
  if (results.miss) console.log(`${missTable(results.miss, config.connections)}\n`);
  if (results.compression) console.log(`${compressionTable(results.compression)}\n`);
  if (results.l1Staleness && !results.l1Staleness.unavailable) console.log(`${stalenessTable(results.l1Staleness)}\n`);
  if (results.shop && !results.shop.unavailable) console.log(`${shopTable(results.shop)}\n`);
  for (const target of targets(results)) {
    console.log(
      `${target.met === null ? 'n/a ' : target.met ? 'MET ' : 'MISS'}  ${target.goal}: ${target.measured.toFixed(2)}×${target.note ? ` (${target.note})` : ''}`,
    );
  }
  console.log(`\nwrote bench/RESULTS.md${results.hits ? ' and bench/results.svg' : ''} in ${Math.round(results.elapsedSeconds)} s`);

  // A variant that is not optional failing to run is a broken benchmark, not a result.
  const broken = [
    // The in-process tier may legitimately be missing: createCache then rejects `l1` with a TypeError.
    ...(results.hits ?? [])
      .filter((outcome) => outcome.unavailable && !(outcome.variant.optional && /^TypeError\b.*\bl1\b/.test(outcome.unavailable)))
      .map((outcome) => outcome.variant.name),
    ...(results.miss ?? []).filter((outcome) => outcome.unavailable).map((outcome) => outcome.name),
    ...(results.invalidation?.unavailable ? ['invalidation'] : []),
    ...(results.stampede ?? []).filter((outcome) => outcome.unavailable).map((outcome) => outcome.name),
    ...(results.compression ?? []).filter((outcome) => outcome.unavailable).map((outcome) => outcome.variant.name),
    ...(results.l1Staleness?.unavailable ? ['l1-staleness'] : []),
    ...(results.shop?.unavailable ? ['shop'] : []),
    ...(results.shop?.variants ?? []).filter((variant) => variant.unavailable).map((variant) => `shop ${variant.name}`),
  ];
  if (broken.length) {
    console.error(`bench: these did not run: ${broken.join(', ')} (see RESULTS.md)`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
