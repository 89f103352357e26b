// Variant "ours with the in-process tier": ours on Redis plus `l1`, a small
// per-process copy of hot entries.

import express from 'express';
import { itemHandler } from '../lib/origin';
import { oursOnRedis } from '../lib/ours';
import { runServer } from '../lib/server-main';

runServer((context) => {
  const ours = oursOnRedis(context, { l1: { max: 1000, ttl: '1s' } });
  const app = express();
  app.get('/item/:id', ours.cache.route({ namespace: 'items', key: (req) => String(req.params.id), ttl: '1h' }), itemHandler);
  return ours.serve(app);
});
