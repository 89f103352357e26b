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
import { checkNamespaceList, checkTagList, fail, parseCacheOptions, parseWarmupArguments, type WarmupSettings } from './options';
import { PeriodicWarmups } from './periodic-warmup';
import { createRoute } from './route';
import { MemoryStore } from './stores/memory-store';
import { RedisStore } from './stores/redis-store';
import type { Cache, CacheOptions, WarmupReport } from './types';
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
  const periodic = new PeriodicWarmups(settings.logger, () => engine.closed);

  return {
    route: (routeOptions) => createRoute(context, routeOptions),
    invalidate: (invalidateOptions) => createInvalidate(engine, invalidateOptions),
    getOrSet: createGetOrSet(engine),
    async invalidateNamespaces(namespaces) {
      checkNamespaceList(namespaces, 'namespaces');
      await engine.clears.clear(namespaces);
    },
    async invalidateTags(tags, options) {
      checkTagList(tags, 'tags', { allowEmpty: true, perEntry: false });
      const soft = options?.soft ?? false;
      if (typeof soft !== 'boolean') fail('soft', `must be a boolean (got ${JSON.stringify(soft)})`);
      await engine.clears.clear([], { tags, soft });
    },
    async invalidateAll() {
      await engine.clears.clear([], { all: true });
    },
    warmup(app, targets, warmupOptions) {
      let parsed: WarmupSettings;
      try {
        parsed = parseWarmupArguments(app, targets, warmupOptions);
      } catch (err) {
        return Promise.reject(err);
      }
      const run = (): Promise<WarmupReport> => warmup(engine, appClient, app as RequestListener, targets, parsed);
      return parsed.everyMs === undefined ? run() : periodic.start(parsed.everyMs, run);
    },
    stats: () => engine.decisions.snapshot(),
    async close() {
      periodic.close();
      await engine.close();
      await Promise.all([...clients.values()].map((client) => client.close()));
      clients.clear();
    },
  };
}
