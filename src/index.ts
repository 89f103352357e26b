/** express-cache-aside: route-level response caching for Express on Redis. */
export { createCache } from './create-cache';
export { CacheOptionError, CacheStoreError } from './errors';
export type { CacheOptionErrorCode, CacheStoreErrorCode } from './errors';
export type {
  Cache,
  CacheOptions,
  CacheStats,
  Duration,
  FromRequest,
  GetOrSetOptions,
  InvalidateOptions,
  Logger,
  BypassReason,
  MetricsOptions,
  NamespaceStats,
  NotStoredReason,
  RouteOptions,
  WarmupOptions,
  WarmupReport,
  WarmupResult,
  WarmupTarget,
} from './types';
