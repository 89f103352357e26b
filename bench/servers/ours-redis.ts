// Variant "ours on Redis": express-cache-aside with an ioredis store, the
// route as an application would mount it.

import express from 'express';
import Redis from 'ioredis';
import { createCache } from 'express-cache-aside';
import { countCommands } from '../lib/command-counter';
import { itemHandler } from '../lib/origin';
import { runServer } from '../lib/server-main';

runServer(({ prefix, redisUrl }) => {
  // BENCH_AUTO_PIPELINING is set by the -pipelined variant, which is this server with that client option.
  const redis = new Redis(redisUrl, { enableAutoPipelining: process.env.BENCH_AUTO_PIPELINING === '1' });
  const cache = createCache({ redis, prefix });
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
