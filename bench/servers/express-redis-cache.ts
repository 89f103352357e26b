// Peer "express-redis-cache": express-redis-cache 1.1 with the node-redis
// client it bundles, entries as hashes under `<prefix>:<url>`.

import { once } from 'node:events';
import express from 'express';
import createExpressRedisCache from 'express-redis-cache';
import { countCommands } from '../lib/command-counter';
import { itemHandler } from '../lib/origin';
import { runServer } from '../lib/server-main';

runServer(async ({ prefix, redisUrl }) => {
  const url = new URL(redisUrl);
  const cache = createExpressRedisCache({ host: url.hostname, port: Number(url.port || 6379), prefix, expire: 3600 });
  // An EventEmitter 'error' without a listener would crash the server.
  cache.on('error', (error: unknown) => console.error('express-redis-cache: error', error));
  await once(cache, 'connected');

  const app = express();
  app.get('/item/:id', cache.route(), itemHandler);
  return {
    app,
    commandCounter: countCommands(cache.client, 'internal_send_command'),
    close: () => new Promise<void>((resolve) => cache.client.quit(() => resolve())),
  };
});
