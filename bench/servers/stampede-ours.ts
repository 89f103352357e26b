// Issue 4's scenario: one hot entry expiring under load. A 20 ms handler
// behind ours on Redis with ttl 2 s and staleTtl from STAMPEDE_STALE_TTL;
// the handler records when it runs so the parent can count calls per expiry.

import express from 'express';
import Redis from 'ioredis';
import { createCache } from 'express-cache-aside';
import { originCallTimes, slowItemHandler } from '../lib/origin';
import { runServer } from '../lib/server-main';

runServer(({ prefix, redisUrl }) => {
  const raw = process.env.STAMPEDE_STALE_TTL ?? '5s';
  // "0" means seconds (a number); anything else is a duration string such as "5s".
  const staleTtl = /^\d+$/.test(raw) ? Number(raw) : raw;
  const redis = new Redis(redisUrl);
  const cache = createCache({ redis, prefix });
  const app = express();
  app.get('/hot', cache.route({ namespace: 'hot', key: 'one', ttl: '2s', staleTtl }), slowItemHandler(20, true));
  return {
    app,
    stats: () => ({ ...cache.stats(), callTimesMs: [...originCallTimes()] }),
    close: async () => {
      await cache.close();
      await redis.quit();
    },
  };
});
