// Peer "route-cache (memory)": route-cache 0.7 with its default LRU store.

import express from 'express';
import * as routeCache from 'route-cache';
import { itemHandler } from '../lib/origin';
import { runServer } from '../lib/server-main';

runServer(() => {
  const app = express();
  app.get('/item/:id', routeCache.cacheSeconds(3600), itemHandler);
  return { app };
});
