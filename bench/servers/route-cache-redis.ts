// Peer "route-cache (Redis)": route-cache 0.7 with its ioredis store. The
// store writes bare keys, so the client's keyPrefix keeps them under ours.

import express from 'express';
import Redis from 'ioredis';
import * as routeCache from 'route-cache';
import IoRedisStore from 'route-cache/ioRedisStore';
import { countCommands } from '../lib/command-counter';
import { itemHandler } from '../lib/origin';
import { runServer } from '../lib/server-main';

runServer(({ prefix, redisUrl }) => {
  const redis = new Redis(redisUrl, { keyPrefix: `${prefix}:` });
  routeCache.config({ cacheStore: new IoRedisStore(redis) });
  const app = express();
  app.get('/item/:id', routeCache.cacheSeconds(3600), itemHandler);
  return {
    app,
    commandCounter: countCommands(redis, 'sendCommand'),
    close: async () => void (await redis.quit()),
  };
});
