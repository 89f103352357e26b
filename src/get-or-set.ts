/**
 * `cache.getOrSet`: cache-aside for data. Values go through v8's
 * serializer, so Date, Buffer, Map, Set and BigInt come back deep-equal.
 * Concurrent misses call fetch once per process (and once across processes
 * while the fill lock holds); a stale value is returned at once and
 * refreshed in the background; a store failure only means fetch is called.
 */
import { decodeValue, encodeValue, isResponse } from './entry-codec';
import type { Engine, FillTarget } from './engine';
import { parseDuration } from './options';
import type { GetOrSetOptions } from './types';

function checkArguments(namespace: unknown, key: unknown, fetch: unknown, options: unknown): void {
  if (typeof namespace !== 'string' || namespace === '') throw new TypeError('express-cache-aside: getOrSet namespace must be a non-empty string');
  if (typeof key !== 'string' || key === '') throw new TypeError('express-cache-aside: getOrSet key must be a non-empty string');
  if (typeof fetch !== 'function') throw new TypeError('express-cache-aside: getOrSet fetch must be a function');
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw new TypeError('express-cache-aside: getOrSet options must be an object');
  for (const name of Object.keys(options ?? {})) {
    if (name !== 'ttl' && name !== 'staleTtl') throw new TypeError(`express-cache-aside: option "${name}" is not an option of getOrSet() (known: ttl, staleTtl)`);
  }
}

/** Cache-aside for data through an engine. */
export function createGetOrSet(engine: Engine) {
  const refreshing = new Set<string>();

  const store = (namespace: string, key: string, fill: FillTarget | undefined, value: unknown, ttlMs: number, staleMs: number): { payload: Buffer; written: Promise<boolean> } | null => {
    const now = Date.now();
    const freshMs = engine.freshMs(ttlMs);
    let payload: Buffer;
    try {
      payload = encodeValue(value, { storedAt: now, freshUntil: now + freshMs, staleUntil: now + freshMs + staleMs });
    } catch (err) {
      // Functions and other values v8 cannot clone are returned, just not cached.
      engine.settings.logger.warn({ namespace, key, err: String(err) }, 'express-cache-aside: getOrSet value cannot be serialized; not cached');
      return null;
    }
    return { payload, written: fill ? engine.write(namespace, key, fill, payload, freshMs + staleMs) : Promise.resolve(false) };
  };

  const refresh = (namespace: string, key: string, fetch: () => unknown, ttlMs: number, staleMs: number): void => {
    const id = `${namespace}\0${key}`;
    if (refreshing.has(id)) return;
    refreshing.add(id);
    void (async () => {
      const token = await engine.lock(namespace, key, 'refresh');
      if (!token) return;
      const fill = await engine.prepareFill(namespace, key, false, 0);
      if (fill === undefined) return;
      engine.stats.refreshes++;
      try {
        const stored = store(namespace, key, fill, await fetch(), ttlMs, staleMs);
        if (stored) await stored.written;
        engine.unlock(namespace, key, 'refresh', token);
      } catch (err) {
        engine.settings.logger.warn({ namespace, key, err: String(err) }, 'express-cache-aside: background refresh failed; serving stale');
        engine.hold(namespace, key, 'refresh', token, engine.settings.refreshBackoffMs);
      }
    })().finally(() => refreshing.delete(id));
  };

  return async function getOrSet<T>(namespace: string, key: string, fetch: () => T | Promise<T>, options?: GetOrSetOptions): Promise<T> {
    checkArguments(namespace, key, fetch, options);
    const ttlMs = options?.ttl === undefined ? engine.settings.ttlMs : parseDuration('ttl', options.ttl, { allowZero: false });
    const staleMs = options?.staleTtl === undefined ? 0 : parseDuration('staleTtl', options.staleTtl, { allowZero: true });

    const hot = engine.peek(namespace, key);
    if (hot !== undefined && !isResponse(hot)) {
      engine.record('hits', namespace, key);
      return decodeValue<T>(hot);
    }
    const found = await engine.lookup(namespace, key);
    if (found.state === 'bypass') {
      engine.record('bypasses', namespace, key);
      return fetch();
    }
    if (found.payload !== null && !isResponse(found.payload)) {
      if (found.state === 'hit') {
        engine.record('hits', namespace, key);
        return decodeValue<T>(found.payload);
      }
      engine.record('stale', namespace, key);
      refresh(namespace, key, fetch, ttlMs, staleMs);
      return decodeValue<T>(found.payload);
    }

    let fetched: { value: T } | undefined;
    const { leader, result } = engine.coalesce('value', namespace, key, async () => {
      const fill = await engine.prepareFill(namespace, key, true, found.seq);
      if (fill?.landed && !isResponse(fill.landed)) return fill.landed;
      const token = fill?.token;
      if (fill && token === null) {
        const payload = await engine.waitForFill(namespace, key);
        if (payload !== null && !isResponse(payload)) return payload;
      }
      try {
        fetched = { value: await fetch() };
        const stored = store(namespace, key, fill, fetched.value, ttlMs, staleMs);
        // A stored value's write releases the lock itself; otherwise release it now.
        if (token && !stored) engine.unlock(namespace, key, 'fill', token);
        return stored?.payload ?? null;
      } catch (err) {
        if (token) engine.unlock(namespace, key, 'fill', token);
        throw err;
      }
    });
    const payload = await result;
    if (leader) {
      engine.record(fetched ? 'misses' : 'hits', namespace, key);
      // The leader gets what fetch returned; waiters and other processes get a deserialized copy.
      return fetched ? fetched.value : decodeValue<T>(payload!);
    }
    if (payload !== null) {
      engine.record('hits', namespace, key);
      return decodeValue<T>(payload);
    }
    engine.record('misses', namespace, key);
    return fetch();
  };
}
