// One hot entry expiring under load. A 20 ms handler behind ours on Redis
// with ttl 2 s and staleTtl from STAMPEDE_STALE_TTL; the handler records when
// it runs so the parent can count calls per expiry.

import express from 'express';
import { originCallTimes, slowItemHandler } from '../lib/origin';
import { oursOnRedis } from '../lib/ours';
import { runServer } from '../lib/server-main';

runServer((context) => {
  const raw = process.env.STAMPEDE_STALE_TTL ?? '5s';
  // "0" means seconds (a number); anything else is a duration string such as "5s".
  const staleTtl = /^\d+$/.test(raw) ? Number(raw) : raw;
  const ours = oursOnRedis(context);
  const app = express();
  app.get('/hot', ours.cache.route({ namespace: 'hot', key: 'one', ttl: '2s', staleTtl }), slowItemHandler(20, true));
  return ours.serve(app, () => ({ callTimesMs: [...originCallTimes()] }));
});
