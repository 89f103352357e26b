// Miss path through ours on Redis: the same 1 ms handler behind a route whose
// key is the request's unique `n`, so every request is a full miss (lookup,
// capture, background store). A short ttl bounds what lands in the shared Redis.

import express from 'express';
import Redis from 'ioredis';
import { createCache } from 'express-cache-aside';
import { countCommands } from '../lib/command-counter';
import { slowItemHandler } from '../lib/origin';
import { runServer } from '../lib/server-main';

runServer(({ prefix, redisUrl }) => {
  // BENCH_AUTO_PIPELINING is set by the -pipelined variant, which is this server with that client option.
  const redis = new Redis(redisUrl, { enableAutoPipelining: process.env.BENCH_AUTO_PIPELINING === '1' });
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
