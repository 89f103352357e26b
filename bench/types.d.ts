// Minimal type declarations for the untyped libraries the benchmark drives:
// only the members bench/ uses, so a wrong call still fails the type check.

declare module 'autocannon' {
  import { EventEmitter } from 'node:events';

  interface AutocannonRequest {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    setupRequest?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
  }

  interface AutocannonOptions {
    url: string;
    connections?: number;
    duration?: number;
    amount?: number;
    timeout?: number;
    pipelining?: number;
    requests?: AutocannonRequest[];
    excludeErrorStats?: boolean;
  }

  interface AutocannonResult {
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    '2xx': number;
    requests: { total: number; average: number };
    latency: { p50: number; p99: number; max: number };
  }

  interface AutocannonInstance extends EventEmitter, PromiseLike<AutocannonResult> {
    stop(): void;
  }

  function autocannon(options: AutocannonOptions): AutocannonInstance;
  export = autocannon;
}

declare module 'apicache' {
  import type { RequestHandler } from 'express';

  interface ApicacheOptions {
    redisClient?: unknown;
    defaultDuration?: string | number;
    statusCodes?: { include?: number[]; exclude?: number[] };
  }

  interface ApicacheInstance {
    middleware(duration?: string | number): RequestHandler;
    newInstance(options?: ApicacheOptions): ApicacheInstance;
  }

  const apicache: ApicacheInstance;
  export = apicache;
}

declare module 'express-redis-cache' {
  import type { EventEmitter } from 'node:events';
  import type { RequestHandler } from 'express';

  interface ExpressRedisCacheOptions {
    host?: string;
    port?: number | string;
    prefix?: string;
    expire?: number;
    client?: unknown;
  }

  interface ExpressRedisCache extends EventEmitter {
    client: { quit(callback?: () => void): void };
    route(options?: { name?: string; expire?: number } | string | number): RequestHandler;
  }

  function createExpressRedisCache(options?: ExpressRedisCacheOptions): ExpressRedisCache;
  export = createExpressRedisCache;
}

declare module 'route-cache' {
  import type { RequestHandler } from 'express';

  export function config(options: { cacheStore?: unknown; max?: number }): unknown;
  export function cacheSeconds(ttlSeconds: number, key?: string | ((req: import('express').Request) => string | false)): RequestHandler;
}

declare module 'route-cache/ioRedisStore' {
  import type Redis from 'ioredis';

  class IoRedisStore {
    constructor(client: Redis);
  }
  export = IoRedisStore;
}

declare module 'redis' {
  import type { EventEmitter } from 'node:events';

  /** The node-redis v3 callback client (the one apicache supports). */
  interface RedisClient extends EventEmitter {
    connected: boolean;
    quit(callback?: () => void): boolean;
  }

  export function createClient(options: { url?: string; host?: string; port?: number; prefix?: string }): RedisClient;
}
