/**
 * Clears of namespaces, and what keeps them from being lost: a clear the
 * store did not take leaves its namespaces served uncached by this process
 * and is retried in the background until it succeeds; clears of the last
 * minute are applied again when the store reconnects (a failover may have
 * lost them).
 */
import { LRUCache } from 'lru-cache';
import { CacheStoreError } from './errors';
import type { L1Tier } from './l1-tier';
import type { CacheSettings } from './options';
import type { StoreGate } from './store-gate';
import type { Store } from './stores/store';

/** Clears this recent are applied again when the store reconnects: a failover may have lost them. */
const RECENT_CLEAR_MS = 60_000;
const CLEAR_RETRY_FIRST_MS = 100;
const CLEAR_RETRY_MAX_MS = 5000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new CacheStoreError('ECACHE_TIMEOUT', `store did not answer within ${ms} ms`)), ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(e); });
  });
}

/** The clears of one cache. */
export class Clears {
  /** Namespaces whose clear failed: served uncached by this process until a clear succeeds. */
  private readonly uncleared = new Set<string>();
  private readonly recentClears = new LRUCache<string, true>({ max: 10_000, ttl: RECENT_CLEAR_MS });
  private retry: { timer: NodeJS.Timeout; delayMs: number } | undefined;
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

  /** Whether a clear of the namespace has not reached the store yet (then it is served uncached). */
  isPending(namespace: string): boolean {
    return this.uncleared.size > 0 && this.uncleared.has(namespace);
  }

  /** Namespaces whose clear has not yet reached the store. */
  pendingNamespaces(): string[] {
    return [...this.uncleared];
  }

  /**
   * Clears namespaces; resolves true when the store confirmed it. On failure
   * the namespaces are served uncached by this process and the clear is
   * retried in the background until it succeeds.
   */
  async clear(namespaces: readonly string[]): Promise<boolean> {
    if (namespaces.length === 0) return true;
    this.forget(namespaces);
    try {
      await this.gate.call('clear', () => this.clearAndPublish(namespaces));
      this.settled(namespaces);
      return true;
    } catch (err) {
      if (this.closed) return false;
      for (const namespace of namespaces) this.uncleared.add(namespace);
      this.settings.logger.error({ namespaces, code: (err as CacheStoreError).code }, 'express-cache-aside: clear failed; serving these namespaces uncached and retrying');
      this.scheduleRetry(CLEAR_RETRY_FIRST_MS);
      return false;
    }
  }

  private settled(namespaces: readonly string[]): void {
    for (const namespace of namespaces) {
      this.uncleared.delete(namespace);
      this.recentClears.set(namespace, true);
    }
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
    for (const namespace of namespaces) this.uncleared.add(namespace);
    this.forget(namespaces);
    this.scheduleRetry(0);
  }

  private scheduleRetry(delayMs: number): void {
    if (this.retry || this.closed) return;
    const timer = setTimeout(() => {
      this.retry = undefined;
      const namespaces = [...this.uncleared];
      if (namespaces.length === 0) return;
      // Straight to the store (the breaker must not keep a retry from probing), bounded like all background work.
      withTimeout(this.clearAndPublish(namespaces), this.backgroundTimeoutMs).then(
        () => {
          this.settled(namespaces);
          this.settings.logger.warn({ namespaces }, 'express-cache-aside: retried clear succeeded');
        },
        () => this.scheduleRetry(Math.max(CLEAR_RETRY_FIRST_MS, Math.min(delayMs * 2, CLEAR_RETRY_MAX_MS))),
      );
    }, delayMs);
    timer.unref();
    this.retry = { timer, delayMs };
  }

  /** Stops the retry timer. */
  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry.timer);
    this.retry = undefined;
  }
}
