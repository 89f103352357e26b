/**
 * cache.warmup with the store unreachable: a target whose answer said BYPASS
 * was served by its handler without the store, so nothing was warmed. The
 * report counts it as failed (with its status, `cache: 'BYPASS'` and an
 * error saying so), and its log line says `warmup failed`, as does the
 * summary's count. The same targets with the store up are ok.
 */
import express from 'express';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createCache, type Logger } from 'express-cache-aside';
import { freePort } from '../helpers/ports';
import { connectShared, closeSharedClients, deleteByPrefix, randomPrefix } from '../helpers/shared-redis';

/** A logger keeping its info lines as [message, fields]. */
function recordingLogger(): Logger & { infos: Array<[string, Record<string, unknown>]> } {
  const infos: Array<[string, Record<string, unknown>]> = [];
  const none = (): void => undefined;
  return {
    infos,
    debug: none,
    warn: none,
    error: none,
    info: (obj: object, msg?: string) => infos.push([msg ?? '', obj as Record<string, unknown>]),
  };
}

/** An app with two cached routes and the cache over `redis`. */
function appWith(redis: Redis, prefix: string, logger: Logger) {
  const cache = createCache({ redis, prefix, logger, timeoutMs: 100 });
  const app = express();
  app.get('/a', cache.route({ namespace: 'w' }), (_req, res) => {
    res.json({ a: 1 });
  });
  app.get('/b', cache.route({ namespace: 'w' }), (_req, res) => {
    res.json({ b: 2 });
  });
  return { cache, app };
}

describe('warmup with the store unreachable', function () {
  this.timeout(30_000);

  after(async () => {
    await closeSharedClients();
  });

  it('reports targets that answered BYPASS as not warmed, in the report and the log lines', async () => {
    const redis = new Redis(`redis://127.0.0.1:${await freePort()}`, { maxRetriesPerRequest: 1, lazyConnect: false });
    redis.on('error', () => undefined);
    const logger = recordingLogger();
    const { cache, app } = appWith(redis, randomPrefix('warm-down'), logger);
    try {
      const report = await cache.warmup(app, ['/a', '/b']);
      expect(report).to.include({ ok: 0, failed: 2 });
      for (const result of report.results) {
        expect(result).to.include({
          ok: false,
          status: 200,
          cache: 'BYPASS',
          error: 'answered BYPASS: the store was not used, nothing was stored',
        });
      }
      const lines = logger.infos.map(([msg]) => msg);
      expect(lines).to.include.members(['express-cache-aside: warmup failed /a', 'express-cache-aside: warmup failed /b']);
      expect(logger.infos.find(([msg]) => msg === 'express-cache-aside: warmup done')?.[1]).to.deep.equal({ ok: 0, failed: 2 });
    } finally {
      await cache.close();
      redis.disconnect();
    }
  });

  it('the same targets with the store up are ok (MISS, stored)', async () => {
    const redis = await connectShared();
    const prefix = randomPrefix('warm-up');
    const logger = recordingLogger();
    const { cache, app } = appWith(redis, prefix, logger);
    try {
      const report = await cache.warmup(app, ['/a', '/b']);
      expect(report).to.include({ ok: 2, failed: 0 });
      for (const result of report.results)
        expect(result).to.include({ ok: true, status: 200, cache: 'MISS' }).and.not.have.property('error');
    } finally {
      await cache.close();
      await deleteByPrefix(redis, prefix);
    }
  });
});
