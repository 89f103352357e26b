// Task "invalidation", forked by bench/suites/invalidation.ts: fills a
// namespace with N entries through cache.getOrSet, then times one
// cache.invalidateNamespaces([ns]). Every timed run starts from a freshly
// filled namespace (a second clear of the same one would find nothing to do).

import Redis from 'ioredis';
import { createCache } from 'express-cache-aside';
import { describeError, sendToParent as send } from '../lib/protocol';
import { scanKeys, unlinkPrefix } from '../lib/redis-keys';
import { median } from '../lib/stats';

/** The timings for one namespace size. */
export interface InvalidationSize {
  entries: number;
  runs: number;
  timesMs: number[];
  /** Keys under the cache's prefix after the first fill (should be >= entries). */
  keysAfterFill: number;
  fillSeconds: number;
  /** Every run: an entry read after the clear called its fetch again. */
  clearedEveryTime: boolean;
}

const FILL_CONCURRENCY = 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Awaits a call into the package, turning a promise that never settles into a reported failure. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Counts the keys under `prefix` until the count reaches `atLeast` and holds still (at most 10 s). */
async function settledKeyCount(redis: Redis, prefix: string, atLeast: number): Promise<number> {
  let previous = -1;
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const count = (await scanKeys(redis, prefix)).length;
    if (count >= atLeast && count === previous) return count;
    previous = count;
    await sleep(50);
  }
  return previous;
}

async function measure(redis: Redis, basePrefix: string, entries: number, runs: number): Promise<InvalidationSize> {
  const result: InvalidationSize = { entries, runs, timesMs: [], keysAfterFill: 0, fillSeconds: 0, clearedEveryTime: true };
  for (let run = 0; run < runs; run++) {
    // Zero-padded so no run's prefix is a prefix of another's (cleanup matches by prefix).
    const prefix = `${basePrefix}:n${entries}-r${String(run).padStart(3, '0')}`;
    // A generous store timeout: the fill is a burst of 1,000 concurrent writes.
    const cache = createCache({ redis, prefix, ttl: '10m', timeoutMs: 5000 });
    try {
      const fillStart = process.hrtime.bigint();
      for (let start = 0; start < entries; start += FILL_CONCURRENCY) {
        const batch: Promise<unknown>[] = [];
        for (let i = start; i < Math.min(entries, start + FILL_CONCURRENCY); i++) {
          batch.push(cache.getOrSet('items', String(i), async () => ({ id: i, name: `entry ${i}` })));
        }
        await within(60_000, `filling ${entries} entries (run ${run}): getOrSet`, Promise.all(batch));
      }
      // getOrSet stores in the background: wait until the writes have landed, so
      // the timed clear neither queues behind them nor races them.
      const keys = await settledKeyCount(redis, prefix, entries);
      if (run === 0) {
        result.fillSeconds = Number(process.hrtime.bigint() - fillStart) / 1e9;
        result.keysAfterFill = keys;
      }
      await redis.ping(); // the connection is idle and ready before the timed call

      const start = process.hrtime.bigint();
      await within(10_000, 'invalidateNamespaces', cache.invalidateNamespaces(['items']));
      result.timesMs.push(Number(process.hrtime.bigint() - start) / 1e6);

      let fetched = false;
      await within(
        10_000,
        'getOrSet after invalidation',
        cache.getOrSet('items', '0', async () => {
          fetched = true;
          return { id: 0, name: 'refetched' };
        }),
      );
      if (!fetched) result.clearedEveryTime = false;
    } finally {
      await within(10_000, 'cache.close()', cache.close());
      await unlinkPrefix(redis, prefix); // untimed: orphaned entries must not pile up in the shared Redis
    }
  }
  return result;
}

async function main(): Promise<void> {
  const basePrefix = process.env.BENCH_PREFIX;
  if (!basePrefix) throw new Error('BENCH_PREFIX is not set: run through bench/run.ts');
  const sizes = (process.env.INVALIDATION_SIZES ?? '10,1000,100000').split(',').map(Number);
  const runs = Number(process.env.INVALIDATION_RUNS ?? 50);
  const runsLarge = Number(process.env.INVALIDATION_RUNS_LARGE ?? 5);
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  try {
    const results: InvalidationSize[] = [];
    for (const entries of sizes) {
      console.log(`[invalidation] ${entries} entries: filling and clearing ${entries >= 100_000 ? runsLarge : runs} times`);
      const size = await measure(redis, basePrefix, entries, entries >= 100_000 ? runsLarge : runs);
      console.log(
        `[invalidation] ${entries} entries: done (fill ${size.fillSeconds.toFixed(1)} s, ${size.keysAfterFill} keys, median clear ${median(size.timesMs).toFixed(3)} ms)`,
      );
      results.push(size);
    }
    await send({ type: 'result', data: results });
  } finally {
    await unlinkPrefix(redis, basePrefix);
    await redis.quit();
  }
}

main().then(
  () => process.exit(0),
  async (error) => {
    await send({ type: 'failed', reason: describeError(error) });
    process.exit(1);
  },
);
