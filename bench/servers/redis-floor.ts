// Variant "redis-floor": one ioredis getBuffer per request and res.end, with
// the bodies stored under plain keys at startup. The floor for any
// Redis-backed hit: a cache cannot do less work per request than this.

import express from 'express';
import Redis from 'ioredis';
import { ITEM_IDS, itemJson, sendItemBody } from '../lib/body';
import { countCommands } from '../lib/command-counter';
import { runServer } from '../lib/server-main';

runServer(async ({ prefix, redisUrl }) => {
  // BENCH_AUTO_PIPELINING is set by the -pipelined variant: the floor with the client option ours is compared under.
  const redis = new Redis(redisUrl, { enableAutoPipelining: process.env.BENCH_AUTO_PIPELINING === '1' });
  const keyOf = (id: string) => `${prefix}:item:${id}`;
  const pipeline = redis.pipeline();
  for (const id of ITEM_IDS) pipeline.set(keyOf(id), itemJson(id), 'EX', 3600);
  await pipeline.exec();

  const app = express();
  app.get('/item/:id', (req, res, next) => {
    redis.getBuffer(keyOf(String(req.params.id))).then((body) => sendItemBody(res, body), next);
  });
  return {
    app,
    commandCounter: countCommands(redis, 'sendCommand'),
    close: async () => void (await redis.quit()),
  };
});
