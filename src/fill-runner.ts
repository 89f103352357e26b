/**
 * The one place a miss and a refresh are driven, for responses (route.ts)
 * and values (get-or-set.ts) alike. The front ends only say how to produce
 * an entry (run the handler, call fetch) and how to answer with one; the
 * order of lock, re-check, wait, produce and write or release lives here,
 * so a change to the protocol lands once.
 */
import type { Engine, FillTarget, PreparedFill, Seen } from './engine';
import type { FillTicket } from './stores/store';
import type { BypassReason } from './types';

/** An answer that may be stored, or why it is not stored. */
export type Produced =
  | {
      state: 'entry';
      /** The entry as waiters in this process get it. */
      payload: Buffer;
      /** The form written to the store when it differs (compressed off the request path); falls back to payload if it fails. */
      stored?: Promise<Buffer>;
      /** How long the store keeps the entry: fresh plus stale lifetime. */
      ttlMs: number;
      /** Tags the entry carries (validated). */
      tags?: readonly string[];
    }
  /** Not stored. `backOff`: the origin failed (or answered something unstorable), so a refresh waits before trying again. */
  | { state: 'skip'; backOff: boolean };

/** What one request or call brings to a fill: its entry, what its lookup saw, and how to produce and recognise an entry. */
export interface FillContext {
  readonly namespace: string;
  readonly key: string;
  /** Responses and values never share a fill, even under one key. */
  readonly kind: 'response' | 'value';
  /** Metrics label of the decisions and store calls. */
  readonly label: string | undefined;
  /** The ticket and in-process tier sequence the lookup saw (ticket null: the store's records were absent). */
  readonly seen: Readonly<Seen>;
  /** The fill the lookup got ready in its own round trip (lock taken, or held by another process), if it did. */
  readonly prepared?: PreparedFill;
  /** Whether an entry found in the store is of this front end's kind (a response, a value). */
  accepts(payload: Buffer): boolean;
  /**
   * Runs the handler or fetch (answering the client on the way, for a response). May reject (fetch threw).
   * `bypass`: the store failed, the answer is served around the cache (BYPASS) and not written.
   */
  produce(bypass?: BypassReason): Promise<Produced>;
}

/** How a miss ended for one caller. */
export type MissOutcome =
  /**
   * This caller produced the entry (and answered with its own result).
   * `bypass`: the store failed getting the fill ready, so it produced around the cache and wrote nothing.
   */
  | { state: 'produced'; payload: Buffer | null; bypass?: BypassReason }
  /** Another fill made the entry, in this process or another: answer with it (a hit). */
  | { state: 'shared'; payload: Buffer }
  /** The fill this caller joined had nothing to share: it must produce alone (see produceAlone). */
  | { state: 'alone' };

/** A produced entry and its write (resolves whether it was stored), or why nothing is written. */
export type Written = { state: 'entry'; payload: Buffer; written: Promise<boolean> } | { state: 'skip'; backOff: boolean };

/**
 * Produces an entry and writes it under `target` (no write without one).
 * The engine tracks the whole of it, not just the write: a response is
 * answered before it is encoded (and compressed), and warmup must resolve
 * only once its entries are written.
 */
export function produceAndWrite(engine: Engine, ctx: FillContext, target: FillTarget | undefined): Promise<Written> {
  const work = produceThenWrite(engine, ctx, target);
  engine.track(work.then((w) => (w.state === 'entry' ? w.written : false)));
  return work;
}

async function produceThenWrite(engine: Engine, ctx: FillContext, target: FillTarget | undefined): Promise<Written> {
  const produced = await ctx.produce();
  if (produced.state === 'skip') return produced;
  const { payload, stored, ttlMs, tags = [] } = produced;
  if (target === undefined) return { state: 'entry', payload, written: Promise.resolve(false) };
  const write = (bytes: Buffer): Promise<boolean> => engine.write(ctx.namespace, ctx.key, target, bytes, ttlMs, tags, ctx.label);
  return { state: 'entry', payload, written: stored ? stored.then(write, () => write(payload)) : write(payload) };
}

/**
 * The leader's protocol. Each step says why it is there:
 * the lock makes one process fill, the re-check serves what landed, the
 * wait serves what the lock holder makes, and a fill that writes nothing
 * releases the lock so waiters stop waiting.
 */
async function lead(engine: Engine, ctx: FillContext, preparedUnder: (ticket: FillTicket) => void): Promise<MissOutcome> {
  const { namespace, key } = ctx;
  // Usually the lookup took the lock in its own round trip. Otherwise lock and re-check in one round trip:
  // another process may have filled the entry since our lookup missed.
  const prepared = ctx.prepared ?? (await engine.prepareFill(namespace, key, true, ctx.seen.seq, ctx.label));
  // Callers that see the ticket this fill writes under may join it (its producing starts after this point).
  if (prepared.state !== 'failed') preparedUnder(prepared.target.ticket);
  if (prepared.state === 'landed' && ctx.accepts(prepared.payload)) return { state: 'shared', payload: prepared.payload };
  if (prepared.state === 'failed') {
    // The store failed (a timeout, say): like any store failure, answered around the cache (BYPASS), nothing written;
    // followers in this process still share the answer instead of each running the handler.
    const produced = await ctx.produce(prepared.reason);
    return { state: 'produced', payload: produced.state === 'entry' ? produced.payload : null, bypass: prepared.reason };
  }
  if (prepared.state === 'wait' || prepared.state === 'landed') {
    // Another process holds the lock (or filled the key with the other kind): its entry is on its way, cheaper than a second fill.
    const payload = await engine.waitForFill(namespace, key, ctx.label);
    if (payload !== null && ctx.accepts(payload)) return { state: 'shared', payload };
  }
  // Our turn: our lock, or no lock (the holder gave up).
  const target = prepared.target;
  const token = target.token;
  let filled: Written | undefined;
  try {
    filled = await produceAndWrite(engine, ctx, target);
    return { state: 'produced', payload: filled.state === 'entry' ? filled.payload : null };
  } finally {
    // A write releases the lock once the entry is in (a waiter that sees the lock gone finds it);
    // nothing to write releases it now, so waiters stop waiting.
    if (token && filled?.state !== 'entry') engine.unlock(namespace, key, 'fill', token);
  }
}

/**
 * Drives a miss: one fill per entry in this process (coalescing), one
 * across processes (the fill lock). Followers of a fill get its entry, or
 * 'alone' when it had none to share; a rejection of produce reaches every caller.
 */
export async function runMiss(engine: Engine, ctx: FillContext): Promise<MissOutcome> {
  // By the ticket the lookup saw: a caller that has seen a newer clear never joins an older fill.
  const { leader, result } = engine.coalesce(ctx.kind, ctx.namespace, ctx.key, ctx.seen.ticket, (prepared) => lead(engine, ctx, prepared));
  // A follower whose own lookup took the fill lock hands it back: the fill it joined is the one running.
  if (!leader && ctx.prepared?.state === 'locked') engine.unlock(ctx.namespace, ctx.key, 'fill', ctx.prepared.target.token);
  const outcome = await result;
  if (leader || outcome.state !== 'produced') return outcome;
  // In-process followers share the leader's entry, never its answer: they answer themselves.
  return outcome.payload === null ? { state: 'alone' } : { state: 'shared', payload: outcome.payload };
}

/** A follower whose fill had nothing to share produces on its own, writing under the ticket its lookup saw. */
export function produceAlone(engine: Engine, ctx: FillContext): Promise<Written> {
  const ticket = ctx.seen.ticket;
  return produceAndWrite(engine, ctx, ticket ? { ticket, seq: ctx.seen.seq, token: null } : undefined);
}

/** How a refresh ended: stored, not stored (lock released or held through the backoff), or the store was down. */
export type RefreshOutcome = 'refreshed' | 'not-stored' | 'store-down';

/**
 * The refresh protocol, once its lock is held: write under the current
 * ticket, then release the lock after the write (a success) or hold it
 * through the backoff (the origin failed), so one process refreshes an
 * entry and a failing origin is not hammered.
 */
export async function runRefresh(engine: Engine, ctx: FillContext, token: string): Promise<RefreshOutcome> {
  const { namespace, key } = ctx;
  // No fill lock here (the refresh lock is held): only the ticket to write under, read now, so after any soft clear.
  const prepared = await engine.prepareFill(namespace, key, false, 0, ctx.label);
  if (prepared.state === 'failed') return 'store-down';
  const target = prepared.target;
  engine.decisions.refreshed();
  let filled: Written;
  try {
    filled = await produceAndWrite(engine, ctx, target);
  } catch (err) {
    // The origin failed: hold the lock through the backoff so the stale copy is served meanwhile.
    engine.hold(namespace, key, 'refresh', token, engine.settings.refreshBackoffMs);
    throw err;
  }
  if (filled.state === 'entry') {
    // Released once the entry is in, so the next stale reader does not start a second refresh before it lands.
    await filled.written;
    engine.unlock(namespace, key, 'refresh', token);
    return 'refreshed';
  }
  if (filled.backOff) engine.hold(namespace, key, 'refresh', token, engine.settings.refreshBackoffMs);
  else engine.unlock(namespace, key, 'refresh', token);
  return 'not-stored';
}

/**
 * Starts background refreshes: at most one per entry in this process (the
 * set), and one across processes (the refresh lock); `run` gets the lock's
 * token and ends with runRefresh, here or in the internal request it sends.
 */
export function createRefresher(engine: Engine): (namespace: string, key: string, run: (token: string) => Promise<void>) => void {
  const refreshing = new Set<string>();
  return (namespace, key, run) => {
    const id = `${namespace}\0${key}`;
    if (refreshing.has(id)) return;
    refreshing.add(id);
    void (async () => {
      const lock = await engine.lock(namespace, key, 'refresh');
      // Held: another process refreshes it; failed: the store failed, the stale copy is served meanwhile.
      if (lock.state === 'taken') await run(lock.token);
    })().finally(() => refreshing.delete(id));
  };
}
