// Ours on Redis as every bench/servers/ variant of it mounts it: one ioredis
// client, one cache on it, and the child hooks that report the cache's
// stats, count the client's commands and close the cache, then the client.

import type http from 'node:http';
import Redis, { type RedisOptions } from 'ioredis';
import { createCache, type Cache, type CacheOptions } from 'express-cache-aside';
import type { ServerContext, ServerSetup } from './server-main';
import { countCommands } from './command-counter';

/** A cache of ours on a fresh ioredis client, and how to hand an app on it to runServer. */
export interface OursOnRedis {
  redis: Redis;
  cache: Cache;
  /** The ServerSetup for `app`; `extraStats` adds fields next to cache.stats(). */
  serve(app: http.RequestListener, extraStats?: () => Record<string, unknown>): ServerSetup;
}

/** Creates the client (with `clientOptions`) and the cache (under the run's prefix, with `options`). */
export function oursOnRedis(
  { prefix, redisUrl }: ServerContext,
  options: Omit<CacheOptions, 'redis' | 'prefix'> = {},
  clientOptions: RedisOptions = {},
): OursOnRedis {
  const redis = new Redis(redisUrl, clientOptions);
  let cache: Cache;
  try {
    cache = createCache({ ...options, redis, prefix });
  } catch (error) {
    // A rejected option must not leave a connected client keeping the child alive.
    redis.disconnect();
    throw error;
  }
  return {
    redis,
    cache,
    serve: (app, extraStats) => ({
      app,
      stats: () => ({ ...cache.stats(), ...extraStats?.() }),
      commandCounter: countCommands(redis, 'sendCommand'),
      close: async () => {
        await cache.close();
        await redis.quit();
      },
    }),
  };
}
