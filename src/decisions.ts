/**
 * What the cache did, counted and told: the counters behind `cache.stats()`,
 * the observer (metrics), and the debug line per decision. Only this file
 * writes the counters; the rest of the code reports through a Recorder (one
 * per route, made at mount time, so a hit allocates nothing) or the methods here.
 */
import { namespaceFamily, type CacheObserver } from './metrics';
import type { CacheSettings } from './options';
import { StatsCounter, type Outcome } from './stats';
import type { BypassReason, CacheStats, NotStoredReason } from './types';

const DECISION_NAMES: Record<Outcome, string> = { hits: 'HIT', misses: 'MISS', stale: 'STALE', bypasses: 'BYPASS', errors: 'ERROR' };

/** The decisions of one cache. */
export class Decisions {
  private readonly counter = new StatsCounter();

  constructor(
    private readonly settings: Pick<CacheSettings, 'logger' | 'loggerGiven'>,
    readonly observer: CacheObserver | undefined,
  ) {}

  /** Whether per-decision debug lines are wanted (pino's isLevelEnabled when the logger has it). */
  debugEnabled(): boolean {
    const logger = this.settings.logger as { isLevelEnabled?: (level: string) => boolean };
    return typeof logger.isLevelEnabled === 'function' ? logger.isLevelEnabled('debug') : this.settings.loggerGiven;
  }

  /** Counts one outcome, tells the observer, and logs the decision and why at debug level (never a body or header value). */
  record(outcome: Outcome, namespace: string, key: string | undefined, reason: BypassReason | undefined, label: string | undefined): void {
    this.counter.count(outcome, namespace);
    this.observer?.decision(outcome, label ?? namespaceFamily(namespace));
    if (this.debugEnabled()) {
      this.settings.logger.debug(
        { namespace, key, reason },
        `express-cache-aside: ${DECISION_NAMES[outcome]}${reason ? `: ${reason}` : ''}`,
      );
    }
  }

  /** A recorder for one route or front end: decisions carry its metrics label. */
  recorder(label: string | undefined): Recorder {
    return new Recorder(this, label);
  }

  /** Counts a failure (a store call, or an invalidate that could not work out its namespaces), in total and for the namespace. */
  error(namespace: string | undefined, label: string | undefined): void {
    this.counter.count('errors', namespace);
    this.observer?.decision('errors', label ?? (namespace === undefined ? '' : namespaceFamily(namespace)));
  }

  /** Logs why an answer was not stored. */
  notStored(namespace: string, key: string, reason: NotStoredReason): void {
    if (this.debugEnabled()) this.settings.logger.debug({ namespace, key, reason }, `express-cache-aside: not stored: ${reason}`);
  }

  /** Counts a clear: what it covered, and whether the store took it (else it is retried, and counted again when the retry lands). */
  cleared(targets: { namespaces: readonly string[]; tags: readonly string[]; all: boolean; soft?: boolean }, ok: boolean): void {
    const clears = this.counter.clears;
    if (!ok) clears.failed++;
    else {
      clears.namespaces += targets.namespaces.length;
      clears.tags += targets.tags.length;
      if (targets.all) clears.all++;
      if (targets.soft) clears.soft++;
    }
    const observer = this.observer;
    if (observer?.clear === undefined) return;
    if (targets.namespaces.length > 0) observer.clear('namespace', targets.namespaces.length, ok);
    if (targets.tags.length > 0) observer.clear('tag', targets.tags.length, ok);
    if (targets.all) observer.clear('all', 1, ok);
  }

  /** Counts a background refresh that ran. */
  refreshed(): void {
    this.counter.refreshes++;
  }

  /** Counts a miss that waits for another process's fill. */
  lockWaitStarted(): void {
    this.counter.lockWaits++;
  }

  /** Counts a wait that ran out of time without the entry. */
  lockWaitTimedOut(): void {
    this.counter.lockTimeouts++;
  }

  /** A copy of the counters. */
  snapshot(): CacheStats {
    return this.counter.snapshot();
  }
}

/** Records the decisions of one route (or of getOrSet) under its metrics label. */
export class Recorder {
  constructor(
    private readonly decisions: Decisions,
    private readonly label: string | undefined,
  ) {}

  /** Served from the cache. */
  hit(namespace: string, key: string): void {
    this.decisions.record('hits', namespace, key, undefined, this.label);
  }

  /** The handler or fetch ran. */
  miss(namespace: string, key: string): void {
    this.decisions.record('misses', namespace, key, undefined, this.label);
  }

  /** A stale copy was served. */
  stale(namespace: string, key: string): void {
    this.decisions.record('stale', namespace, key, undefined, this.label);
  }

  /** Served around the cache, and why. */
  bypass(namespace: string, reason: BypassReason, key?: string): void {
    this.decisions.record('bypasses', namespace, key, reason, this.label);
  }

  /** The metrics label store calls of this front end carry. */
  get metricsLabel(): string | undefined {
    return this.label;
  }
}
