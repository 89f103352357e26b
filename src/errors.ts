/**
 * The one error class of the package's runtime: a store that failed, timed
 * out, or is being skipped. It never reaches a client; it is counted, logged
 * and the request is served uncached.
 */

/** Codes of store failures. */
export type CacheStoreErrorCode = 'ECACHE_TIMEOUT' | 'ECACHE_UNAVAILABLE' | 'ECACHE_CIRCUIT_OPEN' | 'ECACHE_STORE' | 'ECACHE_CLOSED';

/** A store call that did not answer in time or failed. */
export class CacheStoreError extends Error {
  override readonly name = 'CacheStoreError';
  constructor(readonly code: CacheStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
