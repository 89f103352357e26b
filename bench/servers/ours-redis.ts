// Variant "ours on Redis": express-cache-aside with an ioredis store, the
// route as an application would mount it.

import express from 'express';
import { itemHandler } from '../lib/origin';
import { oursOnRedis } from '../lib/ours';
import { runServer } from '../lib/server-main';

runServer((context) => {
  // BENCH_AUTO_PIPELINING is set by the -pipelined variant, which is this server with that client option.
  const ours = oursOnRedis(context, {}, { enableAutoPipelining: process.env.BENCH_AUTO_PIPELINING === '1' });
  const app = express();
  app.get('/item/:id', ours.cache.route({ namespace: 'items', key: (req) => String(req.params.id), ttl: '1h' }), itemHandler);
  return ours.serve(app);
});
