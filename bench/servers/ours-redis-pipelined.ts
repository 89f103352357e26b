// Variant "ours on Redis, auto-pipelining": as ours-redis, with the ioredis
// option enableAutoPipelining (commands of one event-loop tick share a write).


import express from 'express';
import Redis from 'ioredis';
import { createCache } from 'express-cache-aside';
import { countCommands } from '../lib/command-counter';
import { itemHandler } from '../lib/origin';
import { runServer } from '../lib/server-main';

runServer(({ prefix, redisUrl }) => {
  const redis = new Redis(redisUrl, { enableAutoPipelining: true });
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
