/**
 * Options parsed once, at mount time: undefined values dropped, the rest
 * spread over the defaults and validated, so a bad option throws a TypeError
 * naming it when the app starts, never at request time.
 */
import { durationToMs } from './duration';
import type { CompressionSettings } from './compression';
import { CacheOptionError, type CacheOptionErrorCode } from './errors';
import type { L1Settings } from './l1-tier';
import type { MemoryStoreOptions } from './stores/memory-store';
import { MAX_TAGS_PER_ENTRY } from './stores/store';
import type {
  CacheOptions,
  FromRequest,
  GetOrSetOptions,
  InvalidateOptions,
  Logger,
  MetricsOptions,
  RouteOptions,
  WarmupOptions,
} from './types';
import type { IncomingHttpHeaders } from 'node:http';
import type { Request } from 'express';
import type { Cluster, Redis } from 'ioredis';

/** Settings of a cache after parsing. */
export interface CacheSettings {
  redis: Redis | Cluster | undefined;
  prefix: string;
  ttlMs: number;
  timeoutMs: number;
  /** How long a clear that finds the store disconnected waits for it to come back (0: not at all). */
  clearWaitMs: number;
  header: string | false;
  logger: Logger;
  /** Whether the user gave the logger (then debug lines go to it even without isLevelEnabled). */
  loggerGiven: boolean;
  lockWaitMs: number;
  lockTtlMs: number;
  refreshBackoffMs: number;
  jitter: number;
  breaker: BreakerSettings | false;
  memory: MemoryStoreOptions;
  l1: L1Settings | undefined;
  /** The public hosts (lower-cased; the first is the primary one), or undefined: every host is cached apart. */
  hosts: readonly string[] | undefined;
  metrics: (MetricsOptions & { prefix: string }) | undefined;
  compression: CompressionSettings | undefined;
}

/** Settings of the circuit breaker. */
export interface BreakerSettings {
  failures: number;
  cooldownMs: number;
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
  /** Tags of every entry, or the function that gives them once the response is known; undefined: none. */
  tags: RouteOptions['tags'];
}

/** Settings of one invalidating route after parsing. */
export interface InvalidateSettings {
  namespaces: InvalidateOptions['namespaces'];
  tags: InvalidateOptions['tags'];
  soft: boolean;
}

const consoleLogger: Logger = {
  debug() {},
  info() {},
  warn: (obj, msg) => console.warn('[express-cache-aside]', msg ?? '', obj),
  error: (obj, msg) => console.error('[express-cache-aside]', msg ?? '', obj),
};

/** An HTTP header name (RFC 9110 token): the cache's header, and the request headers a route varies on. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A Prometheus metric name prefix. */
const METRIC_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Throws the CacheOptionError of one option: `option "<option>" <problem>`. */
export function fail(option: string, problem: string, code: CacheOptionErrorCode = 'EOPTION_INVALID'): never {
  throw new CacheOptionError(option, code, `option "${option}" ${problem}`);
}

/** A host as the Host header carries it: no spaces, slashes, userinfo, query or fragment. */
const HOST_PATTERN = /^[^\s/@?#]+$/;

function defined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkKnown(options: object, known: readonly string[], where: string): void {
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) fail(name, `is not an option of ${where} (known: ${known.join(', ')})`, 'EOPTION_UNKNOWN');
  }
}

function checkObject(options: unknown, where: string, option = where): asserts options is Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new CacheOptionError(option, 'EOPTION_NOT_OBJECT', `${where} expects an options object`);
  }
}

/** A duration option in milliseconds; throws naming the option. */
export function parseDuration(option: string, value: unknown, { allowZero }: { allowZero: boolean }): number {
  const msValue = durationToMs(value);
  if (msValue === undefined || (!allowZero && msValue === 0)) {
    fail(
      option,
      `must be ${allowZero ? 'a non-negative' : 'a positive'} number of seconds or a duration string ` +
        `like '500ms', '30s', '10m', '1h', '1d' (got ${JSON.stringify(value)})`,
    );
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

const cacheOptionNames = [
  'redis',
  'prefix',
  'ttl',
  'timeoutMs',
  'clearWaitMs',
  'header',
  'logger',
  'lockWaitMs',
  'lockTtlMs',
  'refreshBackoffMs',
  'jitter',
  'breaker',
  'memory',
  'l1',
  'metrics',
  'compress',
  'hosts',
] as const;

/** `breaker`: defaults, `false` (off), or its two fields checked. */
function parseBreaker(input: unknown): CacheSettings['breaker'] {
  if (input === false) return false;
  if (input === undefined) return { failures: 5, cooldownMs: 1000 };
  checkObject(input, 'option "breaker"', 'breaker');
  checkKnown(input, ['failures', 'cooldownMs'], 'breaker');
  const b = defined(input);
  return {
    failures: b.failures === undefined ? 5 : positiveNumber('breaker.failures', b.failures, { integer: true }),
    cooldownMs: b.cooldownMs === undefined ? 1000 : positiveNumber('breaker.cooldownMs', b.cooldownMs),
  };
}

/** `memory`: the memory store's bounds. */
function parseMemory(input: unknown): MemoryStoreOptions {
  const memory: MemoryStoreOptions = { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 };
  if (input === undefined) return memory;
  checkObject(input, 'option "memory"', 'memory');
  checkKnown(input, ['maxEntries', 'maxBytes'], 'memory');
  const m = defined(input);
  return {
    maxEntries: m.maxEntries === undefined ? memory.maxEntries : positiveNumber('memory.maxEntries', m.maxEntries, { integer: true }),
    maxBytes: m.maxBytes === undefined ? memory.maxBytes : positiveNumber('memory.maxBytes', m.maxBytes, { integer: true }),
  };
}

/** `l1`: the in-process tier; 'acknowledged' needs a client whose PUBLISH counts subscribers. */
function parseL1(input: unknown, redis: unknown, timeoutOption: unknown): CacheSettings['l1'] {
  checkObject(input, 'option "l1"', 'l1');
  checkKnown(input, ['max', 'maxBytes', 'ttl', 'consistency'], 'l1');
  const t = defined(input);
  const consistency = t.consistency ?? 'delivered';
  if (consistency !== 'delivered' && consistency !== 'acknowledged') {
    fail('l1.consistency', `must be 'delivered' or 'acknowledged', got ${JSON.stringify(consistency)}`);
  }
  // PUBLISH on a Cluster counts only the receiving node's subscribers, so there is no count to wait for.
  if (consistency === 'acknowledged' && (redis as { isCluster?: unknown } | undefined)?.isCluster === true) {
    fail('l1.consistency', "'acknowledged' needs a Redis or Sentinel client, not a Cluster");
  }
  const timeoutMs = timeoutOption === undefined ? 100 : positiveNumber('timeoutMs', timeoutOption);
  return {
    max: t.max === undefined ? 1000 : positiveNumber('l1.max', t.max, { integer: true }),
    maxBytes: t.maxBytes === undefined ? 32 * 1024 * 1024 : positiveNumber('l1.maxBytes', t.maxBytes, { integer: true }),
    ttlMs: t.ttl === undefined ? 5000 : parseDuration('l1.ttl', t.ttl, { allowZero: false }),
    consistency,
    // Half the store bound, so the clear's SET and PUBLISH and the wait fit in timeoutMs together.
    ackTimeoutMs: Math.max(1, timeoutMs / 2),
  };
}

/** `compress`: off, on with the default threshold, or a threshold. */
function parseCompress(input: unknown): CacheSettings['compression'] {
  if (input === true) return { thresholdBytes: 1024 };
  if (input === undefined || input === false) return undefined;
  checkObject(input, 'option "compress"', 'compress');
  checkKnown(input, ['threshold'], 'compress');
  const c = defined(input);
  return {
    thresholdBytes: c.threshold === undefined ? 1024 : positiveNumber('compress.threshold', c.threshold, { integer: true }),
  };
}

/** `hosts`: the public hosts, lower-cased. */
function parseHosts(input: unknown): string[] {
  if (!Array.isArray(input) || input.length === 0 || !input.every((h) => typeof h === 'string' && HOST_PATTERN.test(h))) {
    fail('hosts', "must be a non-empty array of host names as the Host header carries them ('shop.example', 'localhost:3000')");
  }
  return (input as string[]).map((h) => h.toLowerCase());
}

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
  if (header !== false && (typeof header !== 'string' || !HEADER_NAME.test(header))) {
    fail('header', 'must be a valid HTTP header name or false');
  }
  if (o.logger !== undefined && !isLogger(o.logger)) fail('logger', 'must have debug, info, warn and error methods');
  const jitter = o.jitter ?? 0.1;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter < 1)) fail('jitter', 'must be a number from 0 (inclusive) to 1 (exclusive)');

  const breaker = parseBreaker(o.breaker);
  const memory = parseMemory(o.memory);
  const l1 = o.l1 === undefined ? undefined : parseL1(o.l1, o.redis, o.timeoutMs);
  const metrics = o.metrics === undefined ? undefined : parseMetricsOptions(o.metrics);
  const compression = parseCompress(o.compress);

  const clearWaitMs = o.clearWaitMs ?? 1000;
  if (typeof clearWaitMs !== 'number' || !Number.isFinite(clearWaitMs) || clearWaitMs < 0) {
    fail('clearWaitMs', `must be a non-negative number of milliseconds (got ${JSON.stringify(clearWaitMs)})`);
  }

  const hosts = o.hosts === undefined ? undefined : parseHosts(o.hosts);

  return {
    compression,
    hosts,
    l1,
    metrics,
    redis: o.redis,
    prefix,
    ttlMs: o.ttl === undefined ? 60_000 : parseDuration('ttl', o.ttl, { allowZero: false }),
    timeoutMs: o.timeoutMs === undefined ? 100 : positiveNumber('timeoutMs', o.timeoutMs),
    clearWaitMs,
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
    if (required) fail(option, 'is required: a string or a function (req) => string', 'EOPTION_REQUIRED');
    return;
  }
  if (typeof value === 'function') return;
  if (typeof value !== 'string' || value === '')
    fail(option, `must be a non-empty string or a function (req) => string (got ${JSON.stringify(value)})`);
}

const routeOptionNames = [
  'namespace',
  'key',
  'ttl',
  'staleTtl',
  'statuses',
  'maxBodyBytes',
  'query',
  'vary',
  'shared',
  'metricsLabel',
  'tags',
] as const;

/**
 * Checks a list of tags: an array of non-empty strings (data, never patterns), at most MAX_TAGS_PER_ENTRY
 * distinct when they tag an entry; empty only where it may be computed (`allowEmpty`). Throws naming the option.
 */
export function checkTagList(
  tags: unknown,
  option: string,
  {
    allowEmpty,
    perEntry,
    code = 'EOPTION_INVALID',
  }: {
    allowEmpty: boolean;
    perEntry: boolean;
    code?: CacheOptionErrorCode;
  },
): asserts tags is string[] {
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string' && t !== '')) {
    fail(option, `must be an array of non-empty strings (got ${JSON.stringify(tags)?.slice(0, 200)})`, code);
  }
  if (!allowEmpty && tags.length === 0) fail(option, 'must name at least one tag (an empty list tags nothing: leave the option out)', code);
  if (perEntry && new Set(tags).size > MAX_TAGS_PER_ENTRY)
    fail(option, `may name at most ${MAX_TAGS_PER_ENTRY} distinct tags per entry (got ${new Set(tags).size})`, code);
}

/** A static list or a function: checked at mount time when static; a function's result is checked when it is called. */
function checkTagsOption(value: unknown, option: string, perEntry: boolean): void {
  if (value === undefined || typeof value === 'function') return;
  checkTagList(value, option, { allowEmpty: false, perEntry });
}

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
    if (
      v !== undefined &&
      (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && s !== '' && (list === 'query' || HEADER_NAME.test(s))))
    ) {
      fail(list, `must be an array of ${list === 'query' ? 'query parameter names' : 'request header names'}`);
    }
  }
  if (o.shared !== undefined && typeof o.shared !== 'boolean') fail('shared', 'must be a boolean');
  if (o.metricsLabel !== undefined && (typeof o.metricsLabel !== 'string' || o.metricsLabel === ''))
    fail('metricsLabel', 'must be a non-empty string');
  if (o.maxBodyBytes !== undefined) positiveNumber('maxBodyBytes', o.maxBodyBytes, { integer: true });
  checkTagsOption(o.tags, 'tags', true);
  return {
    tags: Array.isArray(o.tags) ? (Object.freeze([...new Set(o.tags)]) as string[]) : o.tags,
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

/** Validates `cache.invalidate` options: `namespaces`, `tags` or both, and `soft`. */
export function parseInvalidateOptions(input: InvalidateOptions): InvalidateSettings {
  checkObject(input, 'cache.invalidate()');
  checkKnown(input, ['namespaces', 'tags', 'soft'], 'cache.invalidate()');
  const { namespaces, tags, soft } = defined(input) as InvalidateOptions;
  if (namespaces === undefined && tags === undefined) {
    fail('namespaces', 'or "tags" is required: a non-empty array of strings or a function (req) => string[]', 'EOPTION_REQUIRED');
  }
  if (namespaces !== undefined && typeof namespaces !== 'function') {
    if (!Array.isArray(namespaces) || namespaces.length === 0) {
      fail('namespaces', 'must be a non-empty array of namespace strings or a function (req) => string[]', 'EOPTION_REQUIRED');
    }
    checkNamespaceList(namespaces, 'namespaces');
  }
  checkTagsOption(tags, 'tags', false);
  if (soft !== undefined && typeof soft !== 'boolean') fail('soft', `must be a boolean (got ${JSON.stringify(soft)})`);
  return {
    namespaces: Array.isArray(namespaces) ? [...namespaces] : namespaces,
    tags: Array.isArray(tags) ? [...tags] : tags,
    soft: soft ?? false,
  };
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
    fail(option, `function must return a non-empty string (got ${JSON.stringify(result)})`, 'EOPTION_RESULT');
  }
  return result;
}

/** Validates `createCache({ metrics })` up to the registry, which metrics.ts checks once prom-client is loaded. */
export function parseMetricsOptions(input: unknown): MetricsOptions & { prefix: string } {
  checkObject(input, 'option "metrics"', 'metrics');
  checkKnown(input, ['registry', 'prefix'], 'metrics');
  const registry = input.registry;
  const prefix = input.prefix ?? 'express_cache_aside_';
  if (typeof prefix !== 'string' || !METRIC_PREFIX.test(prefix)) fail('metrics.prefix', 'must be a valid Prometheus metric name prefix');
  return { registry, prefix };
}

/** Settings of one `getOrSet` call after parsing. */
export interface GetOrSetSettings {
  ttlMs: number;
  staleTtlMs: number;
  tags: readonly string[];
}

const NO_TAGS: readonly string[] = Object.freeze([]);

/** Validates the arguments of `cache.getOrSet`; the ttl defaults to the cache's. */
export function parseGetOrSetArguments(
  namespace: unknown,
  key: unknown,
  fetch: unknown,
  options: GetOrSetOptions | undefined,
  defaultTtlMs: number,
): GetOrSetSettings {
  if (typeof namespace !== 'string' || namespace === '') fail('namespace', 'of getOrSet must be a non-empty string', 'EOPTION_REQUIRED');
  if (typeof key !== 'string' || key === '') fail('key', 'of getOrSet must be a non-empty string', 'EOPTION_REQUIRED');
  if (typeof fetch !== 'function') fail('fetch', 'of getOrSet must be a function', 'EOPTION_REQUIRED');
  if (options === undefined) return { ttlMs: defaultTtlMs, staleTtlMs: 0, tags: NO_TAGS };
  checkObject(options, 'getOrSet()', 'options');
  checkKnown(options, ['ttl', 'staleTtl', 'tags'], 'getOrSet()');
  if (options.tags !== undefined) checkTagList(options.tags, 'tags', { allowEmpty: false, perEntry: true });
  return {
    tags: options.tags ?? NO_TAGS,
    ttlMs: options.ttl === undefined ? defaultTtlMs : parseDuration('ttl', options.ttl, { allowZero: false }),
    staleTtlMs: options.staleTtl === undefined ? 0 : parseDuration('staleTtl', options.staleTtl, { allowZero: true }),
  };
}

/** Settings of one `warmup` call after parsing. */
export interface WarmupSettings {
  concurrency: number;
  /** The Host warmup requests carry (undefined: the cache's first public host, else localhost). */
  host: string | undefined;
  /** Headers every warmup request carries; a target's own headers win. */
  headers: IncomingHttpHeaders | undefined;
  /** Warm again this often (undefined: once). */
  everyMs: number | undefined;
}

function isWarmupTarget(t: unknown): boolean {
  if (typeof t === 'function') return true;
  const path = typeof t === 'string' ? t : typeof t === 'object' && t !== null ? (t as { path?: unknown }).path : undefined;
  return typeof path === 'string' && path.startsWith('/');
}

/** Validates the arguments of `cache.warmup`. */
export function parseWarmupArguments(app: unknown, targets: unknown, options: WarmupOptions | undefined): WarmupSettings {
  if (typeof app !== 'function') fail('app', 'of warmup must be the express app (a request handler function)', 'EOPTION_REQUIRED');
  if (!Array.isArray(targets)) fail('targets', 'of warmup must be an array');
  targets.forEach((t: unknown, i) => {
    if (!isWarmupTarget(t)) fail(`targets[${i}]`, "of warmup must be a path starting with '/', { path, headers }, or an async function");
  });
  const o = options ?? {};
  checkObject(o, 'warmup()', 'options');
  checkKnown(o, ['concurrency', 'every', 'host', 'headers'], 'warmup()');
  const concurrency: unknown = o.concurrency ?? 4;
  if (typeof concurrency !== 'number' || !Number.isInteger(concurrency) || concurrency < 1)
    fail('concurrency', 'must be a positive integer');
  if (o.host !== undefined && (typeof o.host !== 'string' || !HOST_PATTERN.test(o.host))) {
    fail('host', "must be a host as the Host header carries it ('shop.example', 'localhost:3000')");
  }
  if (o.headers !== undefined && (typeof o.headers !== 'object' || o.headers === null || Array.isArray(o.headers))) {
    fail('headers', 'must be an object of request headers');
  }
  return {
    concurrency,
    everyMs: o.every === undefined ? undefined : parseDuration('every', o.every, { allowZero: false }),
    host: o.host,
    headers: o.headers as IncomingHttpHeaders | undefined,
  };
}
