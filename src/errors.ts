/**
 * The package's two error classes: CacheStoreError, a store that failed,
 * timed out, or is being skipped (it never reaches a client; it is counted,
 * logged and the request is served uncached); and CacheOptionError, a bad
 * option, thrown at mount time with the option and a code tests can assert.
 */

/** Codes of store failures. */
export type CacheStoreErrorCode = 'ECACHE_TIMEOUT' | 'ECACHE_UNAVAILABLE' | 'ECACHE_CIRCUIT_OPEN' | 'ECACHE_STORE' | 'ECACHE_CLOSED';

/** A store call that did not answer in time or failed. */
export class CacheStoreError extends Error {
  override readonly name = 'CacheStoreError';
  constructor(
    readonly code: CacheStoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Codes of option errors: an unknown option name, a required option left
 * out, a value of the wrong type or range, options that are not an object,
 * a missing optional peer dependency (prom-client), and a namespace or key
 * function that returned something other than a non-empty string.
 */
export type CacheOptionErrorCode =
  | 'EOPTION_UNKNOWN'
  | 'EOPTION_REQUIRED'
  | 'EOPTION_INVALID'
  | 'EOPTION_NOT_OBJECT'
  | 'EOPTION_PEER_MISSING'
  | 'EOPTION_RESULT';

/** A bad option: thrown at mount time (createCache, route, invalidate, getOrSet, warmup), still a TypeError, naming the option. */
export class CacheOptionError extends TypeError {
  override readonly name = 'CacheOptionError';
  constructor(
    /** The option, as a user writes it ('ttl', 'breaker.failures', 'warmup targets[2]'). */
    readonly option: string,
    readonly code: CacheOptionErrorCode,
    message: string,
  ) {
    super(`express-cache-aside: ${message}`);
  }
}
