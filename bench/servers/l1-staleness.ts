// The l1-staleness suite's servers: two instances (L1_ROLE a and b) of one
// app sharing a cache prefix, each with the in-process tier. GET /item
// (namespace "items") answers { version } read from a counter in Redis; on
// instance a, PUT /item increments the counter behind cache.invalidate, so
// the parent can see how long each instance keeps serving the old version.
// POST /item/silent increments it without a clear: the control, which every
// instance must keep answering with the old version. Each instance notes when
// its tier dropped the namespace on a pub/sub message (from the cache's debug
// line), so the parent can place that moment against the PUT's response.

import express from 'express';
import { oursOnRedis } from '../lib/ours';
import { runServer } from '../lib/server-main';

/** When this process's tier dropped namespaces on a message (ms since the epoch, sub-millisecond). */
const dropTimesMs: number[] = [];

/**
 * A logger that keeps per-decision debug lines off (isLevelEnabled) but
 * still receives the tier's "dropped on a message" line, which is not gated.
 */
const logger = {
  isLevelEnabled: (level: string) => level !== 'debug',
  debug: (_fields: unknown, message?: string) => {
    if (message?.includes('l1 dropped namespaces on a message')) dropTimesMs.push(performance.timeOrigin + performance.now());
  },
  info: () => {},
  warn: (fields: unknown, message?: string) => console.warn(message, fields),
  error: (fields: unknown, message?: string) => console.error(message, fields),
};

runServer((context) => {
  const role = process.env.L1_ROLE;
  if (role !== 'a' && role !== 'b') throw new Error(`L1_ROLE must be a or b, got ${JSON.stringify(role)}`);
  // A longer tier ttl than the hits suite's: a lost message would then show as a window of seconds, not hide behind a quick expiry.
  const { redis, cache, serve } = oursOnRedis(context, { logger, l1: { max: 1000, ttl: '30s' } });
  const versionKey = `${context.prefix}:version`;

  let originCalls = 0;
  const app = express();
  app.get('/item', cache.route({ namespace: 'items', key: 'one', ttl: '1h' }), (_req, res, next) => {
    originCalls += 1;
    redis.get(versionKey).then((value) => res.json({ version: Number(value ?? 0) }), next);
  });
  if (role === 'a') {
    app.put('/item', cache.invalidate({ namespaces: ['items'] }), (_req, res, next) => {
      redis.incr(versionKey).then((version) => res.json({ version }), next);
    });
    app.post('/item/silent', (_req, res, next) => {
      redis.incr(versionKey).then((version) => res.json({ version }), next);
    });
  }
  return serve(app, () => ({ originCalls, dropTimesMs: [...dropTimesMs] }));
});
