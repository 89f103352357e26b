// Peer miss path: apicache 1.6 on node-redis v3 in front of the same 1 ms
// handler; every request has its own URL (`?n=`), so every one is a miss
// (apicache keys on the URL). Duration 1 s bounds what lands in the shared Redis.

import express from 'express';
import apicache from 'apicache';
import { createClient } from 'redis';
import { countCommands } from '../lib/command-counter';
import { slowItemHandler } from '../lib/origin';
import { runServer } from '../lib/server-main';

runServer(async ({ prefix, redisUrl }) => {
  const client = createClient({ url: redisUrl, prefix: `${prefix}:` });
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
  });
  client.on('error', (error: unknown) => console.error('miss-apicache-redis: redis error', error));
  const cache = apicache.newInstance({ redisClient: client, defaultDuration: '1 second' });
  const app = express();
  app.get('/miss', cache.middleware('1 second'), slowItemHandler(1));
  return {
    app,
    commandCounter: countCommands(client, 'internal_send_command'),
    close: () => new Promise<void>((resolve) => void client.quit(() => resolve())),
  };
});
