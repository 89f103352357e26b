// Miss path through ours on Redis: the same 1 ms handler behind a route whose
// key is the request's unique `n`, so every request is a full miss (lookup,
// capture, background store). A short ttl bounds what lands in the shared Redis.

import express from 'express';
import { slowItemHandler } from '../lib/origin';
import { oursOnRedis } from '../lib/ours';
import { runServer } from '../lib/server-main';

runServer((context) => {
  // BENCH_AUTO_PIPELINING is set by the -pipelined variant, which is this server with that client option.
  const ours = oursOnRedis(context, {}, { enableAutoPipelining: process.env.BENCH_AUTO_PIPELINING === '1' });
  const app = express();
  app.get('/miss', ours.cache.route({ namespace: 'miss', key: (req) => String(req.query.n), ttl: '1s' }), slowItemHandler(1));
  return ours.serve(app);
});
