/**
 * The engine under the middleware: entries and what spans requests. It
 * looks entries up (in-process tier, then the store), gets fills ready and
 * writes them in the background, holds the fill and refresh locks, and
 * coalesces fills in this process. Store calls go through the gate
 * (store-gate.ts), clears through clears.ts, counters through decisions.ts;
 * the order of a miss lives in fill-runner.ts.
 */
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { uniqueToken } from './tokens';
import { Clears, type ClearTargets } from './clears';
import { Decisions } from './decisions';
import type { CacheStoreError } from './errors';
import { entryState, freshUntil, isEnvelope, staleUntil } from './entry-codec';
import type { L1Tier } from './l1-tier';
import { encodePart } from './keys';
import type { CacheObserver } from './metrics';
import type { CacheSettings } from './options';
import { StoreGate, type CallOptions } from './store-gate';
import { uniqueEncodedTags } from './stores/entry-header';
import type { EntryLookup, FillTicket, LockKind, Store } from './stores/store';
import type { BypassReason } from './types';

/**
 * What a lookup saw: the store's fill ticket (null when its records are absent)
 * and the in-process tier sequence taken before it (0 without the tier).
 */
export interface Seen {
  ticket: FillTicket | null;
  seq: number;
}

/**
 * What a lookup found, one literal per state (the model is lru-cache's Status):
 * a fresh or stale entry (with its encoded tags), a miss (with the fill it
 * got ready in the same round trip, when asked: the lock taken, or held by
 * another process), or why the store was not used.
 */
export type Lookup =
  | (Seen & { state: 'hit' | 'stale'; payload: Buffer; tags: readonly string[] })
  | (Seen & { state: 'miss'; locked: boolean; prepared: PreparedFill | undefined })
  | { state: 'bypass'; reason: BypassReason };

/** A lookup that used the store: a hit, a stale entry or a miss. */
export type Found = Exclude<Lookup, { state: 'bypass' }>;

/**
 * Where a fill writes: the ticket it got ready under, the tier sequence of its lookup, and the fill lock if it took one (null: not taken).
 */
export interface FillTarget {
  ticket: FillTicket;
  seq: number;
  token: string | null;
}

/**
 * How getting a fill ready ended: an entry landed since the lookup missed
 * (serve it), the fill lock taken (`locked`) or held by another process
 * (`wait`), no lock asked for or none to take (`ready`), or the store failed
 * (`failed`: nothing is written).
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

/** Options of Engine.lookup. */
export interface LookupOptions {
  /** On a miss, get the fill ready in the same round trip (records, fill lock): the request will fill the entry. */
  fill?: boolean;
  /** Metrics label. */
  label?: string;
}

/** Entries whose shape (with or without tags) this process remembers, to pick the cheaper lookup. */
const EXPECTED_ENTRIES = 10_000;

const POLL_INTERVAL_MS = 25;

function bypass(reason: BypassReason): Lookup {
  return { state: 'bypass', reason };
}

function bypassReason(err: unknown): BypassReason {
  const code = (err as CacheStoreError).code;
  return code === 'ECACHE_TIMEOUT' ? 'timeout' : code === 'ECACHE_CIRCUIT_OPEN' ? 'circuit-open' : 'error';
}

/** A fill running in this process: the ticket its lookup saw and the one it was prepared under. */
interface InFlightFill {
  seen: FillTicket | null;
  prepared: FillTicket | null;
  result: Promise<unknown>;
}

/** Same generations and same clear clock: no clear of any kind came between the two. */
function sameTicket(a: FillTicket | null, b: FillTicket | null): boolean {
  if (a === null || b === null) return a === b;
  return a.generation === b.generation && a.allGeneration === b.allGeneration && a.clock === b.clock;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** The fill a lookup got ready in its round trip: the lock taken, or held by another process (then wait for its entry). */
function preparedBy(found: EntryLookup, token: string | undefined, seq: number): PreparedFill | undefined {
  const ticket = found.ticket;
  if (ticket === null || found.status !== 'miss') return undefined;
  if (found.lock === 'taken' && token !== undefined) return { state: 'locked', target: { ticket, seq, token } };
  if (found.lock === 'busy') return { state: 'wait', target: { ticket, seq, token: null } };
  return undefined;
}

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
  /**
   * Entries this process recently saw present, with or without tags: a hit expected on an entry without
   * tags reads it with the store's cheapest call (Redis: one MGET), any other lookup with the one that also
   * checks tags and gets a miss's fill ready. A wrong guess costs one more round trip, for that lookup only.
   */
  private readonly expected = new LRUCache<string, 'plain' | 'tagged'>({ max: EXPECTED_ENTRIES });
  /**
   * How long a record created by a miss lives unless the fill's write extends it: the longest a first fill
   * of a namespace may run and still be stored, and how long a miss whose answer is not stored (a 404 scan)
   * leaves a key behind. Twice the lock's lifetime (at least a second): a fill that outlived its lock twice
   * over has been repeated by other requests anyway.
   */
  readonly fillTtlMs: number;
  closed = false;

  constructor(
    readonly settings: CacheSettings,
    readonly store: Store,
    { l1, observer }: EngineParts = {},
  ) {
    this.l1 = l1;
    this.decisions = new Decisions(settings, observer);
    this.gate = new StoreGate(settings, store, this.decisions);
    // Work off the request path (writes, lock releases, retried clears) may wait longer than a request would.
    this.backgroundTimeoutMs = Math.max(settings.timeoutMs * 10, 1000);
    this.fillTtlMs = Math.max(2 * settings.lockTtlMs, 1000);
    this.clears = new Clears(
      settings,
      store,
      this.gate,
      this.backgroundTimeoutMs,
      (targets) => {
        this.forgetFills(targets);
        this.l1?.drop(targets);
      },
      l1,
      this.decisions,
      this.fillTtlMs,
    );
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

  /**
   * Looks an entry up in the store (callers ask the in-process tier first, with peek); never rejects. With
   * `fill`, a miss also gets its fill ready in the same round trip (records, the fill lock).
   */
  async lookup(namespace: string, key: string, { fill = false, label }: LookupOptions = {}): Promise<Lookup> {
    if (this.closed) return bypass('closed');
    if (this.clears.isPending(namespace)) return bypass('pending-clear');
    // The tier itself was already asked (peek); here it only tags the lookup so a racing clear wins.
    const l1 = this.l1;
    const seq = l1?.usable ? l1.seq() : 0;
    const id = `${encodePart(namespace)}:${key}`;
    const expected = this.expected.get(id);
    const token = fill ? uniqueToken() : undefined;
    const options = {
      fill: fill ? { lockToken: token, lockTtlMs: this.settings.lockTtlMs, fillTtlMs: this.fillTtlMs } : undefined,
      expectPlain: expected === 'plain',
      expectTagged: expected === 'tagged',
    };
    let found: EntryLookup;
    try {
      found = await this.gate.call('lookup', () => this.store.lookupEntry(namespace, key, options), { namespace, label });
    } catch (err) {
      // On the fast path the lock is taken only by the fallback, rarely: then it expires after lockTtlMs. A release
      // sent for every timed-out hit would answer late and close a circuit the store's trouble opened.
      this.releaseAfterTimeout(err, namespace, key, options.expectPlain ? undefined : token);
      return bypass(bypassReason(err));
    }
    const ticket = found.ticket;
    const payload = found.payload;
    if (found.status === 'miss' || payload === null) {
      if (expected !== undefined) this.expected.delete(id);
      return { state: 'miss', ticket, seq, locked: found.lock !== 'free', prepared: preparedBy(found, token, seq) };
    }
    // A clear of one of its tags has not reached the store: served around the cache until it does.
    if (found.tags.length > 0 && this.clears.tagsPending(found.tags)) return bypass('pending-clear');
    const shape = found.tags.length > 0 ? 'tagged' : 'plain';
    if (expected !== shape) this.expected.set(id, shape);
    if (isEnvelope(payload)) {
      const now = Date.now();
      let state = entryState(payload, now);
      // Soft-cleared: served stale while one refresh runs, within the entry's staleTtl; without one, a miss.
      if (found.status === 'soft-cleared' && state !== 'miss') state = staleUntil(payload) > freshUntil(payload) ? 'stale' : 'miss';
      if (state === 'hit' && seq !== 0 && l1 !== undefined) l1.set(namespace, key, payload, seq, freshUntil(payload), now, found.tags);
      if (state !== 'miss') return { state, payload, ticket, seq, tags: found.tags };
    }
    // Present in the store but expired or soft-cleared: a miss, with no fill lock taken (the store takes it only when absent).
    return { state: 'miss', ticket, seq, locked: false, prepared: undefined };
  }

  /** A timeout is the client's view: a lock may have been taken in the store all the same. Released in the background. */
  private releaseAfterTimeout(err: unknown, namespace: string, key: string, token: string | undefined): void {
    if (token !== undefined && (err as CacheStoreError).code === 'ECACHE_TIMEOUT') this.unlock(namespace, key, 'fill', token);
  }

  /**
   * Gets a fill ready when its lookup did not: the ticket to write under and, withLock, the cross-process
   * fill lock, or an entry that landed since the lookup missed; never rejects.
   */
  async prepareFill(namespace: string, key: string, withLock: boolean, seq: number, label?: string): Promise<PreparedFill> {
    const token = withLock ? uniqueToken() : undefined;
    const options = { fill: { lockToken: token, lockTtlMs: this.settings.lockTtlMs, fillTtlMs: this.fillTtlMs } };
    let found: EntryLookup;
    try {
      found = await this.gate.call('prepare', () => this.store.lookupEntry(namespace, key, options), { namespace, label });
    } catch (err) {
      this.releaseAfterTimeout(err, namespace, key, token);
      return { state: 'failed', reason: bypassReason(err) };
    }
    const ticket = found.ticket;
    if (ticket === null) return { state: 'failed', reason: 'error' };
    const payload = found.payload;
    if (found.status === 'hit' && payload !== null && isEnvelope(payload) && entryState(payload, Date.now()) === 'hit') {
      return { state: 'landed', payload, target: { ticket, seq, token: null } };
    }
    return preparedBy(found, token, seq) ?? { state: 'ready', target: { ticket, seq, token: null } };
  }

  /**
   * Writes an entry in the background under the ticket its fill got ready,
   * with its tags, and releases the fill's lock in the same round trip;
   * resolves whether it was stored, never rejects.
   */
  write(
    namespace: string,
    key: string,
    fill: FillTarget,
    payload: Buffer,
    ttlMs: number,
    tags: readonly string[],
    label?: string,
  ): Promise<boolean> {
    const release = fill.token ?? undefined;
    const encodedTags = uniqueEncodedTags(tags);
    // A clear this process could not deliver covers it: the store cannot refuse a fill that raced it, so it is not written.
    if (this.clears.isPending(namespace) || (encodedTags.length > 0 && this.clears.tagsPending(encodedTags))) {
      if (release !== undefined) this.unlock(namespace, key, 'fill', release);
      this.decisions.notStored(namespace, key, 'cleared while filling');
      return Promise.resolve(false);
    }
    const options = { ttlMs, tags, releaseToken: release, fillTtlMs: this.fillTtlMs };
    const write = () => this.store.writeEntry(namespace, key, fill.ticket, payload, options);
    const pending = this.gate.call('write', write, { timeoutMs: this.backgroundTimeoutMs, namespace, label }).then(
      (outcome) => {
        const written = outcome === 'stored';
        // Into the in-process tier only once the store took it under its generation: a fill begun before
        // another process's clear is refused by the store, and so never served from this tier either.
        if (written) {
          this.expected.set(`${encodePart(namespace)}:${key}`, encodedTags.length > 0 ? 'tagged' : 'plain');
          if (fill.seq !== 0) this.l1?.set(namespace, key, payload, fill.seq, freshUntil(payload), Date.now(), encodedTags);
        } else this.decisions.notStored(namespace, key, 'cleared while filling');
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
    const pending = work.then(
      () => undefined,
      () => undefined,
    );
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
      const found = await this.lookup(namespace, key, { label });
      if (found.state === 'hit' || found.state === 'stale') return found.payload;
      if (found.state === 'bypass' || (found.state === 'miss' && !found.locked)) return null;
    }
    this.decisions.lockWaitTimedOut();
    return null;
  }

  /**
   * Runs `fill` once per entry in this process: a concurrent caller shares
   * the running fill's promise if it saw the ticket that fill saw or was
   * prepared under (`fill` reports it through `prepared`). A caller that saw
   * another ticket (another process cleared the namespace, a tag, or
   * everything) never joins it: it starts its own fill, which later callers join.
   */
  coalesce<T>(
    kind: 'response' | 'value',
    namespace: string,
    key: string,
    seen: FillTicket | null,
    fill: (prepared: (ticket: FillTicket) => void) => Promise<T>,
  ): { leader: boolean; result: Promise<T> } {
    const id = `${encodePart(namespace)}:${kind}:${key}`;
    const running = this.inflight.get(id);
    if (running && (sameTicket(running.seen, seen) || sameTicket(running.prepared, seen))) {
      // Every fill of one kind is made by one front end through the fill runner, so a running one has this T.
      return { leader: false, result: running.result as Promise<T> };
    }
    const entry: InFlightFill = { seen, prepared: null, result: Promise.resolve() };
    const result = fill((ticket) => {
      entry.prepared = ticket;
    }).finally(() => {
      if (this.inflight.get(id) === entry) this.inflight.delete(id);
    });
    entry.result = result;
    this.inflight.set(id, entry);
    return { leader: true, result };
  }

  /**
   * A fill that began before a clear must not be shared with requests that come after it (tags are known only after a fill: all of them).
   */
  private forgetFills({ namespaces, tags, all }: ClearTargets): void {
    if (this.inflight.size === 0) return;
    if (all || tags.length > 0) {
      this.inflight.clear();
      return;
    }
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
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.backgroundTimeoutMs);
      });
      await Promise.race([Promise.allSettled([...this.pendingWrites]), bound]);
      clearTimeout(timer);
    }
    await this.l1?.close();
    await this.store.close();
  }
}
