/**
 * Operational routes, never cached: GET /health (can the shop reach its
 * database and its cache store? 503 only for the database: without Redis the
 * shop still serves, uncached), GET /stats (the cache's counters and the
 * number of SQL statements sent so far) and GET /metrics (the Prometheus text
 * of the cache's metrics, and the process's when the server collects them).
 */
import { Router } from 'express';
import type Redis from 'ioredis';
import type { Registry } from 'prom-client';
import type { Db } from '../db';
import { methodGuard } from '../method-guard';
import type { ShopCache } from '../shop-cache';

/** Longest a health probe waits on the database. */
const probeTimeoutMs = 1000;
/** Longest it waits on Redis: the cache fails open, so a slow Redis must not make /health slow either. */
const cacheProbeTimeoutMs = 200;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function probe(check: () => Promise<unknown>, timeoutMs: number): Promise<{ ok: boolean; ms: number; error?: string }> {
  const started = performance.now();
  try {
    await withTimeout(check(), timeoutMs);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (error) {
    return { ok: false, ms: Math.round(performance.now() - started), error: (error as Error).message };
  }
}

/** The cache store's health: a client that is not connected answers at once, without queueing a PING. */
async function probeCache(redis: Redis | undefined): Promise<{ ok: boolean; ms: number; error?: string }> {
  if (!redis) return { ok: true, ms: 0 };
  if (redis.status !== 'ready') return { ok: false, ms: 0, error: `redis ${redis.status}` };
  return probe(() => redis.ping(), cacheProbeTimeoutMs);
}

/** Router of /health, /stats and, given a registry, /metrics; `redis` is the cache's client, absent with the in-memory store. */
export function systemRouter(db: Db, cache: ShopCache, redis?: Redis, registry?: Registry): Router {
  const router = Router();
  router.use(methodGuard(router));

  // 503 only when the database fails: with Redis down every route still serves (uncached), so the instance is
  // healthy and a load balancer must keep it; the body says the cache is bypassing.
  router.get('/health', async (_req, res) => {
    const [database, store] = await Promise.all([probe(() => db.query('SELECT 1'), probeTimeoutMs), probeCache(redis)]);
    res
      .status(database.ok ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({
        status: database.ok && store.ok ? 'ok' : 'degraded',
        database: { kind: db.kind, ...database },
        cache: { store: redis ? 'redis' : 'memory', mode: store.ok ? 'caching' : 'bypassing', ...store },
      });
  });

  router.get('/stats', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ cache: cache.stats(), database: { kind: db.kind, queries: db.queryCount } });
  });

  if (registry) {
    // Scraped by Prometheus; in production keep it off the public listener (an internal port or a network rule).
    router.get('/metrics', async (_req, res) => {
      const text = await registry.metrics();
      res.set('Content-Type', registry.contentType).set('Cache-Control', 'no-store').send(text);
    });
  }

  return router;
}
