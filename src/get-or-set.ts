/**
 * `cache.getOrSet`: cache-aside for data. Values go through v8's
 * serializer, so Date, Buffer, Map, Set and BigInt come back deep-equal.
 * Concurrent misses call fetch once per process (and once across processes
 * while the fill lock holds); a stale value is returned at once and
 * refreshed in the background; a store failure only means fetch is called.
 */
import { deserialize, serialize } from 'node:v8';
import { decodeValue, encodeValue, isResponse } from './entry-codec';
import type { Recorder } from './decisions';
import type { Engine, Found } from './engine';
import { createRefresher, runMiss, runRefresh, type FillContext, type Produced } from './fill-runner';
import { parseGetOrSetArguments, type GetOrSetSettings } from './options';
import type { GetOrSetOptions } from './types';

/**
 * What fetch returned, in the shape a hit returns (v8's structured clone: a
 * class instance becomes a plain object), so every call gets the same shape
 * whether it hit, filled or went around the cache. A value v8 cannot
 * serialize is never cached and is returned as it is.
 */
function asHit<T>(value: T): T {
  try {
    return deserialize(serialize(value)) as T;
  } catch {
    return value;
  }
}

/** Encodes a value as an entry; one v8 cannot clone is returned to the caller, just not cached. */
function encodeEntry(engine: Engine, namespace: string, key: string, value: unknown, settings: GetOrSetSettings): Produced {
  const now = Date.now();
  const { ttlMs, staleTtlMs: staleMs, tags } = settings;
  const freshMs = engine.freshMs(ttlMs);
  try {
    const payload = encodeValue(value, { storedAt: now, freshUntil: now + freshMs, staleUntil: now + freshMs + staleMs });
    return { state: 'entry', payload, ttlMs: freshMs + staleMs, tags };
  } catch (err) {
    engine.settings.logger.warn(
      { namespace, key, err: String(err) },
      'express-cache-aside: getOrSet value cannot be serialized; not cached',
    );
    return { state: 'skip', backOff: false };
  }
}

/** The fill context of one call; `fetched` keeps what fetch returned for the caller that ran it. */
function fillContext<T>(
  engine: Engine,
  namespace: string,
  key: string,
  seen: Found | undefined,
  fetch: () => T | Promise<T>,
  settings: GetOrSetSettings,
): FillContext & { fetched?: { value: T } } {
  const ctx: FillContext & { fetched?: { value: T } } = {
    namespace,
    key,
    label: undefined,
    kind: 'value',
    seen: { ticket: seen?.ticket ?? null, seq: seen?.seq ?? 0 },
    prepared: seen?.state === 'miss' ? seen.prepared : undefined,
    accepts: (payload) => !isResponse(payload),
    produce: async () => {
      const value = await fetch();
      ctx.fetched = { value };
      return encodeEntry(engine, namespace, key, value, settings);
    },
  };
  return ctx;
}

/** A miss: fetch once per entry (in this process by coalescing, across processes by the fill lock), or take what a fill shared. */
async function fill<T>(
  engine: Engine,
  record: Recorder,
  namespace: string,
  key: string,
  found: Found,
  fetch: () => T | Promise<T>,
  settings: GetOrSetSettings,
): Promise<T> {
  const ctx = fillContext(engine, namespace, key, found, fetch, settings);
  const outcome = await runMiss(engine, ctx);
  switch (outcome.state) {
    case 'produced':
      if (outcome.bypass) record.bypass(namespace, outcome.bypass, key);
      else record.miss(namespace, key);
      // Every caller gets what a hit would: the deserialized copy (a class instance comes back a plain object,
      // for the caller that fetched as for the rest).
      if (outcome.payload !== null) return decodeValue<T>(outcome.payload);
      // A value v8 cannot serialize is never cached, so every call gets what its fetch returned.
      return (ctx.fetched as { value: T }).value;
    case 'shared':
      record.hit(namespace, key);
      return decodeValue<T>(outcome.payload);
    case 'alone':
      // The fill this call joined stored nothing: fetch for this caller, without storing.
      record.miss(namespace, key);
      return asHit(await fetch());
  }
}

/** Cache-aside for data through an engine. */
export function createGetOrSet(engine: Engine) {
  const startRefresh = createRefresher(engine);
  const record = engine.decisions.recorder(undefined);

  const refresh = <T>(namespace: string, key: string, fetch: () => T | Promise<T>, settings: GetOrSetSettings): void => {
    startRefresh(namespace, key, async (token) => {
      try {
        await runRefresh(engine, fillContext(engine, namespace, key, undefined, fetch, settings), token);
      } catch (err) {
        engine.settings.logger.warn({ namespace, key, err: String(err) }, 'express-cache-aside: background refresh failed; serving stale');
      }
    });
  };

  return async function getOrSet<T>(namespace: string, key: string, fetch: () => T | Promise<T>, options?: GetOrSetOptions): Promise<T> {
    const settings = parseGetOrSetArguments(namespace, key, fetch, options, engine.settings.ttlMs);

    const hot = engine.peek(namespace, key);
    if (hot !== undefined && !isResponse(hot)) {
      record.hit(namespace, key);
      return decodeValue<T>(hot);
    }
    // A miss fills the entry: the lookup takes the fill lock in the same round trip.
    const found = await engine.lookup(namespace, key, { fill: true });
    if (found.state === 'bypass') {
      record.bypass(namespace, found.reason, key);
      return asHit(await fetch());
    }
    if (found.state !== 'miss' && !isResponse(found.payload)) {
      if (found.state === 'hit') {
        record.hit(namespace, key);
        return decodeValue<T>(found.payload);
      }
      record.stale(namespace, key);
      refresh(namespace, key, fetch, settings);
      return decodeValue<T>(found.payload);
    }
    return fill(engine, record, namespace, key, found, fetch, settings);
  };
}
