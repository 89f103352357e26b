/**
 * Clears of namespaces, tags and everything, and what keeps them from being
 * lost. A clear that finds the store disconnected (its client reconnecting)
 * first waits up to clearWaitMs for it to come back and tries again, so a
 * short outage does not let other instances serve old data after the
 * mutation's response. A clear the store still did not take leaves its
 * targets pending: this process serves them uncached (a pending namespace:
 * its reads; a pending tag: reads of entries that carry it; a pending clear
 * of everything: every read) and retries the clear in the background until
 * it lands. Clears of the last minute are applied again when the store
 * reconnects (a failover may have lost them).
 *
 * Each clear carries a sequence number, and a namespace stays pending until
 * a clear at least as new as its newest wanted one succeeds: a late success
 * of an older (retried) clear never settles a newer one. One retry runs at a
 * time, through the store gate (breaker, pending-call cap, timeout), with
 * backoff. The pending set is bounded (MAX_PENDING_CLEARS): see `overflowed`.
 */
import { LRUCache } from 'lru-cache';
import type { CacheStoreError } from './errors';
import type { Decisions } from './decisions';
import { encodeTag } from './keys';
import type { L1Tier } from './l1-tier';
import type { CacheSettings } from './options';
import type { StoreGate } from './store-gate';
import type { Store } from './stores/store';

/** Clears this recent are applied again when the store reconnects: a failover may have lost them. */
const RECENT_CLEAR_MS = 60_000;
const CLEAR_RETRY_FIRST_MS = 100;
const CLEAR_RETRY_MAX_MS = 5000;
/**
 * Most namespaces and tags kept pending. Past it, this process serves every
 * read around the cache (BYPASS, `pending-clear`) until the pending set is
 * empty again; the clears of targets past the bound are dropped (logged with
 * a count), so other instances keep their entries of those until TTL.
 */
export const MAX_PENDING_CLEARS = 10_000;
/** Namespaces a log line lists by name; the rest are only counted. */
const LOGGED_NAMESPACES = 20;

/** What one clear covers: namespaces, tags (as given), everything; soft marks entries stale instead of dropping them. */
export interface ClearTargets {
  namespaces: readonly string[];
  tags: readonly string[];
  all: boolean;
  soft?: boolean;
}

/** A pending or recent target: its kind and name, the newest clear wanted of it, and whether every wanted clear was soft. */
interface Wanted {
  kind: 'namespace' | 'tag' | 'all';
  name: string;
  sequence: number;
  soft: boolean;
}

/** Map keys of targets: a namespace as it is, a tag by its encoding behind a NUL, everything as a lone NUL. */
const tagId = (encoded: string): string => `\0${encoded}`;
const ALL_ID = '\0';

function idOf(kind: Wanted['kind'], name: string): string {
  return kind === 'namespace' ? name : kind === 'tag' ? tagId(encodeTag(name)) : ALL_ID;
}

/** A bounded view of a clear for a log line: the first few names and how many in all. */
function forLog(targets: ClearTargets): { namespaces: string[]; tags: string[]; count: number; all?: true } {
  const view = {
    namespaces: targets.namespaces.slice(0, LOGGED_NAMESPACES),
    tags: targets.tags.slice(0, LOGGED_NAMESPACES),
    count: targets.namespaces.length + targets.tags.length,
  };
  return targets.all ? { ...view, all: true } : view;
}

/** The targets of a list of wanted clears, split for the store (hard and soft clears are separate calls). */
function batches(wanted: readonly Wanted[]): { hard: ClearTargets; soft: ClearTargets } {
  const hard: ClearTargets = { namespaces: [], tags: [], all: false };
  const soft: ClearTargets = { namespaces: [], tags: [], all: false, soft: true };
  for (const w of wanted) {
    const into = w.soft ? soft : hard;
    if (w.kind === 'all') hard.all = true;
    else if (w.kind === 'namespace') (into.namespaces as string[]).push(w.name);
    else (into.tags as string[]).push(w.name);
  }
  return { hard, soft };
}

/** The clears of one cache. */
export class Clears {
  /** Targets whose clear has not reached the store, by id (idOf), with the newest clear wanted. */
  private readonly pending = new Map<string, Wanted>();
  private pendingTags = 0;
  private readonly recentClears = new LRUCache<string, Wanted>({ max: 10_000, ttl: RECENT_CLEAR_MS });
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
    /** Drops what this process holds of the targets before the clear goes out: in-flight fills and in-process copies. */
    private readonly forget: (targets: ClearTargets) => void,
    private readonly l1: L1Tier | undefined,
    private readonly decisions: Decisions,
    /** The engine's fill TTL: a cleared tag's record lives at least this long, so fills in flight see the clear (stores/store.ts). */
    private readonly fillTtlMs: number,
  ) {
    store.onReconnect(() => this.reapplyRecent());
  }

  /** Whether reads of the namespace must be served uncached: its clear (or a clear of everything) has not reached the store yet. */
  isPending(namespace: string): boolean {
    if (this.pending.size === 0) return false;
    return this.overflowed || this.pending.has(namespace) || this.pending.has(ALL_ID);
  }

  /** Whether an entry carrying these (encoded) tags must be served uncached: a clear of one of them has not reached the store. */
  tagsPending(encodedTags: readonly string[]): boolean {
    if (this.pendingTags === 0) return false;
    return encodedTags.some((tag) => this.pending.has(tagId(tag)));
  }

  /** Namespaces whose clear has not yet reached the store. */
  pendingNamespaces(): string[] {
    return [...this.pending.values()].filter((w) => w.kind === 'namespace').map((w) => w.name);
  }

  /** How many namespaces and tags are pending, and whether the bound was hit. */
  pendingCount(): { count: number; overflowed: boolean } {
    return { count: this.pending.size, overflowed: this.overflowed };
  }

  /**
   * Clears namespaces (and, given, tags or everything); resolves true when
   * the store confirmed it. On failure the targets are served uncached by
   * this process and the clear is retried in the background until it succeeds.
   */
  async clear(namespaces: readonly string[], more: { tags?: readonly string[]; all?: boolean; soft?: boolean } = {}): Promise<boolean> {
    const targets: ClearTargets = { namespaces, tags: more.tags ?? [], all: more.all === true, soft: more.soft === true };
    if (namespaces.length === 0 && targets.tags.length === 0 && !targets.all) return true;
    const sequence = ++this.sequence;
    const wanted = this.wantedOf(targets, sequence);
    this.forget(targets);
    try {
      await this.gate.callOnceConnected('clear', () => this.clearAndPublish(targets), this.settings.clearWaitMs);
      this.decisions.cleared(targets, true);
      this.settled(wanted);
      return true;
    } catch (err) {
      this.decisions.cleared(targets, false);
      if (this.closed) return false;
      this.want(wanted);
      const code = (err as CacheStoreError).code;
      this.settings.logger.error(
        { ...forLog(targets), code },
        'express-cache-aside: clear failed; serving what it covers uncached and retrying',
      );
      this.scheduleRetry(CLEAR_RETRY_FIRST_MS);
      return false;
    }
  }

  private wantedOf(targets: ClearTargets, sequence: number): Wanted[] {
    const soft = targets.soft === true;
    const wanted: Wanted[] = targets.namespaces.map((name) => ({ kind: 'namespace', name, sequence, soft }));
    for (const name of targets.tags) wanted.push({ kind: 'tag', name, sequence, soft });
    if (targets.all) wanted.push({ kind: 'all', name: '', sequence, soft: false });
    return wanted;
  }

  /** Marks targets pending, within the bound; a hard clear wanted once stays hard. */
  private want(wanted: readonly Wanted[]): void {
    let dropped = 0;
    for (const w of wanted) {
      const id = idOf(w.kind, w.name);
      const before = this.pending.get(id);
      if (before === undefined && this.pending.size >= MAX_PENDING_CLEARS && w.kind !== 'all') {
        dropped++;
        continue;
      }
      if (before === undefined && w.kind === 'tag') this.pendingTags++;
      this.pending.set(id, { ...w, soft: w.soft && (before?.soft ?? true), sequence: Math.max(w.sequence, before?.sequence ?? 0) });
    }
    if (dropped > 0) {
      if (!this.overflowed) {
        this.settings.logger.error(
          { pending: this.pending.size, dropped },
          `express-cache-aside: more than ${MAX_PENDING_CLEARS} namespaces and tags wait for a clear; ` +
            'serving every read uncached until they are cleared',
        );
      }
      this.overflowed = true;
    }
  }

  /** Clears landed: settles each target no newer clear is wanted for. */
  private settled(wanted: readonly Wanted[]): void {
    for (const w of wanted) {
      const id = idOf(w.kind, w.name);
      const newest = this.pending.get(id);
      if (newest !== undefined && newest.sequence > w.sequence) continue;
      if (newest !== undefined) {
        this.pending.delete(id);
        if (w.kind === 'tag') this.pendingTags--;
      }
      this.recentClears.set(id, w);
    }
    if (this.pending.size === 0) this.overflowed = false;
  }

  // Other instances drop their in-process copies before this clear's response leaves.
  private async clearAndPublish(targets: ClearTargets): Promise<void> {
    if (targets.namespaces.length === 0 && targets.tags.length === 0 && !targets.all) return;
    const soft = { soft: targets.soft === true, fillTtlMs: this.fillTtlMs };
    await Promise.all([
      targets.all ? this.store.clearAll() : undefined,
      targets.namespaces.length > 0 ? this.store.clearNamespaces(targets.namespaces, soft) : undefined,
      targets.tags.length > 0 ? this.store.clearTags(targets.tags, soft) : undefined,
    ]);
    await this.l1?.publish(targets);
  }

  /**
   * After a reconnect (a Sentinel failover, say), the clears of the last
   * minute may have been acknowledged by a node whose writes were then
   * discarded: apply them again. A clear is safe to repeat.
   */
  private reapplyRecent(): void {
    const recent = [...this.recentClears.values()];
    if (recent.length === 0 || this.closed) return;
    this.settings.logger.warn(
      { targets: recent.length },
      'express-cache-aside: store reconnected; applying the last minute of clears again',
    );
    const sequence = ++this.sequence;
    const wanted = recent.map((w) => ({ ...w, sequence }));
    this.want(wanted);
    const { hard, soft } = batches(wanted);
    this.forget(hard);
    this.forget(soft);
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
    const sent = [...this.pending.values()];
    if (sent.length === 0) return;
    const { hard, soft } = batches(sent);
    // Through the gate like any store call: the breaker's probe, the pending-call cap and a background timeout bound it.
    let answered: Promise<unknown> = Promise.resolve();
    try {
      await this.gate.call('clear', () => (answered = Promise.all([this.clearAndPublish(hard), this.clearAndPublish(soft)])), {
        timeoutMs: this.backgroundTimeoutMs,
      });
    } catch {
      this.pendingRetryDelay = Math.max(CLEAR_RETRY_FIRST_MS, Math.min(delayMs * 2, CLEAR_RETRY_MAX_MS));
      // A timed-out retry's commands still wait in the client (a paused server): the next retry waits for their
      // answer, so retries of up to MAX_PENDING_CLEARS namespaces each never pile up there.
      await answered.catch(() => undefined);
      return;
    }
    // Each target is settled by the sequence it was sent with, never by a newer clear wanted since.
    this.settled(sent);
    this.pendingRetryDelay = CLEAR_RETRY_FIRST_MS;
    this.settings.logger.warn(forLog(hard), 'express-cache-aside: retried clear succeeded');
  }

  /** Stops the retry timer. */
  close(): void {
    this.closed = true;
    if (this.retry?.timer) clearTimeout(this.retry.timer);
    this.retry = undefined;
  }
}
