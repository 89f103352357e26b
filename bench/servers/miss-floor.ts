// Miss-path floor: the least a Redis-backed cache can do on a miss. One GET
// (nothing there: every request has its own `n`), the same 1 ms handler, and
// one SET of the body it sent, in the background (res.end is wrapped, the
// least capture there is). No generation, no lock, no envelope, no coalescing.

import express from 'express';
import Redis from 'ioredis';
import { countCommands } from '../lib/command-counter';
import { sendItemBody } from '../lib/body';
import { slowItemHandler } from '../lib/origin';
import { runServer } from '../lib/server-main';

runServer(({ prefix, redisUrl }) => {
  const redis = new Redis(redisUrl);
  const handler = slowItemHandler(1);
  const noop = (): void => {};
  const app = express();
  app.get('/miss', (req, res, next) => {
    const key = `${prefix}:miss:${String(req.query.n)}`;
    redis.getBuffer(key).then((found) => {
      if (found) {
        sendItemBody(res, found);
        return;
      }
      const end = res.end.bind(res) as (...args: unknown[]) => typeof res;
      res.end = ((chunk?: unknown, ...rest: unknown[]) => {
        if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) redis.set(key, chunk, 'PX', 1000).catch(noop);
        return end(chunk, ...rest);
      }) as typeof res.end;
      handler(req, res);
    }, next);
  });
  return {
    app,
    commandCounter: countCommands(redis, 'sendCommand'),
    close: async () => void (await redis.quit()),
  };
});
