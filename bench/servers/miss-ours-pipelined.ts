// Miss path through ours on Redis with ioredis auto-pipelining (enableAutoPipelining):
// as miss-ours, the same 1 ms handler behind a route whose
// key is the request's unique `n`, so every request is a full miss (lookup,
// capture, background store). A short ttl bounds what lands in the shared Redis.

import express from 'express';
import Redis from 'ioredis';
import { createCache } from 'express-cache-aside';
import { countCommands } from '../lib/command-counter';
import { slowItemHandler } from '../lib/origin';
import { runServer } from '../lib/server-main';

runServer(({ prefix, redisUrl }) => {
  const redis = new Redis(redisUrl, { enableAutoPipelining: true });
  const cache = createCache({ redis, prefix });
  const app = express();
  app.get('/miss', cache.route({ namespace: 'miss', key: (req) => String(req.query.n), ttl: '1s' }), slowItemHandler(1));
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
