/**
 * `createCache`: parses the options once, picks the store (Redis when a
 * client is given, process memory otherwise), and wires the middleware and
 * the programmatic calls to one engine.
 */
import type { RequestListener } from 'node:http';
import { Engine } from './engine';
import { createGetOrSet } from './get-or-set';
import { AppClient } from './internal-request';
import { L1Tier } from './l1-tier';
import { createMetricsObserver } from './metrics';
import { createInvalidate } from './invalidate';
import { checkNamespaceList, parseCacheOptions, parseDuration } from './options';
import { createRoute } from './route';
import { MemoryStore } from './stores/memory-store';
import { RedisStore } from './stores/redis-store';
import type { Cache, CacheOptions } from './types';
import { warmup } from './warmup';

/** Creates a cache. Invalid options throw a TypeError naming the option. */
export function createCache(options?: CacheOptions): Cache {
  const settings = parseCacheOptions(options);
  const store = settings.redis ? new RedisStore(settings.redis, settings.prefix) : new MemoryStore(settings.memory);
  const l1 = settings.l1 ? new L1Tier(settings.l1, settings.prefix, settings.redis, settings.logger) : undefined;
  const observer = settings.metrics ? createMetricsObserver(settings.metrics) : undefined;
  const engine = new Engine(settings, store, { l1, observer });
  const clients = new Map<RequestListener, AppClient>();
  const appClient = (app: RequestListener): AppClient => {
    let client = clients.get(app);
    if (!client) {
      client = new AppClient(app);
      clients.set(app, client);
    }
    return client;
  };
  const context = { engine, appClient };
  const timers = new Set<NodeJS.Timeout>();

  return {
    route: (routeOptions) => createRoute(context, routeOptions),
    invalidate: (invalidateOptions) => createInvalidate(engine, invalidateOptions),
    getOrSet: createGetOrSet(engine),
    async invalidateNamespaces(namespaces) {
      checkNamespaceList(namespaces, 'namespaces');
      await engine.clears.clear(namespaces);
    },
    warmup(app, targets, warmupOptions) {
      let everyMs: number | undefined;
      try {
        if (warmupOptions?.every !== undefined) everyMs = parseDuration('every', warmupOptions.every, { allowZero: false });
      } catch (err) {
        return Promise.reject(err);
      }
      const first = warmup(engine, appClient, app as RequestListener, targets, warmupOptions);
      if (everyMs === undefined) return first;
      let busy = true;
      const timer = setInterval(() => {
        if (engine.closed) return;
        if (busy) {
          settings.logger.info({}, 'express-cache-aside: periodic warmup skipped, the previous run is still going');
          return;
        }
        busy = true;
        warmup(engine, appClient, app as RequestListener, targets, warmupOptions)
          .catch((err: unknown) => settings.logger.error({ err: String(err) }, 'express-cache-aside: periodic warmup failed'))
          .finally(() => { busy = false; });
      }, everyMs);
      timer.unref();
      timers.add(timer);
      // A first run that rejects had bad arguments: nothing is scheduled.
      first.then(() => { busy = false; }, () => { clearInterval(timer); timers.delete(timer); });
      return first;
    },
    stats: () => engine.decisions.snapshot(),
    async close() {
      for (const timer of timers) clearInterval(timer);
      timers.clear();
      await engine.close();
      await Promise.all([...clients.values()].map((client) => client.close()));
      clients.clear();
    },
  };
}
