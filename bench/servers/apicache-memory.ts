// Peer "apicache (memory)": apicache 1.6 with its in-process store.

import express from 'express';
import apicache from 'apicache';
import { itemHandler } from '../lib/origin';
import { runServer } from '../lib/server-main';

runServer(() => {
  const cache = apicache.newInstance({ defaultDuration: '1 hour' });
  const app = express();
  app.get('/item/:id', cache.middleware('1 hour'), itemHandler);
  return { app };
});
