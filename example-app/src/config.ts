/**
 * Settings of the example shop in one place: how long each kind of cached
 * answer lives, the cache key prefix, and the port.
 */

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
