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
  // BENCH_TAGS=n (set by the -tags-1 and -tags-8 variants) gives every entry n tags, one of them its own id.
  const tagCount = Number(process.env.BENCH_TAGS ?? 0);
  const tags =
    tagCount > 0
      ? (req: { params: { id?: unknown } }) => Array.from({ length: tagCount }, (_, i) => `t${i}:${String(req.params.id)}`)
      : undefined;
  app.get('/item/:id', ours.cache.route({ namespace: 'items', key: (req) => String(req.params.id), ttl: '1h', tags }), itemHandler);
  return ours.serve(app);
});
