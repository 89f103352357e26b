// The compression suite's servers: GET /large/:id (a ~20 KB JSON body) behind
// ours on Redis, in the mode COMPRESSION_MODE names:
//   once       createCache({ compress: true }): gzipped once when stored, hits send the stored gzip
//   middleware app.use(compression()) in front of ours without `compress`: every hit compressed on the fly
//   none       ours without any compression: plain 20 KB hits (the reference)

import compression from 'compression';
import express, { type Request, type Response } from 'express';
import Redis from 'ioredis';
import { createCache } from 'express-cache-aside';
import { countCommands } from '../lib/command-counter';
import { largeItemJson } from '../lib/large-body';
import { runServer } from '../lib/server-main';

runServer(({ prefix, redisUrl }) => {
  const mode = process.env.COMPRESSION_MODE ?? '';
  if (!['once', 'middleware', 'none'].includes(mode)) throw new Error(`COMPRESSION_MODE must be once, middleware or none, got ${JSON.stringify(mode)}`);
  const redis = new Redis(redisUrl);
  const cache = createCache({ redis, prefix, ...(mode === 'once' ? { compress: true } : {}) });

  // Counted here (not in lib/origin): the parent reads it from stats().extra to tell hits from misses.
  let originCalls = 0;
  const handler = (req: Request, res: Response): void => {
    originCalls += 1;
    res.type('application/json').send(largeItemJson(String(req.params.id)));
  };

  const app = express();
  // As the README says to mount it: before the cache, so the cache stores what the handler wrote.
  if (mode === 'middleware') app.use(compression());
  app.get('/large/:id', cache.route({ namespace: 'items', key: (req) => String(req.params.id), ttl: '1h' }), handler);
  return {
    app,
    stats: () => ({ ...cache.stats(), originCalls }),
    commandCounter: countCommands(redis, 'sendCommand'),
    close: async () => {
      await cache.close();
      await redis.quit();
    },
  };
});
