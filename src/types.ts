/**
 * Public types of express-cache-aside: the options a user passes and the
 * shapes the cache returns. Nothing here has behaviour.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Cluster, Redis } from 'ioredis';
import type { Request, RequestHandler, Response } from 'express';

/** Seconds as a number, or a duration string: '500ms', '30s', '10m', '1h', '1d'. */
export type Duration = number | string;

/** Anything with pino's four levels. */
export interface Logger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

/** Options of `createCache`. */
export interface CacheOptions {
  /** The store: an ioredis `Redis` or `Cluster`. Without it entries live in process memory. */
  redis?: Redis | Cluster;
  /** Every key starts with it; caches with different prefixes never see each other's entries. @default 'cache' */
  prefix?: string;
  /** Default time to live. @default 60 */
  ttl?: Duration;
  /** Longest a request waits on the store before it is served uncached. @default 100 */
  timeoutMs?: number;
  /**
   * How long a mutation's clear waits for a store whose connection is down
   * (the client reconnecting) to come back, before the response leaves
   * uncleared: a reconnect shorter than this keeps read-your-writes across
   * instances. The response is held at most timeoutMs + clearWaitMs +
   * timeoutMs; 0 never waits. A store that is connected but slow is not waited for.
   * @default 1000
   */
  clearWaitMs?: number;
  /** Response header naming what the cache did, or false for none. @default 'X-Cache' */
  header?: string | false;
  /** Where decisions and store trouble are logged. @default warnings and errors to the console */
  logger?: Logger;
  /** How long a miss waits for another process that holds the fill lock. @default 500 */
  lockWaitMs?: number;
  /** Longest a fill or refresh lock is held. @default 5000 */
  lockTtlMs?: number;
  /** After a failed refresh (stale-if-error), how long before the origin is tried again for that entry. @default 5000 */
  refreshBackoffMs?: number;
  /** Fraction of ttl by which fresh lifetimes are shortened at random, so entries written together expire apart. @default 0.1 */
  jitter?: number;
  /** Stop trying the store for a while after consecutive failures, or false to always try. @default { failures: 5, cooldownMs: 1000 } */
  breaker?: { failures?: number; cooldownMs?: number } | false;
  /** Bound on entries of the in-memory store (used when no `redis` is given). @default { maxEntries: 10000, maxBytes: 64 MiB } */
  memory?: { maxEntries?: number; maxBytes?: number };
  /**
   * An in-process tier in front of Redis for the hottest entries, kept
   * coherent across instances by Redis pub/sub. Off by default.
   * `maxBytes` bounds the bodies it holds (an entry larger than it is never kept).
   * `consistency: 'acknowledged'` holds a clear's response until every
   * subscribed instance has acknowledged dropping the namespaces (at most half
   * of `timeoutMs`); `'delivered'` (the default) only publishes the message.
   * @default undefined ({ max: 1000, maxBytes: 32 MiB, ttl: '5s', consistency: 'delivered' } when given as {})
   */
  l1?: { max?: number; maxBytes?: number; ttl?: Duration; consistency?: 'delivered' | 'acknowledged' };
  /**
   * Prometheus metrics through prom-client (optional peer dependency): counters per namespace family and a store latency histogram.
   * @default none registered
   */
  metrics?: MetricsOptions;
  /**
   * Store compressible bodies of at least `threshold` bytes gzipped, and send them as they are to clients that accept gzip.
   * @default false ({ threshold: 1024 } when true)
   */
  compress?: boolean | { threshold?: number };
  /**
   * The public hosts, as the Host header carries them (port included when not the default). Requests for
   * any other host bypass the cache. The first is the primary host: warmup sends it by default.
   * Without it, every host has entries of its own and warmup sends `localhost`.
   * @default undefined
   */
  hosts?: string[];
}

/** Options of `createCache({ metrics })`. */
export interface MetricsOptions {
  /** A prom-client Registry the metrics are registered in. */
  registry: unknown;
  /** Prefix of metric names. @default 'express_cache_aside_' */
  prefix?: string;
}

/** A value, or a function of the request that gives it. */
export type FromRequest<T> = T | ((req: Request) => T);

/** Options of `cache.route`. */
export interface RouteOptions {
  /** Group of entries invalidated together. */
  namespace: FromRequest<string>;
  /** Identity of the entry inside its namespace. @default path plus the query string with its parameters sorted */
  key?: FromRequest<string>;
  /** @default the cache's ttl */
  ttl?: Duration;
  /** After ttl, how long a stale copy may still be served while one request refreshes it, or while the handler fails. @default 0 */
  staleTtl?: Duration;
  /** Statuses that are stored. @default [200] */
  statuses?: number[];
  /** Larger responses are passed through and not stored. @default 1048576 */
  maxBodyBytes?: number;
  /** Query parameters that form the default key; others are ignored. @default all, sorted */
  query?: string[];
  /**
   * Request headers whose values are folded (hashed) into the key. Naming `authorization` or `cookie` makes such requests cacheable per
   * credential.
   * @default []
   */
  vary?: string[];
  /**
   * Serve and store requests that carry Authorization as one shared entry. Only for responses that are the same for every user.
   * @default false
   */
  shared?: boolean;
  /** Metrics label of this route's decisions. @default the namespace's family: the part before the first ':' */
  metricsLabel?: string;
  /**
   * Tags the entry carries, decided once the response is known (a slug route can tag the id it found).
   * `cache.invalidate({ tags })` and `cache.invalidateTags()` clear every entry carrying a tag, in O(1).
   * @default none
   */
  tags?: string[] | ((req: Request, res: Response) => string[]);
}

/** Options of `cache.invalidate`. */
export interface InvalidateOptions {
  /** What to clear when the handler succeeds (2xx). A function is called after the handler, before the response is sent. */
  namespaces?: string[] | ((req: Request) => string[] | Promise<string[]>);
  /** Tags to clear when the handler succeeds (2xx), beside `namespaces` (either or both). */
  tags?: string[] | ((req: Request) => string[] | Promise<string[]>);
  /**
   * Mark the entries stale instead of dropping them: they are served STALE while one refresh runs, within
   * their `staleTtl`. Gives up read-your-writes for these entries. @default false
   */
  soft?: boolean;
}

/** Options of `cache.getOrSet`. */
export interface GetOrSetOptions {
  ttl?: Duration;
  staleTtl?: Duration;
  /** Tags the value carries: `cache.invalidateTags()` clears it. */
  tags?: string[];
}

/** A warmup target: a path, a path with request headers, or an async function (data warmup). */
export type WarmupTarget = string | { path: string; headers?: IncomingHttpHeaders } | (() => unknown);

/** Options of `cache.warmup`. */
export interface WarmupOptions {
  /** Targets warmed at once. @default 4 */
  concurrency?: number;
  /** Warm again on this interval (unref'd, stopped by close(); a run still going skips the next). @default once */
  every?: Duration;
  /** The Host the warmup requests carry, the public host real requests use. @default the cache's first `hosts`, else 'localhost' */
  host?: string;
  /** Request headers every target gets (X-Forwarded-Proto from your proxy, say); a target's own headers win. @default none */
  headers?: IncomingHttpHeaders;
}

/** What one warmup target did. */
export interface WarmupResult {
  target: string;
  ok: boolean;
  status?: number;
  ms: number;
  error?: string;
  /** The cache header the warmup request saw (MISS, HIT, BYPASS, ...). */
  cache?: string;
}

/** What `cache.warmup` did. */
export interface WarmupReport {
  ok: number;
  failed: number;
  results: WarmupResult[];
}

/**
 * Why a request or call was served around the cache (the debug line `BYPASS: <reason>`):
 * - `authorization`: the request carries credentials and the route is neither `shared` nor varies on them;
 * - `timeout`, `error`, `circuit-open`: the store did not answer in time, failed, or is skipped after repeated failures;
 * - `pending-clear`: a clear of the namespace has not reached the store yet;
 * - `closed`: after `cache.close()`;
 * - `store`: a background refresh could not reach the store.
 */
export type BypassReason = 'authorization' | 'timeout' | 'error' | 'circuit-open' | 'pending-clear' | 'closed' | 'store';

/**
 * Why an answer was not stored (the debug line `not stored: <reason>`):
 * - `set-cookie`; the status (`'404'`, `'500'`, …) when it is not in `statuses`; `cache-control` (`no-store`, `private`, `no-cache`);
 * - `too-large`; `head` (a HEAD answer has no body to store);
 * - `vary` / `vary:<header>`: the response varies on a request header the key does not hold;
 * - `reflects:<header>`: the body or a header echoes a request header such as `X-Forwarded-Host`;
 * - `incomplete`: the client went away, or the handler failed mid-response;
 * - `cleared while filling`: the namespace was cleared while the handler ran.
 */
export type NotStoredReason =
  | 'set-cookie'
  | `${number}`
  | 'cache-control'
  | 'too-large'
  | 'head'
  | 'vary'
  | `vary:${string}`
  | `reflects:${string}`
  | 'incomplete'
  | 'cleared while filling';

/** Counters of one namespace. */
export interface NamespaceStats {
  hits: number;
  misses: number;
  stale: number;
  bypasses: number;
  errors: number;
}

/** Counters of clears. */
export interface ClearStats {
  namespaces: number;
  tags: number;
  all: number;
  soft: number;
  failed: number;
}

/** Counters of the whole cache, and per namespace. */
export interface CacheStats extends NamespaceStats {
  /** Background refreshes of stale entries that ran. */
  refreshes: number;
  /** Misses that waited for another process's fill. */
  lockWaits: number;
  /** Of those, waits that ended without the entry. */
  lockTimeouts: number;
  /**
   * Clears this cache sent: `namespaces` and `tags` count the names cleared, `all` the calls of
   * invalidateAll, `soft` the soft clears, `failed` the clears the store did not take at first (then retried).
   */
  clears: ClearStats;
  namespaces: Record<string, NamespaceStats>;
}

/** The cache `createCache` returns. */
export interface Cache {
  /** Middleware for GET routes. */
  route(options: RouteOptions): RequestHandler;
  /** Middleware for PUT, PATCH, POST, DELETE routes. */
  invalidate(options: InvalidateOptions): RequestHandler;
  /** Cache-aside for data. */
  getOrSet<T>(namespace: string, key: string, fetch: () => T | Promise<T>, options?: GetOrSetOptions): Promise<T>;
  /** Clears namespaces: what the invalidate middleware does. */
  invalidateNamespaces(namespaces: string[]): Promise<void>;
  /**
   * Clears every entry that carries one of the tags, in O(1) per tag;
   * `soft` marks them stale instead (served STALE while one refresh runs).
   */
  invalidateTags(tags: string[], options?: { soft?: boolean }): Promise<void>;
  /** Makes everything under the cache's prefix unreachable at once, in O(1). */
  invalidateAll(): Promise<void>;
  /** Requests each target through the app itself, so entries land under the keys real requests use. */
  // biome-ignore lint/suspicious/noExplicitAny: any Express 4 or 5 app, or a plain http listener, must fit
  warmup(app: (req: any, res: any) => void, targets: WarmupTarget[], options?: WarmupOptions): Promise<WarmupReport>;
  /** Counters, totals and per namespace. */
  stats(): CacheStats;
  /** Stops timers and subscriptions; does not quit a client it was given. */
  close(): Promise<void>;
}
