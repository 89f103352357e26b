// The compression suite's servers: GET /large/:id (a ~20 KB JSON body) behind
// ours on Redis, in the mode COMPRESSION_MODE names:
//   once       createCache({ compress: true }): gzipped once when stored, hits send the stored gzip
//   middleware app.use(compression()) in front of ours without `compress`: every hit compressed on the fly
//   none       ours without any compression: plain 20 KB hits (the reference)

import compression from 'compression';
import express, { type Request, type Response } from 'express';
import { largeItemJson } from '../lib/large-body';
import { oursOnRedis } from '../lib/ours';
import { runServer } from '../lib/server-main';

runServer((context) => {
  const mode = process.env.COMPRESSION_MODE ?? '';
  if (!['once', 'middleware', 'none'].includes(mode))
    throw new Error(`COMPRESSION_MODE must be once, middleware or none, got ${JSON.stringify(mode)}`);
  const ours = oursOnRedis(context, mode === 'once' ? { compress: true } : {});

  // Counted here (not in lib/origin): the parent reads it from stats().extra to tell hits from misses.
  let originCalls = 0;
  const handler = (req: Request, res: Response): void => {
    originCalls += 1;
    res.type('application/json').send(largeItemJson(String(req.params.id)));
  };

  const app = express();
  // As the README says to mount it: before the cache, so the cache stores what the handler wrote.
  if (mode === 'middleware') app.use(compression());
  app.get('/large/:id', ours.cache.route({ namespace: 'items', key: (req) => String(req.params.id), ttl: '1h' }), handler);
  return ours.serve(app, () => ({ originCalls }));
});
