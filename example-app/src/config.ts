/**
 * Settings of the example shop in one place: how long each kind of cached
 * answer lives, the cache key prefix, the port, and the settings read from
 * the environment that are not URLs (the in-process tier, the invalidation strategy, a test-only read delay).
 */
import type { CacheOptions } from 'express-cache-aside';
import type { InvalidationStrategy } from './invalidation-map';

/** Time to live, in seconds, of each kind of cached answer. */
export const ttlSeconds = {
  products: 300,
  courses: 600,
  events: 600,
  perUser: 900,
  counts: 3600,
} as const;

/** Key prefix of the shop's cache entries in Redis (or in memory). */
export const cachePrefix = 'shop';

/** Port the server listens on when PORT is not set. */
export const defaultPort = 3000;

/** The in-process tier from CACHE_L1, a JSON object of `l1` options (`{"max":1000,"ttl":"5s"}`); off when unset. */
export function l1FromEnv(value: string | undefined): CacheOptions['l1'] {
  if (!value) return undefined;
  try {
    return JSON.parse(value) as CacheOptions['l1'];
  } catch {
    throw new TypeError(`CACHE_L1 must be a JSON object of l1 options, got ${JSON.stringify(value)}`);
  }
}

/**
 * SHOP_READ_DELAY_MS: a pause after every SELECT, before its rows are used. Test-only: it widens the window
 * between a read of the database and the answer built from it, so races with writes on other instances show.
 */
export function readDelayFromEnv(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Number(value);
  if (!Number.isFinite(ms) || ms < 0)
    throw new TypeError(`SHOP_READ_DELAY_MS must be a number of milliseconds, got ${JSON.stringify(value)}`);
  return ms;
}

/** INVALIDATION: `tags` (the default: clear exactly what a mutation changed) or `namespaces` (the map of before tags, for comparison). */
export function invalidationFromEnv(value: string | undefined): InvalidationStrategy {
  if (!value) return 'tags';
  if (value === 'tags' || value === 'namespaces') return value;
  throw new TypeError(`INVALIDATION must be tags or namespaces, got ${JSON.stringify(value)}`);
}
