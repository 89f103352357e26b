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
  const engine = new Engine(settings, store, l1);
  if (settings.metrics) engine.observer = createMetricsObserver(settings.metrics);
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
      await engine.clear(namespaces);
    },
    warmup(app, targets, warmupOptions) {
      const first = warmup(engine, appClient, app as RequestListener, targets, warmupOptions);
      if (warmupOptions?.every !== undefined) {
        const everyMs = parseDuration('every', warmupOptions.every, { allowZero: false });
        let running: Promise<unknown> = first;
        let busy = true;
        void first.finally(() => { busy = false; });
        const timer = setInterval(() => {
          if (busy || engine.closed) {
            settings.logger.info({}, 'express-cache-aside: periodic warmup skipped, the previous run is still going');
            return;
          }
          busy = true;
          running = warmup(engine, appClient, app as RequestListener, targets, warmupOptions)
            .catch((err: unknown) => settings.logger.error({ err: String(err) }, 'express-cache-aside: periodic warmup failed'))
            .finally(() => { busy = false; });
        }, everyMs);
        timer.unref();
        timers.add(timer);
        void running;
      }
      return first;
    },
    stats: () => engine.stats.snapshot(),
    async close() {
      for (const timer of timers) clearInterval(timer);
      timers.clear();
      await engine.close();
      await Promise.all([...clients.values()].map((client) => client.close()));
      clients.clear();
    },
  };
}
