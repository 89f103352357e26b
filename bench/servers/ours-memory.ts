// Variant "ours with the memory store": express-cache-aside without Redis,
// entries kept in this process.

import express from 'express';
import { createCache } from 'express-cache-aside';
import { itemHandler } from '../lib/origin';
import { runServer } from '../lib/server-main';

runServer(({ prefix }) => {
  const cache = createCache({ prefix });
  const app = express();
  app.get('/item/:id', cache.route({ namespace: 'items', key: (req) => String(req.params.id), ttl: '1h' }), itemHandler);
  return { app, stats: () => ({ ...cache.stats() }), close: () => cache.close() };
});
