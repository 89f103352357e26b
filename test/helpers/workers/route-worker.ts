/**
 * A forked worker for the multi-process tests: one Node process with its own
 * caches on the shared Redis (same prefix as its siblings) and an Express app
 * on 127.0.0.1:<port 0>. The parent configures it over IPC, fires HTTP
 * requests at it, and asks it over IPC what its handlers did (when each call
 * started, and its global sequence number from a Redis INCR under the test's
 * prefix) and what its caches counted. Run it with
 * `fork(file, [], { execArgv: ['--import', 'tsx'] })`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Redis from 'ioredis';
import { createCache, type Cache, type CacheOptions, type CacheStats, type Logger } from 'express-cache-aside';

/** Cache options a test may tune per cache (everything but the client and prefix). */
export type WorkerCacheTuning = Pick<CacheOptions, 'lockWaitMs' | 'lockTtlMs' | 'refreshBackoffMs' | 'jitter' | 'timeoutMs' | 'ttl'>;

/**
 * What a route's handler does once its `handlerMs` have passed:
 * `body` answers JSON; `cookie` also sets a cookie unique to the call;
 * `fail-first` throws on the first call across all workers, answers JSON after.
 */
export type WorkerRouteKind = 'body' | 'cookie' | 'fail-first';

/** One cached GET route of the worker's app. */
export interface WorkerRouteSpec {
  path: string;
  /** Name of the cache (a key of WorkerConfig.caches) the route uses. */
  cache: string;
  namespace: string;
  key: string;
  ttl?: string | number;
  staleTtl?: string | number;
  handlerMs: number;
  kind: WorkerRouteKind;
}

/** What the parent sends to start a worker. */
export interface WorkerConfig {
  /** The worker's index, echoed in bodies. */
  index: number;
  redisUrl: string;
  prefix: string;
  caches: Record<string, WorkerCacheTuning>;
  routes: WorkerRouteSpec[];
  /** Print the caches' log lines at this level and above to stderr (for debugging a failing test). @default silent */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/** One handler call: when it started, and its sequence number across all workers. */
export interface WorkerCall {
  at: number;
  n: number;
}

/** What a worker reports when asked. */
export interface WorkerReport {
  calls: Record<string, WorkerCall[]>;
  stats: Record<string, CacheStats>;
}

/** The body the worker's handlers answer with. */
export interface WorkerBody {
  worker: number;
  n: number;
  token?: string;
}

/** Messages from the parent. */
export type ToWorker = { type: 'start'; config: WorkerConfig } | { type: 'report'; id: number };

/** Messages to the parent. */
export type FromWorker =
  | { type: 'ready'; port: number }
  | { type: 'report'; id: number; report: WorkerReport }
  | { type: 'failed'; message: string };

/** The Redis key holding the global call counter of a route, under the test's prefix (apart from the cache's keys). */
export function callCounterKey(prefix: string, path: string): string {
  return `${prefix}:test-calls:${path}`;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const levels = ['debug', 'info', 'warn', 'error'] as const;

/** Silent unless the config asks for a level: warnings would only be noise in the parent's output, the tests read stats instead. */
function workerLogger(config: WorkerConfig, cacheName: string): Logger {
  const threshold = config.logLevel === undefined ? levels.length : levels.indexOf(config.logLevel);
  const at =
    (level: (typeof levels)[number]) =>
    (obj: unknown, msg?: string): void => {
      if (levels.indexOf(level) < threshold) return;
      process.stderr.write(`[worker ${config.index} ${cacheName} ${level}] ${msg ?? ''} ${JSON.stringify(obj)}\n`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function send(message: FromWorker): void {
  process.send?.(message);
}

async function start(config: WorkerConfig): Promise<{ caches: Map<string, Cache>; calls: Record<string, WorkerCall[]> }> {
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  await redis.ping();
  const caches = new Map<string, Cache>();
  for (const [name, tuning] of Object.entries(config.caches)) {
    caches.set(name, createCache({ ...tuning, redis, prefix: config.prefix, logger: workerLogger(config, name) }));
  }
  const calls: Record<string, WorkerCall[]> = {};
  const app = express();
  app.get('/ping', (_req, res) => {
    res.json({ worker: config.index });
  });
  for (const spec of config.routes) {
    const cache = caches.get(spec.cache);
    if (!cache) throw new Error(`route ${spec.path}: no cache named ${spec.cache}`);
    const list: WorkerCall[] = [];
    calls[spec.path] = list;
    const counter = callCounterKey(config.prefix, spec.path);
    app.get(
      spec.path,
      cache.route({ namespace: spec.namespace, key: spec.key, ttl: spec.ttl, staleTtl: spec.staleTtl }),
      async (_req, res) => {
        const at = Date.now();
        const n = await redis.incr(counter);
        list.push({ at, n });
        await sleep(spec.handlerMs);
        const body: WorkerBody = { worker: config.index, n };
        if (spec.kind === 'fail-first' && n === 1) throw new Error(`leader failure in worker ${config.index}`);
        if (spec.kind === 'cookie') {
          body.token = `w${config.index}-n${n}`;
          res.cookie('session', body.token);
        }
        res.json(body);
      },
    );
  }
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  send({ type: 'ready', port: (server.address() as AddressInfo).port });
  return { caches, calls };
}

let running: Promise<{ caches: Map<string, Cache>; calls: Record<string, WorkerCall[]> }> | undefined;

process.on('message', (message: ToWorker) => {
  if (message.type === 'start') {
    running = start(message.config);
    running.catch((err: unknown) => send({ type: 'failed', message: String((err as Error)?.stack ?? err) }));
    return;
  }
  if (message.type === 'report') {
    void running?.then(({ caches, calls }) => {
      const stats: Record<string, CacheStats> = {};
      for (const [name, cache] of caches) stats[name] = cache.stats();
      send({ type: 'report', id: message.id, report: { calls, stats } });
    });
  }
});

// An orphaned worker must never outlive the test run.
process.on('disconnect', () => process.exit(0));
