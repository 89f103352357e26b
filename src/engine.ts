/**
 * The engine under the middleware: every store call goes through it, so
 * every one is bounded by timeoutMs, skipped while the store is known down
 * or the circuit is open, counted and logged when it fails, and never
 * rejects into a request. It also owns what spans requests: in-process
 * coalescing of fills, cross-process fill locks, background writes, and
 * clears that failed and are retried until they succeed.
 */
import { randomBytes } from 'node:crypto';
import { uniqueToken } from './tokens';
import { CircuitBreaker } from './circuit-breaker';
import { DeadlineQueue } from './deadline-queue';
import { CacheStoreError } from './errors';
import { freshUntil, isEnvelope, staleUntil } from './entry-codec';
import type { L1Tier } from './l1-tier';
import { encodePart } from './keys';
import type { CacheSettings } from './options';
import { StatsCounter, type Outcome } from './stats';
import { LRUCache } from 'lru-cache';
import { performance } from 'node:perf_hooks';
import type { LockKind, Store } from './stores/store';

/** What a lookup found: a fresh or stale entry, a miss, or a reason the store was not used. */
export interface Lookup {
  state: 'hit' | 'stale' | 'miss' | 'bypass';
  /** The entry (hit, stale). */
  payload: Buffer | null;
  /** The namespace's generation as seen; a fill writes under it. */
  generation: Buffer | null;
  /** Another process holds the fill lock (only when asked). */
  locked: boolean;
  /** Why the store was not used (bypass). */
  reason: string | undefined;
  /** The in-process tier's sequence number taken before the lookup (0 without the tier). */
  seq: number;
}

/** Receives every decision and every store round trip: metrics plug in here. */
export interface CacheObserver {
  /** One request or call's outcome, under a bounded label (a namespace family, never a namespace). */
  decision(outcome: Outcome, label: string): void;
  /** One store round trip. */
  storeCall(operation: string, seconds: number, ok: boolean): void;
}

const DECISION_NAMES: Record<Outcome, string> = { hits: 'HIT', misses: 'MISS', stale: 'STALE', bypasses: 'BYPASS', errors: 'ERROR' };

/** The bounded label of a namespace: the part before the first ':' ('user:123' → 'user'). */
export function namespaceFamily(namespace: string): string {
  const colon = namespace.indexOf(':');
  return colon === -1 ? namespace : namespace.slice(0, colon);
}

/** Where a fill writes: the generation it saw, the tier sequence of its lookup, and the fill lock if it took one. */
export interface FillTarget {
  generation: Buffer;
  seq: number;
  token: string | null;
  /** A fresh entry another fill landed since the lookup missed: serve it instead of filling. */
  landed?: Buffer | null;
}

const POLL_INTERVAL_MS = 25;
/** Clears this recent are applied again when the store reconnects: a failover may have lost them. */
const RECENT_CLEAR_MS = 60_000;
/** Store calls still waiting past this many are refused at once, so a hung store cannot queue commands without end. */
export const MAX_PENDING_STORE_CALLS = 2000;
const CLEAR_RETRY_FIRST_MS = 100;
const CLEAR_RETRY_MAX_MS = 5000;
const FAILURE_LOG_INTERVAL_MS = 10_000;

function bypass(reason: string): Lookup {
  return { state: 'bypass', payload: null, generation: null, locked: false, reason, seq: 0 };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new CacheStoreError('ECACHE_TIMEOUT', `store did not answer within ${ms} ms`)), ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(e); });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Fresh, stale or expired, by the times in the envelope. */
export function entryState(payload: Buffer, now: number): 'hit' | 'stale' | 'miss' {
  if (now < freshUntil(payload)) return 'hit';
  if (now < staleUntil(payload)) return 'stale';
  return 'miss';
}

/** The engine of one cache. */
export class Engine {
  readonly stats = new StatsCounter();
  /** Random per cache: marks the internal refresh requests only this cache may issue. */
  readonly secret = randomBytes(16).toString('base64url');
  private readonly breaker: CircuitBreaker | undefined;
  private readonly inflight = new Map<string, Promise<Buffer | null>>();
  private readonly pendingWrites = new Set<Promise<unknown>>();
  /** Namespaces whose clear failed: served uncached by this process until a clear succeeds. */
  private readonly uncleared = new Set<string>();
  private clearRetry: { timer: NodeJS.Timeout; delayMs: number } | undefined;
  private readonly backgroundTimeoutMs: number;
  private readonly recentClears = new LRUCache<string, true>({ max: 10_000, ttl: RECENT_CLEAR_MS });
  private pendingCalls = 0;
  private readonly deadlineQueues = new Map<number, DeadlineQueue>();
  private lastFailureLog = 0;
  private failing = false;
  closed = false;

  /** Set by createCache when metrics are configured. */
  observer: CacheObserver | undefined;

  constructor(readonly settings: CacheSettings, readonly store: Store, private readonly l1?: L1Tier) {
    this.breaker = settings.breaker ? new CircuitBreaker(settings.breaker.failures, settings.breaker.cooldownMs) : undefined;
    // Work off the request path (writes, lock releases, retried clears) may wait longer than a request would.
    this.backgroundTimeoutMs = Math.max(settings.timeoutMs * 10, 1000);
    store.onReconnect(() => this.reapplyRecentClears());
  }

  /**
   * After a reconnect (a Sentinel failover, say), the clears of the last
   * minute may have been acknowledged by a node whose writes were then
   * discarded: apply them again. A clear is safe to repeat.
   */
  private reapplyRecentClears(): void {
    const namespaces = [...this.recentClears.keys()];
    if (namespaces.length === 0 || this.closed) return;
    this.settings.logger.warn({ namespaces: namespaces.length }, 'express-cache-aside: store reconnected; applying the last minute of clears again');
    for (const namespace of namespaces) this.uncleared.add(namespace);
    this.forgetFills(namespaces);
    this.l1?.drop(namespaces);
    this.scheduleClearRetry(0);
  }

  /** Whether per-decision debug lines are wanted (pino's isLevelEnabled when the logger has it). */
  private debugEnabled(): boolean {
    const logger = this.settings.logger as { isLevelEnabled?: (level: string) => boolean };
    return typeof logger.isLevelEnabled === 'function' ? logger.isLevelEnabled('debug') : this.settings.loggerGiven;
  }

  /** Counts one outcome, tells the observer, and logs the decision and why at debug level (never a body or header value). */
  record(outcome: Outcome, namespace: string, key: string | undefined, reason?: string, label?: string): void {
    this.stats.count(outcome, namespace);
    this.observer?.decision(outcome, label ?? namespaceFamily(namespace));
    if (this.debugEnabled()) {
      this.settings.logger.debug({ namespace, key, reason }, `express-cache-aside: ${DECISION_NAMES[outcome]}${reason ? `: ${reason}` : ''}`);
    }
  }

  /** Counts a background refresh that ran. */
  refreshed(): void {
    this.stats.refreshes++;
  }

  /** Logs why an answer was not stored. */
  notStored(namespace: string, key: string, reason: string): void {
    if (this.debugEnabled()) this.settings.logger.debug({ namespace, key, reason }, `express-cache-aside: not stored: ${reason}`);
  }

  /** Runs a store call bounded by a timeout, unless the store is down, the circuit open or the cache closed. */
  call<T>(operation: string, op: () => Promise<T>, { timeoutMs = this.settings.timeoutMs, namespace, label }: { timeoutMs?: number; namespace?: string; label?: string } = {}): Promise<T> {
    if (this.closed) return Promise.reject(new CacheStoreError('ECACHE_CLOSED', 'cache is closed'));
    // Process memory answers at once and never fails: no timer, no breaker (the latency histogram still sees it).
    if (this.store.inProcess) {
      const observer = this.observer;
      if (observer === undefined) return op();
      const started = performance.now();
      return op().then((result) => {
        observer.storeCall(operation, (performance.now() - started) / 1000, true);
        return result;
      });
    }
    if (!this.store.isReady()) {
      const err = new CacheStoreError('ECACHE_UNAVAILABLE', 'store is not connected');
      this.failed(err, namespace, label);
      return Promise.reject(err);
    }
    if (this.breaker && !this.breaker.allow()) return Promise.reject(new CacheStoreError('ECACHE_CIRCUIT_OPEN', 'circuit open after repeated store failures'));
    if (this.pendingCalls >= MAX_PENDING_STORE_CALLS) {
      const err = new CacheStoreError('ECACHE_UNAVAILABLE', `${MAX_PENDING_STORE_CALLS} store calls still waiting`);
      this.failed(err, namespace, label);
      return Promise.reject(err);
    }
    const observer = this.observer;
    const started = observer ? performance.now() : 0;
    this.pendingCalls++;
    return new Promise<T>((resolve, reject) => {
      const fail = (err: CacheStoreError): void => {
        observer?.storeCall(operation, (performance.now() - started) / 1000, false);
        this.failed(err, namespace, label);
        reject(err);
      };
      const waiter = this.deadlines(timeoutMs).add(() => fail(new CacheStoreError('ECACHE_TIMEOUT', `store did not answer within ${timeoutMs} ms`)));
      let answer: Promise<T>;
      try {
        answer = op();
      } catch (err) {
        answer = Promise.reject(err);
      }
      // Counted until the store itself answers, not until the timeout: that is what queues up in the client.
      answer.then(
        (result) => {
          this.pendingCalls--;
          if (waiter.settled) return;
          waiter.settled = true;
          this.succeeded();
          observer?.storeCall(operation, (performance.now() - started) / 1000, true);
          resolve(result);
        },
        (err: unknown) => {
          this.pendingCalls--;
          if (waiter.settled) return;
          waiter.settled = true;
          fail(err instanceof CacheStoreError ? err : new CacheStoreError('ECACHE_STORE', String((err as Error)?.message ?? err), { cause: err }));
        },
      );
    });
  }

  private deadlines(timeoutMs: number): DeadlineQueue {
    let queue = this.deadlineQueues.get(timeoutMs);
    if (queue === undefined) {
      queue = new DeadlineQueue(timeoutMs);
      this.deadlineQueues.set(timeoutMs, queue);
    }
    return queue;
  }

  private succeeded(): void {
    this.breaker?.success();
    if (this.failing) {
      this.failing = false;
      this.settings.logger.warn({ store: this.store.kind }, 'express-cache-aside: store answers again, caching resumed');
    }
  }

  private failed(err: CacheStoreError, namespace: string | undefined, label?: string): void {
    this.stats.count('errors', namespace);
    this.observer?.decision('errors', label ?? (namespace === undefined ? '' : namespaceFamily(namespace)));
    const opened = this.breaker?.failure() ?? false;
    const now = Date.now();
    // One warning when trouble starts (and at most one per interval after), not one per request.
    if (!this.failing || opened || now - this.lastFailureLog > FAILURE_LOG_INTERVAL_MS) {
      this.failing = true;
      this.lastFailureLog = now;
      this.settings.logger.warn({ store: this.store.kind, code: err.code, err: err.message, circuitOpen: this.breaker?.isOpen() ?? false }, 'express-cache-aside: store failed, serving uncached');
    } else {
      this.settings.logger.debug({ store: this.store.kind, code: err.code, err: err.message }, 'express-cache-aside: store failed');
    }
  }

  /** A fresh entry from the in-process tier, synchronously: the hottest hits skip the promise and the store. */
  peek(namespace: string, key: string): Buffer | undefined {
    const l1 = this.l1;
    if (l1 === undefined || this.closed || (this.uncleared.size > 0 && this.uncleared.has(namespace))) return undefined;
    return l1.get(namespace, key, Date.now());
  }

  /** Looks an entry up in the store (callers ask the in-process tier first, with peek); never rejects. */
  async lookup(namespace: string, key: string, withLock = false, label?: string): Promise<Lookup> {
    if (this.closed) return bypass('closed');
    if (this.uncleared.size > 0 && this.uncleared.has(namespace)) return bypass('pending-clear');
    // The tier itself was already asked (peek); here it only tags the lookup so a racing clear wins.
    const l1 = this.l1;
    const seq = l1 !== undefined && l1.usable ? l1.seq() : 0;
    let found;
    try {
      found = await this.call('lookup', () => this.store.lookup(namespace, key, withLock), { namespace, label });
    } catch (err) {
      return bypass((err as CacheStoreError).code === 'ECACHE_TIMEOUT' ? 'timeout' : (err as CacheStoreError).code === 'ECACHE_CIRCUIT_OPEN' ? 'circuit-open' : 'error');
    }
    const payload = found.payload;
    if (payload !== null && isEnvelope(payload)) {
      const now = Date.now();
      const state = entryState(payload, now);
      if (state === 'hit' && seq !== 0) l1!.set(namespace, key, payload, seq, freshUntil(payload), now);
      if (state !== 'miss') return { state, payload, generation: found.generation, locked: found.locked, reason: undefined, seq };
    }
    return { state: 'miss', payload: null, generation: found.generation, locked: found.locked, reason: undefined, seq };
  }

  /**
   * Gets a fill ready: the generation to write under and, withLock, the
   * cross-process fill lock (token null: another process holds it).
   * Resolves undefined when the store failed: then nothing is written.
   */
  async prepareFill(namespace: string, key: string, withLock: boolean, seq: number, label?: string): Promise<FillTarget | undefined> {
    const token = withLock ? uniqueToken() : undefined;
    try {
      const { generation, locked, payload } = await this.call('prepare', () => this.store.prepareFill(namespace, key, token, this.settings.lockTtlMs), { namespace, label });
      const landed = payload !== null && isEnvelope(payload) && entryState(payload, Date.now()) === 'hit' ? payload : null;
      return { generation, seq, token: locked ? token! : null, landed };
    } catch {
      return undefined;
    }
  }

  /**
   * Writes an entry in the background under the generation its fill saw, and
   * releases the fill's lock in the same round trip; resolves whether it was
   * stored, never rejects.
   */
  write(namespace: string, key: string, fill: FillTarget, payload: Buffer, ttlMs: number, label?: string): Promise<boolean> {
    if (fill.seq !== 0) this.l1?.set(namespace, key, payload, fill.seq, freshUntil(payload), Date.now());
    const generation = fill.generation;
    const release = fill.token ?? undefined;
    const pending = this.call('write', () => this.store.write(namespace, key, generation, payload, ttlMs, release), { timeoutMs: this.backgroundTimeoutMs, namespace, label }).then(
      (written) => {
        if (!written) this.notStored(namespace, key, 'cleared while filling');
        return written;
      },
      () => false,
    );
    this.pendingWrites.add(pending);
    void pending.finally(() => this.pendingWrites.delete(pending));
    return pending;
  }

  /** Resolves once every write started so far has settled. */
  async idle(): Promise<void> {
    while (this.pendingWrites.size > 0) await Promise.all([...this.pendingWrites]);
  }

  /**
   * Clears namespaces; resolves true when the store confirmed it. On failure
   * the namespaces are served uncached by this process and the clear is
   * retried in the background until it succeeds.
   */
  async clear(namespaces: readonly string[]): Promise<boolean> {
    if (namespaces.length === 0) return true;
    this.forgetFills(namespaces);
    this.l1?.drop(namespaces);
    try {
      await this.call('clear', () => this.clearAndPublish(namespaces));
      for (const namespace of namespaces) {
        this.uncleared.delete(namespace);
        this.recentClears.set(namespace, true);
      }
      return true;
    } catch (err) {
      if (this.closed) return false;
      for (const namespace of namespaces) this.uncleared.add(namespace);
      this.settings.logger.error({ namespaces, code: (err as CacheStoreError).code }, 'express-cache-aside: clear failed; serving these namespaces uncached and retrying');
      this.scheduleClearRetry(CLEAR_RETRY_FIRST_MS);
      return false;
    }
  }

  // Other instances drop their in-process copies before this clear's response leaves.
  private async clearAndPublish(namespaces: readonly string[]): Promise<void> {
    await this.store.clear(namespaces);
    await this.l1?.publish(namespaces);
  }

  /** Namespaces whose clear has not yet reached the store. */
  unclearedNamespaces(): string[] {
    return [...this.uncleared];
  }

  private scheduleClearRetry(delayMs: number): void {
    if (this.clearRetry || this.closed) return;
    const timer = setTimeout(() => {
      this.clearRetry = undefined;
      const namespaces = [...this.uncleared];
      if (namespaces.length === 0) return;
      // Straight to the store (the breaker must not keep a retry from probing), bounded like all background work.
      withTimeout(this.clearAndPublish(namespaces), this.backgroundTimeoutMs).then(
        () => {
          for (const namespace of namespaces) {
            this.uncleared.delete(namespace);
            this.recentClears.set(namespace, true);
          }
          this.settings.logger.warn({ namespaces }, 'express-cache-aside: retried clear succeeded');
        },
        () => this.scheduleClearRetry(Math.max(CLEAR_RETRY_FIRST_MS, Math.min(delayMs * 2, CLEAR_RETRY_MAX_MS))),
      );
    }, delayMs);
    timer.unref();
    this.clearRetry = { timer, delayMs };
  }

  /** Takes a lock: a token when taken, null when another holds it, undefined when the store failed. */
  async lock(namespace: string, key: string, kind: LockKind, ttlMs = this.settings.lockTtlMs): Promise<string | null | undefined> {
    const token = uniqueToken();
    try {
      return (await this.call('lock', () => this.store.acquireLock(namespace, key, kind, token, ttlMs), { namespace })) ? token : null;
    } catch {
      return undefined;
    }
  }

  /** Releases a lock in the background. */
  unlock(namespace: string, key: string, kind: LockKind, token: string): void {
    this.call('unlock', () => this.store.releaseLock(namespace, key, kind, token), { timeoutMs: this.backgroundTimeoutMs, namespace }).catch(() => {});
  }

  /** Keeps a lock for ttlMs more, in the background (a failed refresh holds it through the backoff). */
  hold(namespace: string, key: string, kind: LockKind, token: string, ttlMs: number): void {
    this.call('hold', () => this.store.holdLock(namespace, key, kind, token, ttlMs), { timeoutMs: this.backgroundTimeoutMs, namespace }).catch(() => {});
  }

  /**
   * Waits up to lockWaitMs for another process to fill an entry. Resolves the
   * entry, or null when the wait ended without one (the other process gave
   * up, the store failed, or time ran out): then the caller fills it itself.
   */
  async waitForFill(namespace: string, key: string, label?: string): Promise<Buffer | null> {
    this.stats.lockWaits++;
    const deadline = Date.now() + this.settings.lockWaitMs;
    while (Date.now() < deadline) {
      await sleep(Math.min(POLL_INTERVAL_MS, Math.max(1, deadline - Date.now())));
      const found = await this.lookup(namespace, key, true, label);
      if (found.state === 'hit' || found.state === 'stale') return found.payload;
      if (found.state === 'bypass' || !found.locked) return null;
    }
    this.stats.lockTimeouts++;
    return null;
  }

  /**
   * Runs `fill` once per entry in this process: concurrent callers for the
   * same entry share the first caller's promise.
   */
  coalesce(kind: 'response' | 'value', namespace: string, key: string, fill: () => Promise<Buffer | null>): { leader: boolean; result: Promise<Buffer | null> } {
    const id = `${encodePart(namespace)}:${kind}:${key}`;
    const running = this.inflight.get(id);
    if (running) return { leader: false, result: running };
    const result = fill().finally(() => {
      if (this.inflight.get(id) === result) this.inflight.delete(id);
    });
    this.inflight.set(id, result);
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

  /** Stops timers; the store's client stays the user's. */
  async close(): Promise<void> {
    this.closed = true;
    for (const queue of this.deadlineQueues.values()) queue.stop();
    if (this.clearRetry) clearTimeout(this.clearRetry.timer);
    this.clearRetry = undefined;
    await Promise.allSettled([...this.pendingWrites]);
    await this.l1?.close();
    await this.store.close();
  }
}
