/**
 * Counters of what the cache did, in total and per namespace. The
 * per-namespace map is bounded: past MAX_NAMESPACES distinct namespaces the
 * rest are counted under '(other)', so per-user namespaces cannot grow it
 * without end.
 */
import type { CacheStats, NamespaceStats } from './types';

/** Most namespaces counted one by one. */
export const MAX_NAMESPACES = 10_000;
/** Where namespaces past the bound are counted. */
export const OTHER_NAMESPACES = '(other)';

/** What a request or call did, as counted. */
export type Outcome = 'hits' | 'misses' | 'stale' | 'bypasses' | 'errors';

function emptyNamespace(): NamespaceStats {
  return { hits: 0, misses: 0, stale: 0, bypasses: 0, errors: 0 };
}

/** Mutable counters behind `cache.stats()`. */
export class StatsCounter {
  private readonly total: NamespaceStats = emptyNamespace();
  private readonly byNamespace = new Map<string, NamespaceStats>();
  refreshes = 0;
  lockWaits = 0;
  lockTimeouts = 0;
  /** Clears: namespaces and tags cleared, clears of everything, soft clears, and clears the store did not take (retried). */
  readonly clears = { namespaces: 0, tags: 0, all: 0, soft: 0, failed: 0 };

  /** Counts one outcome for a namespace (or only in total when namespace is undefined). */
  count(outcome: Outcome, namespace: string | undefined): void {
    this.total[outcome]++;
    if (namespace === undefined) return;
    let ns = this.byNamespace.get(namespace);
    if (!ns) {
      const name = this.byNamespace.size < MAX_NAMESPACES ? namespace : OTHER_NAMESPACES;
      ns = this.byNamespace.get(name) ?? emptyNamespace();
      this.byNamespace.set(name, ns);
    }
    ns[outcome]++;
  }

  /** A copy of the counters. */
  snapshot(): CacheStats {
    const namespaces: Record<string, NamespaceStats> = {};
    for (const [name, counts] of this.byNamespace) namespaces[name] = { ...counts };
    return {
      ...this.total,
      refreshes: this.refreshes,
      lockWaits: this.lockWaits,
      lockTimeouts: this.lockTimeouts,
      clears: { ...this.clears },
      namespaces,
    };
  }
}
