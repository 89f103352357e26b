/**
 * Clears of namespaces, and what keeps them from being lost. A clear the
 * store did not take leaves its namespaces pending: this process serves
 * them uncached and retries the clear in the background until it lands.
 * Clears of the last minute are applied again when the store reconnects (a
 * failover may have lost them).
 *
 * Each clear carries a sequence number, and a namespace stays pending until
 * a clear at least as new as its newest wanted one succeeds: a late success
 * of an older (retried) clear never settles a newer one. One retry runs at a
 * time, through the store gate (breaker, pending-call cap, timeout), with
 * backoff. The pending set is bounded (MAX_PENDING_CLEARS): see `overflowed`.
 */
import { LRUCache } from 'lru-cache';
import type { CacheStoreError } from './errors';
import type { L1Tier } from './l1-tier';
import type { CacheSettings } from './options';
import type { StoreGate } from './store-gate';
import type { Store } from './stores/store';

/** Clears this recent are applied again when the store reconnects: a failover may have lost them. */
const RECENT_CLEAR_MS = 60_000;
const CLEAR_RETRY_FIRST_MS = 100;
const CLEAR_RETRY_MAX_MS = 5000;
/**
 * Most namespaces kept pending. Past it, this process serves every read
 * around the cache (BYPASS, `pending-clear`) until the pending set is empty
 * again; the clears of namespaces past the bound are dropped (logged with a
 * count), so other instances keep their entries of those until TTL.
 */
export const MAX_PENDING_CLEARS = 10_000;
/** Namespaces a log line lists by name; the rest are only counted. */
const LOGGED_NAMESPACES = 20;

/** A bounded view of namespaces for a log line: the first few and how many in all. */
function forLog(namespaces: readonly string[]): { namespaces: string[]; count: number } {
  return { namespaces: namespaces.slice(0, LOGGED_NAMESPACES), count: namespaces.length };
}

/** The clears of one cache. */
export class Clears {
  /** Namespaces whose clear has not reached the store, with the sequence of the newest clear wanted. */
  private readonly pending = new Map<string, number>();
  private readonly recentClears = new LRUCache<string, true>({ max: 10_000, ttl: RECENT_CLEAR_MS });
  private sequence = 0;
  /** The retry: waiting on its timer, or in flight; never two at once. */
  private retry: { timer: NodeJS.Timeout | undefined; delayMs: number } | undefined;
  /** The next retry's delay: doubled after each failed retry, up to CLEAR_RETRY_MAX_MS. */
  private pendingRetryDelay = CLEAR_RETRY_FIRST_MS;
  /** Set when the pending set hit its bound: every read is served uncached until it is empty again. */
  private overflowed = false;
  private closed = false;

  constructor(
    private readonly settings: CacheSettings,
    private readonly store: Store,
    private readonly gate: StoreGate,
    private readonly backgroundTimeoutMs: number,
    /** Drops what this process holds of the namespaces before the clear goes out: in-flight fills and in-process copies. */
    private readonly forget: (namespaces: readonly string[]) => void,
    private readonly l1: L1Tier | undefined,
  ) {
    store.onReconnect(() => this.reapplyRecent());
  }

  /** Whether reads of the namespace must be served uncached: its clear has not reached the store yet (or the set overflowed). */
  isPending(namespace: string): boolean {
    if (this.pending.size === 0) return false;
    return this.overflowed || this.pending.has(namespace);
  }

  /** Namespaces whose clear has not yet reached the store. */
  pendingNamespaces(): string[] {
    return [...this.pending.keys()];
  }

  /** How many namespaces are pending, and whether the bound was hit. */
  pendingCount(): { count: number; overflowed: boolean } {
    return { count: this.pending.size, overflowed: this.overflowed };
  }

  /**
   * Clears namespaces; resolves true when the store confirmed it. On failure
   * the namespaces are served uncached by this process and the clear is
   * retried in the background until it succeeds.
   */
  async clear(namespaces: readonly string[]): Promise<boolean> {
    if (namespaces.length === 0) return true;
    const sequence = ++this.sequence;
    this.forget(namespaces);
    try {
      await this.gate.call('clear', () => this.clearAndPublish(namespaces));
      this.settled(namespaces, sequence);
      return true;
    } catch (err) {
      if (this.closed) return false;
      this.want(namespaces, sequence);
      const code = (err as CacheStoreError).code;
      this.settings.logger.error({ ...forLog(namespaces), code }, 'express-cache-aside: clear failed; serving these namespaces uncached and retrying');
      this.scheduleRetry(CLEAR_RETRY_FIRST_MS);
      return false;
    }
  }

  /** Marks namespaces pending at this sequence, within the bound. */
  private want(namespaces: readonly string[], sequence: number): void {
    let dropped = 0;
    for (const namespace of namespaces) {
      if (this.pending.has(namespace) || this.pending.size < MAX_PENDING_CLEARS) this.pending.set(namespace, sequence);
      else dropped++;
    }
    if (dropped > 0) {
      if (!this.overflowed) {
        this.settings.logger.error({ pending: this.pending.size, dropped }, `express-cache-aside: more than ${MAX_PENDING_CLEARS} namespaces wait for a clear; serving every read uncached until they are cleared`);
      }
      this.overflowed = true;
    }
  }

  /** A clear at `sequence` landed: settles the namespaces no newer clear is wanted for. */
  private settled(namespaces: readonly string[], sequence: number): void {
    for (const namespace of namespaces) {
      const wanted = this.pending.get(namespace);
      if (wanted !== undefined && wanted > sequence) continue;
      this.pending.delete(namespace);
      this.recentClears.set(namespace, true);
    }
    if (this.pending.size === 0) this.overflowed = false;
  }

  // Other instances drop their in-process copies before this clear's response leaves.
  private async clearAndPublish(namespaces: readonly string[]): Promise<void> {
    await this.store.clear(namespaces);
    await this.l1?.publish(namespaces);
  }

  /**
   * After a reconnect (a Sentinel failover, say), the clears of the last
   * minute may have been acknowledged by a node whose writes were then
   * discarded: apply them again. A clear is safe to repeat.
   */
  private reapplyRecent(): void {
    const namespaces = [...this.recentClears.keys()];
    if (namespaces.length === 0 || this.closed) return;
    this.settings.logger.warn({ namespaces: namespaces.length }, 'express-cache-aside: store reconnected; applying the last minute of clears again');
    this.want(namespaces, ++this.sequence);
    this.forget(namespaces);
    this.scheduleRetry(0);
  }

  /** Starts the retry unless one is waiting or in flight (that one picks up whatever is pending when it runs). */
  private scheduleRetry(delayMs: number): void {
    if (this.retry || this.closed) return;
    const retry: { timer: NodeJS.Timeout | undefined; delayMs: number } = { timer: undefined, delayMs };
    retry.timer = setTimeout(() => {
      retry.timer = undefined;
      void this.runRetry(delayMs).finally(() => {
        if (this.retry === retry) this.retry = undefined;
        if (this.pending.size > 0) this.scheduleRetry(this.pendingRetryDelay);
      });
    }, delayMs);
    retry.timer.unref();
    this.retry = retry;
  }

  private async runRetry(delayMs: number): Promise<void> {
    const sent = [...this.pending];
    if (sent.length === 0) return;
    const namespaces = sent.map(([namespace]) => namespace);
    // Through the gate like any store call: the breaker's probe, the pending-call cap and a background timeout bound it.
    let answered: Promise<unknown> = Promise.resolve();
    try {
      await this.gate.call('clear', () => (answered = this.clearAndPublish(namespaces)), { timeoutMs: this.backgroundTimeoutMs });
    } catch {
      this.pendingRetryDelay = Math.max(CLEAR_RETRY_FIRST_MS, Math.min(delayMs * 2, CLEAR_RETRY_MAX_MS));
      // A timed-out retry's commands still wait in the client (a paused server): the next retry waits for their
      // answer, so retries of up to MAX_PENDING_CLEARS namespaces each never pile up there.
      await answered.catch(() => undefined);
      return;
    }
    // Each namespace is settled by the sequence it was sent with, never by a newer clear wanted since.
    for (const [namespace, sequence] of sent) this.settled([namespace], sequence);
    this.pendingRetryDelay = CLEAR_RETRY_FIRST_MS;
    this.settings.logger.warn(forLog(namespaces), 'express-cache-aside: retried clear succeeded');
  }

  /** Stops the retry timer. */
  close(): void {
    this.closed = true;
    if (this.retry?.timer) clearTimeout(this.retry.timer);
    this.retry = undefined;
  }
}
