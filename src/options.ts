/**
 * Options parsed once, at mount time: undefined values dropped, the rest
 * spread over the defaults and validated, so a bad option throws a TypeError
 * naming it when the app starts, never at request time.
 */
import { durationToMs } from './duration';
import type { CacheOptions, FromRequest, InvalidateOptions, Logger, RouteOptions } from './types';
import type { Request } from 'express';
import type { Cluster, Redis } from 'ioredis';

/** Settings of a cache after parsing. */
export interface CacheSettings {
  redis: Redis | Cluster | undefined;
  prefix: string;
  ttlMs: number;
  timeoutMs: number;
  header: string | false;
  logger: Logger;
  /** Whether the user gave the logger (then debug lines go to it even without isLevelEnabled). */
  loggerGiven: boolean;
  lockWaitMs: number;
  lockTtlMs: number;
  refreshBackoffMs: number;
  jitter: number;
  breaker: { failures: number; cooldownMs: number } | false;
  memory: { maxEntries: number; maxBytes: number };
  l1: { max: number; ttlMs: number; consistency: 'delivered' | 'acknowledged'; ackTimeoutMs: number } | undefined;
  metrics: { registry: unknown; prefix?: string } | undefined;
  compression: { thresholdBytes: number } | undefined;
}

/** Settings of one cached route after parsing. */
export interface RouteSettings {
  namespace: FromRequest<string>;
  key: FromRequest<string> | undefined;
  ttlMs: number | undefined;
  staleTtlMs: number;
  statuses: ReadonlySet<number>;
  maxBodyBytes: number;
  query: readonly string[] | undefined;
  vary: readonly string[];
  shared: boolean;
  metricsLabel: string | undefined;
}

/** Settings of one invalidating route after parsing. */
export interface InvalidateSettings {
  namespaces: InvalidateOptions['namespaces'];
}

const consoleLogger: Logger = {
  debug() {},
  info() {},
  warn: (obj, msg) => console.warn('[express-cache-aside]', msg ?? '', obj),
  error: (obj, msg) => console.error('[express-cache-aside]', msg ?? '', obj),
};

function fail(option: string, problem: string): never {
  throw new TypeError(`express-cache-aside: option "${option}" ${problem}`);
}

function defined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkKnown(options: object, known: readonly string[], where: string): void {
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) fail(name, `is not an option of ${where} (known: ${known.join(', ')})`);
  }
}

function checkObject(options: unknown, where: string): asserts options is Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`express-cache-aside: ${where} expects an options object`);
  }
}

/** A duration option in milliseconds; throws naming the option. */
export function parseDuration(option: string, value: unknown, { allowZero }: { allowZero: boolean }): number {
  const msValue = durationToMs(value);
  if (msValue === undefined || (!allowZero && msValue === 0)) {
    fail(option, `must be ${allowZero ? 'a non-negative' : 'a positive'} number of seconds or a duration string like '500ms', '30s', '10m', '1h', '1d' (got ${JSON.stringify(value)})`);
  }
  return msValue;
}

function positiveNumber(option: string, value: unknown, { integer = false } = {}): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    fail(option, `must be a positive ${integer ? 'integer' : 'number'} (got ${JSON.stringify(value)})`);
  }
  return value;
}

function isLogger(value: unknown): value is Logger {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return ['debug', 'info', 'warn', 'error'].every((level) => typeof v[level] === 'function');
}

function isRedisLike(value: unknown): value is Redis | Cluster {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.mgetBuffer === 'function' && typeof v.defineCommand === 'function' && typeof v.status === 'string';
}

const cacheOptionNames = ['redis', 'prefix', 'ttl', 'timeoutMs', 'header', 'logger', 'lockWaitMs', 'lockTtlMs', 'refreshBackoffMs', 'jitter', 'breaker', 'memory', 'l1', 'metrics', 'compress'] as const;

/** Validates `createCache` options and fills in the defaults. */
export function parseCacheOptions(input: CacheOptions | undefined): CacheSettings {
  const raw = input ?? {};
  checkObject(raw, 'createCache()');
  checkKnown(raw, cacheOptionNames, 'createCache()');
  const o = defined(raw);

  if (o.redis !== undefined && !isRedisLike(o.redis)) fail('redis', 'must be an ioredis Redis or Cluster client');
  const prefix = o.prefix ?? 'cache';
  if (typeof prefix !== 'string' || prefix === '') fail('prefix', 'must be a non-empty string');
  if (/[{}]/.test(prefix)) fail('prefix', "must not contain '{' or '}' (they would change the Redis Cluster hash slot)");
  const header = o.header ?? 'X-Cache';
  if (header !== false && (typeof header !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(header))) {
    fail('header', 'must be a valid HTTP header name or false');
  }
  if (o.logger !== undefined && !isLogger(o.logger)) fail('logger', 'must have debug, info, warn and error methods');
  const jitter = o.jitter ?? 0.1;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter < 1)) fail('jitter', 'must be a number from 0 (inclusive) to 1 (exclusive)');

  let breaker: CacheSettings['breaker'] = { failures: 5, cooldownMs: 1000 };
  if (o.breaker === false) breaker = false;
  else if (o.breaker !== undefined) {
    checkObject(o.breaker, 'option "breaker"');
    checkKnown(o.breaker, ['failures', 'cooldownMs'], 'breaker');
    const b = defined(o.breaker);
    breaker = {
      failures: b.failures === undefined ? 5 : positiveNumber('breaker.failures', b.failures, { integer: true }),
      cooldownMs: b.cooldownMs === undefined ? 1000 : positiveNumber('breaker.cooldownMs', b.cooldownMs),
    };
  }
  let memory = { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 };
  if (o.memory !== undefined) {
    checkObject(o.memory, 'option "memory"');
    checkKnown(o.memory, ['maxEntries', 'maxBytes'], 'memory');
    const m = defined(o.memory);
    memory = {
      maxEntries: m.maxEntries === undefined ? memory.maxEntries : positiveNumber('memory.maxEntries', m.maxEntries, { integer: true }),
      maxBytes: m.maxBytes === undefined ? memory.maxBytes : positiveNumber('memory.maxBytes', m.maxBytes, { integer: true }),
    };
  }

  let l1: CacheSettings['l1'];
  if (o.l1 !== undefined) {
    checkObject(o.l1, 'option "l1"');
    checkKnown(o.l1, ['max', 'ttl', 'consistency'], 'l1');
    const t = defined(o.l1);
    const consistency = t.consistency ?? 'delivered';
    if (consistency !== 'delivered' && consistency !== 'acknowledged') {
      throw new TypeError(`express-cache-aside: option "l1.consistency" must be 'delivered' or 'acknowledged', got ${JSON.stringify(consistency)}`);
    }
    // PUBLISH on a Cluster counts only the receiving node's subscribers, so there is no count to wait for.
    if (consistency === 'acknowledged' && (o.redis as { isCluster?: unknown } | undefined)?.isCluster === true) {
      throw new TypeError('express-cache-aside: option "l1.consistency" \'acknowledged\' needs a Redis or Sentinel client, not a Cluster');
    }
    const timeoutMs = o.timeoutMs === undefined ? 100 : positiveNumber('timeoutMs', o.timeoutMs);
    l1 = {
      max: t.max === undefined ? 1000 : positiveNumber('l1.max', t.max, { integer: true }),
      ttlMs: t.ttl === undefined ? 5000 : parseDuration('l1.ttl', t.ttl, { allowZero: false }),
      consistency,
      // Half the store bound, so the clear's SET and PUBLISH and the wait fit in timeoutMs together.
      ackTimeoutMs: Math.max(1, timeoutMs / 2),
    };
  }

  if (o.metrics !== undefined) {
    checkObject(o.metrics, 'option "metrics"');
    checkKnown(o.metrics, ['registry', 'prefix'], 'metrics');
  }

  let compression: CacheSettings['compression'];
  if (o.compress === true) compression = { thresholdBytes: 1024 };
  else if (o.compress !== undefined && o.compress !== false) {
    checkObject(o.compress, 'option "compress"');
    checkKnown(o.compress, ['threshold'], 'compress');
    const c = defined(o.compress);
    compression = { thresholdBytes: c.threshold === undefined ? 1024 : positiveNumber('compress.threshold', c.threshold, { integer: true }) };
  }

  return {
    compression,
    l1,
    metrics: o.metrics as CacheSettings['metrics'],
    redis: o.redis,
    prefix,
    ttlMs: o.ttl === undefined ? 60_000 : parseDuration('ttl', o.ttl, { allowZero: false }),
    timeoutMs: o.timeoutMs === undefined ? 100 : positiveNumber('timeoutMs', o.timeoutMs),
    header,
    logger: o.logger ?? consoleLogger,
    loggerGiven: o.logger !== undefined,
    lockWaitMs: o.lockWaitMs === undefined ? 500 : positiveNumber('lockWaitMs', o.lockWaitMs),
    lockTtlMs: o.lockTtlMs === undefined ? 5000 : positiveNumber('lockTtlMs', o.lockTtlMs),
    refreshBackoffMs: o.refreshBackoffMs === undefined ? 5000 : positiveNumber('refreshBackoffMs', o.refreshBackoffMs),
    jitter,
    breaker,
    memory,
  };
}

function checkFromRequest(option: string, value: unknown, { required }: { required: boolean }): void {
  if (value === undefined) {
    if (required) fail(option, 'is required: a string or a function (req) => string');
    return;
  }
  if (typeof value === 'function') return;
  if (typeof value !== 'string' || value === '') fail(option, `must be a non-empty string or a function (req) => string (got ${JSON.stringify(value)})`);
}

const routeOptionNames = ['namespace', 'key', 'ttl', 'staleTtl', 'statuses', 'maxBodyBytes', 'query', 'vary', 'shared', 'metricsLabel'] as const;
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Validates `cache.route` options. */
export function parseRouteOptions(input: RouteOptions): RouteSettings {
  checkObject(input, 'cache.route()');
  checkKnown(input, routeOptionNames, 'cache.route()');
  const o = defined(input);
  checkFromRequest('namespace', o.namespace, { required: true });
  checkFromRequest('key', o.key, { required: false });
  const statuses = o.statuses ?? [200];
  if (!Array.isArray(statuses) || !statuses.every((s) => Number.isInteger(s) && s >= 100 && s <= 599)) {
    fail('statuses', `must be an array of HTTP status codes (integers 100-599) (got ${JSON.stringify(statuses)})`);
  }
  for (const list of ['query', 'vary'] as const) {
    const v = o[list];
    if (v !== undefined && (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && s !== '' && (list === 'query' || headerName.test(s))))) {
      fail(list, `must be an array of ${list === 'query' ? 'query parameter names' : 'request header names'}`);
    }
  }
  if (o.shared !== undefined && typeof o.shared !== 'boolean') fail('shared', 'must be a boolean');
  if (o.metricsLabel !== undefined && (typeof o.metricsLabel !== 'string' || o.metricsLabel === '')) fail('metricsLabel', 'must be a non-empty string');
  if (o.maxBodyBytes !== undefined) positiveNumber('maxBodyBytes', o.maxBodyBytes, { integer: true });
  return {
    namespace: o.namespace as FromRequest<string>,
    key: o.key,
    ttlMs: o.ttl === undefined ? undefined : parseDuration('ttl', o.ttl, { allowZero: false }),
    staleTtlMs: o.staleTtl === undefined ? 0 : parseDuration('staleTtl', o.staleTtl, { allowZero: true }),
    statuses: new Set(statuses),
    maxBodyBytes: o.maxBodyBytes ?? 1_048_576,
    query: o.query ? [...new Set(o.query)].sort() : undefined,
    vary: o.vary ? [...new Set(o.vary.map((h) => h.toLowerCase()))].sort() : [],
    shared: o.shared ?? false,
    metricsLabel: o.metricsLabel,
  };
}

/** Validates `cache.invalidate` options. */
export function parseInvalidateOptions(input: InvalidateOptions): InvalidateSettings {
  checkObject(input, 'cache.invalidate()');
  checkKnown(input, ['namespaces'], 'cache.invalidate()');
  const { namespaces } = input;
  if (typeof namespaces === 'function') return { namespaces };
  if (!Array.isArray(namespaces) || namespaces.length === 0) {
    fail('namespaces', 'is required: a non-empty array of namespace strings or a function (req) => string[]');
  }
  checkNamespaceList(namespaces, 'namespaces');
  return { namespaces: [...namespaces] };
}

/** Throws unless every item is a non-empty string. */
export function checkNamespaceList(namespaces: unknown, option: string): asserts namespaces is string[] {
  if (!Array.isArray(namespaces) || !namespaces.every((n) => typeof n === 'string' && n !== '')) {
    fail(option, `must be an array of non-empty strings (got ${JSON.stringify(namespaces)})`);
  }
}

/** A namespace or key computed from a request; a bad result is a programming error, reported like an option. */
export function resolveFromRequest(option: string, value: FromRequest<string>, req: Request): string {
  const result = typeof value === 'function' ? value(req) : value;
  if (typeof result !== 'string' || result === '') {
    fail(option, `function must return a non-empty string (got ${JSON.stringify(result)})`);
  }
  return result;
}
