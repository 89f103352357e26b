/**
 * The engine under the middleware: entries and what spans requests. It
 * looks entries up (in-process tier, then the store), gets fills ready and
 * writes them in the background, holds the fill and refresh locks, and
 * coalesces fills in this process. Store calls go through the gate
 * (store-gate.ts), clears through clears.ts, counters through decisions.ts;
 * the order of a miss lives in fill-runner.ts.
 */
import { randomBytes } from 'node:crypto';
import { uniqueToken } from './tokens';
import { Clears } from './clears';
import { Decisions } from './decisions';
import type { CacheStoreError } from './errors';
import { entryState, freshUntil, isEnvelope } from './entry-codec';
import type { L1Tier } from './l1-tier';
import { encodePart } from './keys';
import type { CacheObserver } from './metrics';
import type { CacheSettings } from './options';
import { StoreGate, type CallOptions } from './store-gate';
import type { LockKind, Store } from './stores/store';
import type { BypassReason } from './types';

/** What a lookup saw of the namespace: its generation (null when it has none) and the in-process tier sequence taken before it (0 without the tier). */
export interface Seen {
  generation: Buffer | null;
  seq: number;
}

/**
 * What a lookup found, one literal per state (the model is lru-cache's Status):
 * a fresh or stale entry, a miss (with whether another process holds the fill
 * lock, when asked), or why the store was not used.
 */
export type Lookup =
  | (Seen & { state: 'hit' | 'stale'; payload: Buffer; locked: boolean })
  | (Seen & { state: 'miss'; locked: boolean })
  | { state: 'bypass'; reason: BypassReason };

/** Where a fill writes: the generation it saw, the tier sequence of its lookup, and the fill lock if it took one (null: not taken). */
export interface FillTarget {
  generation: Buffer;
  seq: number;
  token: string | null;
}

/**
 * How getting a fill ready ended: an entry landed since the lookup missed
 * (serve it), the fill lock taken (`locked`) or held by another process
 * (`wait`), no lock asked for (`ready`), or the store failed (`failed`: nothing is written).
 */
export type PreparedFill =
  | { state: 'landed'; payload: Buffer; target: FillTarget & { token: null } }
  | { state: 'locked'; target: FillTarget & { token: string } }
  | { state: 'wait' | 'ready'; target: FillTarget & { token: null } }
  | { state: 'failed'; reason: BypassReason };

/** How taking a lock ended: taken (with its token), held by another, or the store failed. */
export type LockResult = { state: 'taken'; token: string } | { state: 'held' } | { state: 'failed' };

/** What the engine is built with besides its settings and store. */
export interface EngineParts {
  /** The in-process tier, when configured. */
  l1?: L1Tier;
  /** Receives decisions and store round trips (metrics). */
  observer?: CacheObserver;
}

const POLL_INTERVAL_MS = 25;

function bypass(reason: BypassReason): Lookup {
  return { state: 'bypass', reason };
}

function bypassReason(err: unknown): BypassReason {
  const code = (err as CacheStoreError).code;
  return code === 'ECACHE_TIMEOUT' ? 'timeout' : code === 'ECACHE_CIRCUIT_OPEN' ? 'circuit-open' : 'error';
}

/** A fill running in this process: the generation its lookup saw and the one its prepare step returned. */
interface InFlightFill {
  seen: Buffer | null;
  prepared: Buffer | null;
  result: Promise<unknown>;
}

function sameGeneration(a: Buffer | null, b: Buffer | null): boolean {
  return a === null || b === null ? a === b : a.equals(b);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** The engine of one cache. */
export class Engine {
  /** Random per cache: marks the internal refresh requests only this cache may issue. */
  readonly secret = randomBytes(16).toString('base64url');
  /** Counters, observer and decision log. */
  readonly decisions: Decisions;
  /** Clears, their retries and their re-application after a reconnect. */
  readonly clears: Clears;
  private readonly gate: StoreGate;
  private readonly l1: L1Tier | undefined;
  private readonly inflight = new Map<string, InFlightFill>();
  private readonly pendingWrites = new Set<Promise<unknown>>();
  private readonly backgroundTimeoutMs: number;
  closed = false;

  constructor(readonly settings: CacheSettings, readonly store: Store, { l1, observer }: EngineParts = {}) {
    this.l1 = l1;
    this.decisions = new Decisions(settings, observer);
    this.gate = new StoreGate(settings, store, this.decisions);
    // Work off the request path (writes, lock releases, retried clears) may wait longer than a request would.
    this.backgroundTimeoutMs = Math.max(settings.timeoutMs * 10, 1000);
    this.clears = new Clears(settings, store, this.gate, this.backgroundTimeoutMs, (namespaces) => {
      this.forgetFills(namespaces);
      this.l1?.drop(namespaces);
    }, l1);
  }

  /** Runs a store call through the gate: bounded, counted, never while the store is known down. */
  call<T>(operation: string, op: () => Promise<T>, options?: CallOptions): Promise<T> {
    return this.gate.call(operation, op, options);
  }

  /** A fresh entry from the in-process tier, synchronously: the hottest hits skip the promise and the store. */
  peek(namespace: string, key: string): Buffer | undefined {
    const l1 = this.l1;
    if (l1 === undefined || this.closed || this.clears.isPending(namespace)) return undefined;
    return l1.get(namespace, key, Date.now());
  }

  /** Looks an entry up in the store (callers ask the in-process tier first, with peek); never rejects. */
  async lookup(namespace: string, key: string, withLock = false, label?: string): Promise<Lookup> {
    if (this.closed) return bypass('closed');
    if (this.clears.isPending(namespace)) return bypass('pending-clear');
    // The tier itself was already asked (peek); here it only tags the lookup so a racing clear wins.
    const l1 = this.l1;
    const seq = l1 !== undefined && l1.usable ? l1.seq() : 0;
    let found;
    try {
      found = await this.gate.call('lookup', () => this.store.lookup(namespace, key, withLock), { namespace, label });
    } catch (err) {
      return bypass(bypassReason(err));
    }
    const payload = found.payload;
    if (payload !== null && isEnvelope(payload)) {
      const now = Date.now();
      const state = entryState(payload, now);
      if (state === 'hit' && seq !== 0 && l1 !== undefined) l1.set(namespace, key, payload, seq, freshUntil(payload), now);
      if (state !== 'miss') return { state, payload, generation: found.generation, locked: found.locked, seq };
    }
    return { state: 'miss', generation: found.generation, locked: found.locked, seq };
  }

  /**
   * Gets a fill ready: the generation to write under and, withLock, the
   * cross-process fill lock, or an entry that landed since the lookup
   * missed; never rejects.
   */
  async prepareFill(namespace: string, key: string, withLock: boolean, seq: number, label?: string): Promise<PreparedFill> {
    const token = withLock ? uniqueToken() : undefined;
    let prepared;
    try {
      const prepare = () => this.store.prepareFill(namespace, key, token, this.settings.lockTtlMs);
      prepared = await this.gate.call('prepare', prepare, { namespace, label });
    } catch (err) {
      // A timeout is the client's view: the lock may have been taken in the store all the same. Release it
      // in the background, or the next request waits lockWaitMs for a fill that never comes.
      if (token !== undefined && (err as CacheStoreError).code === 'ECACHE_TIMEOUT') this.unlock(namespace, key, 'fill', token);
      return { state: 'failed', reason: bypassReason(err) };
    }
    const { generation, locked, payload } = prepared;
    if (payload !== null && isEnvelope(payload) && entryState(payload, Date.now()) === 'hit') {
      return { state: 'landed', payload, target: { generation, seq, token: null } };
    }
    if (token !== undefined && locked) return { state: 'locked', target: { generation, seq, token } };
    return { state: withLock ? 'wait' : 'ready', target: { generation, seq, token: null } };
  }

  /**
   * Writes an entry in the background under the generation its fill saw, and
   * releases the fill's lock in the same round trip; resolves whether it was
   * stored, never rejects.
   */
  write(namespace: string, key: string, fill: FillTarget, payload: Buffer, ttlMs: number, label?: string): Promise<boolean> {
    const generation = fill.generation;
    const release = fill.token ?? undefined;
    const write = () => this.store.write(namespace, key, generation, payload, ttlMs, release);
    const pending = this.gate.call('write', write, { timeoutMs: this.backgroundTimeoutMs, namespace, label }).then(
      (written) => {
        // Into the in-process tier only once the store took it under its generation: a fill begun before
        // another process's clear is refused by the store, and so never served from this tier either.
        if (written && fill.seq !== 0) this.l1?.set(namespace, key, payload, fill.seq, freshUntil(payload), Date.now());
        if (!written) this.decisions.notStored(namespace, key, 'cleared while filling');
        return written;
      },
      () => false,
    );
    this.pendingWrites.add(pending);
    void pending.finally(() => this.pendingWrites.delete(pending));
    return pending;
  }

  /** Counts work that ends in a write (a fill producing its entry) as pending until it settles: idle() and close() wait for it. */
  track(work: Promise<unknown>): void {
    const pending = work.then(() => undefined, () => undefined);
    this.pendingWrites.add(pending);
    void pending.finally(() => this.pendingWrites.delete(pending));
  }

  /** Resolves once every write started so far has settled. */
  async idle(): Promise<void> {
    while (this.pendingWrites.size > 0) await Promise.all([...this.pendingWrites]);
  }

  /** Takes a lock; never rejects. */
  async lock(namespace: string, key: string, kind: LockKind, ttlMs = this.settings.lockTtlMs): Promise<LockResult> {
    const token = uniqueToken();
    try {
      const taken = await this.gate.call('lock', () => this.store.acquireLock(namespace, key, kind, token, ttlMs), { namespace });
      return taken ? { state: 'taken', token } : { state: 'held' };
    } catch {
      return { state: 'failed' };
    }
  }

  /** Releases a lock in the background. */
  unlock(namespace: string, key: string, kind: LockKind, token: string): void {
    const release = () => this.store.releaseLock(namespace, key, kind, token);
    this.gate.call('unlock', release, { timeoutMs: this.backgroundTimeoutMs, namespace }).catch(() => {});
  }

  /** Keeps a lock for ttlMs more, in the background (a failed refresh holds it through the backoff). */
  hold(namespace: string, key: string, kind: LockKind, token: string, ttlMs: number): void {
    const keep = () => this.store.holdLock(namespace, key, kind, token, ttlMs);
    this.gate.call('hold', keep, { timeoutMs: this.backgroundTimeoutMs, namespace }).catch(() => {});
  }

  /**
   * Waits up to lockWaitMs for another process to fill an entry. Resolves the
   * entry, or null when the wait ended without one (the other process gave
   * up, the store failed, or time ran out): then the caller fills it itself.
   */
  async waitForFill(namespace: string, key: string, label?: string): Promise<Buffer | null> {
    this.decisions.lockWaitStarted();
    const deadline = Date.now() + this.settings.lockWaitMs;
    while (Date.now() < deadline) {
      await sleep(Math.min(POLL_INTERVAL_MS, Math.max(1, deadline - Date.now())));
      const found = await this.lookup(namespace, key, true, label);
      if (found.state === 'hit' || found.state === 'stale') return found.payload;
      if (found.state === 'bypass' || !found.locked) return null;
    }
    this.decisions.lockWaitTimedOut();
    return null;
  }

  /**
   * Runs `fill` once per entry in this process: a concurrent caller shares
   * the running fill's promise if it saw the generation that fill saw or was
   * prepared under (`fill` reports it through `prepared`). A caller that saw
   * another generation (another process cleared the namespace) never joins
   * it: it starts its own fill, which later callers join.
   */
  coalesce<T>(kind: 'response' | 'value', namespace: string, key: string, seen: Buffer | null, fill: (prepared: (generation: Buffer) => void) => Promise<T>): { leader: boolean; result: Promise<T> } {
    const id = `${encodePart(namespace)}:${kind}:${key}`;
    const running = this.inflight.get(id);
    if (running && (sameGeneration(running.seen, seen) || sameGeneration(running.prepared, seen))) {
      // Every fill of one kind is made by one front end through the fill runner, so a running one has this T.
      return { leader: false, result: running.result as Promise<T> };
    }
    const entry: InFlightFill = { seen, prepared: null, result: Promise.resolve() };
    const result = fill((generation) => { entry.prepared = generation; }).finally(() => {
      if (this.inflight.get(id) === entry) this.inflight.delete(id);
    });
    entry.result = result;
    this.inflight.set(id, entry);
    return { leader: true, result };
  }

  /** A fill that began before a clear must not be shared with requests that come after it. */
  private forgetFills(namespaces: readonly string[]): void {
    if (this.inflight.size === 0) return;
    const prefixes = namespaces.map((namespace) => `${encodePart(namespace)}:`);
    for (const id of this.inflight.keys()) if (prefixes.some((p) => id.startsWith(p))) this.inflight.delete(id);
  }

  /** The fresh lifetime of a new entry: ttl shortened at random by up to `jitter`, so entries written together expire apart. */
  freshMs(ttlMs: number): number {
    return ttlMs * (1 - Math.random() * this.settings.jitter);
  }

  /**
   * Stops timers; the store's client stays the user's. Waits for pending
   * writes at most backgroundTimeoutMs (max(10 × timeoutMs, 1 s)): each is
   * bounded by it through the gate, and the race makes sure of it.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.gate.close();
    this.clears.close();
    if (this.pendingWrites.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => { timer = setTimeout(resolve, this.backgroundTimeoutMs); });
      await Promise.race([Promise.allSettled([...this.pendingWrites]), bound]);
      clearTimeout(timer);
    }
    await this.l1?.close();
    await this.store.close();
  }
}
