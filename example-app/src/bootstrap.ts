/**
 * Starting the shop, apart from listening: pick the database (PostgreSQL when
 * a URL is given, embedded PGlite otherwise) and the cache store (Redis when a
 * URL is given, process memory otherwise) and say which, migrate, seed an empty
 * database, build the app and warm the cache. The server and the tests share it.
 */
import type { Express } from 'express';
import Redis from 'ioredis';
import { Registry } from 'prom-client';
import { createCache, type CacheOptions, type Logger as CacheLogger } from 'express-cache-aside';
import { createApp } from './app';
import type { InvalidationStrategy } from './invalidation-map';
import { cachePrefix } from './config';
import { createPgliteDb, openDb, withReadDelay, type Db } from './db';
import { cacheLoggerFrom, silentLogger, type Logger } from './logger';
import { migrate } from './migrations';
import { seedIfEmpty } from './seed';
import { moveEventsToToday, readSnapshot } from './seed-snapshot';
import type { ShopCache } from './shop-cache';

/** The reads warmed at startup: what a visitor sees first, and the counts. */
export const warmupTargets = [
  '/courses/published',
  '/products/published',
  '/events/upcoming',
  '/courses/count',
  '/products/count',
  '/events/count',
];

/** Where the shop's data and cache live; absent URLs mean the embedded defaults. */
export interface ShopOptions {
  databaseUrl?: string;
  redisUrl?: string;
  /** Cache key prefix. @default 'shop' */
  prefix?: string;
  logger?: Logger;
  /** Where the cache logs (pino's shape; decisions at debug). @default `logger`, without the debug lines */
  cacheLogger?: CacheLogger;
  /** Registry of the cache's metrics, served at GET /metrics. @default a new, empty Registry */
  registry?: Registry;
  /** Longest a request waits on Redis. @default the package's (100 ms), or CACHE_TIMEOUT_MS */
  cacheTimeoutMs?: number;
  /** The cache's in-process tier (`l1` of createCache). @default off */
  l1?: CacheOptions['l1'];
  /** Test-only: pause this long after every SELECT (see SHOP_READ_DELAY_MS). @default none */
  readDelayMs?: number;
  /** Embedded only: start PGlite from the prebuilt seed snapshot when it matches the code. @default true */
  useSnapshot?: boolean;
  /** How mutations clear the cache (INVALIDATION). @default 'tags' */
  invalidation?: InvalidationStrategy;
  /** Bearer token of the /admin routes (ADMIN_TOKEN); absent, they are not mounted. */
  adminToken?: string;
}

/** A started shop, ready to listen. */
export interface Shop {
  app: Express;
  db: Db;
  cache: ShopCache;
  redis: Redis | undefined;
  warmup: Awaited<ReturnType<ShopCache['warmup']>>;
  /** The registry GET /metrics serves. */
  registry: Registry;
  /** Closes the cache, the Redis client and the database. */
  close(): Promise<void>;
}

/** A URL with its password masked, fit for a log line. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * The database, logged as it starts. Embedded, a matching prebuilt seed snapshot skips PGlite's
 * initdb and the seed (seconds on a small machine); without one PGlite starts empty and is seeded.
 */
async function openDatabase(databaseUrl: string | undefined, useSnapshot: boolean, logger: Logger): Promise<Db> {
  if (databaseUrl) {
    logger.info('database: connecting to PostgreSQL');
    return openDb(databaseUrl);
  }
  const snapshot = useSnapshot ? readSnapshot() : { reason: 'snapshot not wanted' };
  if (!('load' in snapshot)) {
    logger.info(`database: starting PGlite on an empty database (${snapshot.reason}; the seed runs next)`);
    return createPgliteDb();
  }
  logger.info('database: starting PGlite from the prebuilt seed snapshot (example-app/snapshot/)');
  const started = performance.now();
  const db = await createPgliteDb(undefined, snapshot.load());
  await moveEventsToToday(db, snapshot.manifest.seededDay);
  logger.info(`database: PGlite ready from the snapshot in ${Math.round(performance.now() - started)} ms`);
  return db;
}

/** Opens, migrates, seeds and warms the shop. */
export async function startShop(options: ShopOptions = {}): Promise<Shop> {
  const { databaseUrl, redisUrl, prefix = cachePrefix, logger = silentLogger } = options;
  const cacheLogger = options.cacheLogger ?? cacheLoggerFrom(logger);
  const registry = options.registry ?? new Registry();
  logger.info(
    databaseUrl
      ? `database: PostgreSQL at ${redact(databaseUrl)}`
      : 'database: PGlite, PostgreSQL in WebAssembly inside this process, in memory (set DATABASE_URL to use a PostgreSQL server)',
  );
  logger.info(
    redisUrl ? `cache store: Redis at ${redact(redisUrl)}` : 'cache store: in-memory, this process only (set REDIS_URL to use Redis)',
  );

  const db = withReadDelay(await openDatabase(databaseUrl, options.useSnapshot ?? true, logger), options.readDelayMs);
  const redis = redisUrl ? new Redis(redisUrl) : undefined;
  // The cache fails open, so an unreachable Redis only costs cache hits: say so once per outage, not per retry.
  let redisDown = false;
  redis?.on('error', (error: Error) => {
    if (redisDown) return;
    redisDown = true;
    logger.warn('redis unreachable, serving uncached until it is back', { message: error.message });
  });
  redis?.on('ready', () => {
    if (!redisDown) return;
    redisDown = false;
    logger.info('redis reachable again');
  });
  const timeoutMs = options.cacheTimeoutMs ?? (process.env.CACHE_TIMEOUT_MS ? Number(process.env.CACHE_TIMEOUT_MS) : undefined);
  const cache = createCache({
    ...(redis ? { redis } : {}),
    prefix,
    logger: cacheLogger,
    metrics: { registry },
    ...(timeoutMs ? { timeoutMs } : {}),
    ...(options.l1 ? { l1: options.l1 } : {}),
  });
  const close = async (): Promise<void> => {
    await cache.close();
    // QUIT would wait in the offline queue for a Redis that is down; only a live connection gets one.
    if (redis?.status === 'ready') await redis.quit().catch(() => redis.disconnect());
    else redis?.disconnect();
    await db.close();
  };

  try {
    // Each step says when it starts, so a slow one is never a silent one.
    logger.info('migrations: applying what is not yet recorded');
    const applied = await migrate(db);
    logger.info(applied.length > 0 ? `migrations applied: ${applied.join(', ')}` : 'migrations: up to date');
    logger.info('seed: checking for an empty database');
    const started = performance.now();
    const seeded = await seedIfEmpty(db);
    logger.info(seeded ? `seeded an empty database in ${Math.round(performance.now() - started)} ms` : 'seed: database already has data');

    const app = createApp({ db, cache, logger, redis, registry, invalidation: options.invalidation, adminToken: options.adminToken });
    logger.info(`warmup: warming ${warmupTargets.length} targets`);
    // The cache logs the report itself: one line per target (status, ms, what the cache did), then the summary.
    const warmup = await cache.warmup(app, warmupTargets);
    return { app, db, cache, redis, warmup, registry, close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
