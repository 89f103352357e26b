// Peer "apicache (Redis)": apicache 1.6 on the node-redis v3 client it
// supports. (With an ioredis client it silently never caches: it checks a
// `connected` flag that ioredis does not have.)

import express from 'express';
import apicache from 'apicache';
import { createClient } from 'redis';
import { countCommands } from '../lib/command-counter';
import { itemHandler } from '../lib/origin';
import { runServer } from '../lib/server-main';

runServer(async ({ prefix, redisUrl }) => {
  // node-redis v3 prefixes every key argument, so apicache's keys (the URL) land under ours.
  const client = createClient({ url: redisUrl, prefix: `${prefix}:` });
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
  });
  client.on('error', (error: unknown) => console.error('apicache-redis: redis error', error));

  const cache = apicache.newInstance({ redisClient: client, defaultDuration: '1 hour' });
  const app = express();
  app.get('/item/:id', cache.middleware('1 hour'), itemHandler);
  return {
    app,
    commandCounter: countCommands(client, 'internal_send_command'),
    close: () => new Promise<void>((resolve) => void client.quit(() => resolve())),
  };
});
