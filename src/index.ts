/** express-cache-aside: route-level response caching for Express on Redis. */
export { createCache } from './create-cache';
export { CacheStoreError } from './errors';
export type { CacheStoreErrorCode } from './errors';
export type {
  Cache, CacheOptions, CacheStats, Duration, FromRequest, GetOrSetOptions, InvalidateOptions, Logger,
  NamespaceStats, RouteOptions, WarmupOptions, WarmupReport, WarmupResult, WarmupTarget,
} from './types';
