// Peer miss path: route-cache 0.7 with its ioredis store in front of the same
// 1 ms handler; every request has its own URL (`?n=`), so every one is a miss.
// ttl 1 s bounds what lands in the shared Redis.

import express from 'express';
import Redis from 'ioredis';
import * as routeCache from 'route-cache';
import IoRedisStore from 'route-cache/ioRedisStore';
import { countCommands } from '../lib/command-counter';
import { slowItemHandler } from '../lib/origin';
import { runServer } from '../lib/server-main';

runServer(({ prefix, redisUrl }) => {
  const redis = new Redis(redisUrl, { keyPrefix: `${prefix}:` });
  routeCache.config({ cacheStore: new IoRedisStore(redis) });
  const app = express();
  app.get('/miss', routeCache.cacheSeconds(1), slowItemHandler(1));
  return {
    app,
    commandCounter: countCommands(redis, 'sendCommand'),
    close: async () => void (await redis.quit()),
  };
});
