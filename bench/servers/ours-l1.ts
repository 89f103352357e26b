// Variant "ours with the in-process tier": ours on Redis plus `l1`, a small
// per-process copy of hot entries. If createCache rejects `l1` with a
// TypeError (not implemented yet), the variant reports "not available".

import express from 'express';
import Redis from 'ioredis';
import { createCache } from 'express-cache-aside';
import { countCommands } from '../lib/command-counter';
import { itemHandler } from '../lib/origin';
import { runServer } from '../lib/server-main';

runServer(async ({ prefix, redisUrl }) => {
  const redis = new Redis(redisUrl);
  // The option may not exist in the public types yet; pass it through untyped.
  const options: Parameters<typeof createCache>[0] & Record<string, unknown> = {
    redis,
    prefix,
    l1: { max: 1000, ttl: '1s' },
  };
  let cache: ReturnType<typeof createCache>;
  try {
    cache = createCache(options);
  } catch (error) {
    await redis.quit();
    throw error;
  }
  const app = express();
  app.get('/item/:id', cache.route({ namespace: 'items', key: (req) => String(req.params.id), ttl: '1h' }), itemHandler);
  return {
    app,
    stats: () => ({ ...cache.stats() }),
    commandCounter: countCommands(redis, 'sendCommand'),
    close: async () => {
      await cache.close();
      await redis.quit();
    },
  };
});
