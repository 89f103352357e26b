/**
 * Prometheus metrics through prom-client, an optional peer dependency: it is
 * loaded only when `createCache({ metrics: { registry } })` asks for it.
 * Decisions are labelled by namespace family (the part before the first
 * ':', or the route's metricsLabel), so 100,000 `user:N` namespaces make one
 * series, not 100,000.
 */
import type { Outcome } from './stats';
import { fail } from './options';
import type { MetricsOptions } from './types';

/** Receives every decision and every store round trip: metrics plug in here. */
export interface CacheObserver {
  /** One request or call's outcome, under a bounded label (a namespace family, never a namespace). */
  decision(outcome: Outcome, label: string): void;
  /** One store round trip. */
  storeCall(operation: string, seconds: number, ok: boolean): void;
  /** A clear of `count` namespaces or tags, or of everything, taken by the store or not (then retried). */
  clear?(target: 'namespace' | 'tag' | 'all', count: number, ok: boolean): void;
}

/** The bounded label of a namespace: the part before the first ':' ('user:123' → 'user'). */
export function namespaceFamily(namespace: string): string {
  const colon = namespace.indexOf(':');
  return colon === -1 ? namespace : namespace.slice(0, colon);
}

interface CounterLike {
  labels(...values: string[]): { inc(value?: number): void };
}
interface HistogramLike {
  labels(...values: string[]): { observe(value: number): void };
}
interface PromClient {
  Registry: new () => unknown;
  Counter: new (config: object) => CounterLike;
  Histogram: new (config: object) => HistogramLike;
}
interface RegistryLike {
  getSingleMetric(name: string): unknown;
}

const OUTCOMES: Outcome[] = ['hits', 'misses', 'stale', 'bypasses', 'errors'];
const HELP: Record<Outcome, string> = {
  hits: 'Requests and getOrSet calls answered from the cache',
  misses: 'Requests and getOrSet calls that ran the handler or fetch and stored the answer when it could',
  stale: 'Stale copies served while being refreshed or while the origin failed',
  bypasses: 'Requests served around the cache (store error or timeout, Authorization, pending clear)',
  errors: 'Store calls that failed or timed out',
};

function loadPromClient(): PromClient {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('prom-client') as PromClient;
  } catch {
    fail('metrics', 'needs prom-client installed (npm install prom-client)', 'EOPTION_PEER_MISSING');
  }
}

/** Builds the observer that feeds prom-client (options checked by parseMetricsOptions); throws a CacheOptionError without prom-client. */
export function createMetricsObserver(options: MetricsOptions & { prefix: string }): CacheObserver {
  const prom = loadPromClient();
  const registry = options.registry as RegistryLike;
  // Checked after prom-client loads: without it, the missing dependency is the error worth reporting.
  if (typeof registry !== 'object' || registry === null || typeof registry.getSingleMetric !== 'function') {
    fail('metrics.registry', 'must be a prom-client Registry');
  }
  const prefix = options.prefix;

  // Two caches on one registry share the metrics instead of failing on a duplicate name.
  const shared = <T>(name: string, create: (name: string) => T): T => (registry.getSingleMetric(name) as T | undefined) ?? create(name);
  const counter = (outcome: Outcome): CounterLike =>
    shared(
      `${prefix}${outcome}_total`,
      (name) => new prom.Counter({ name, help: HELP[outcome], labelNames: ['family'], registers: [registry] }),
    );
  const counters = Object.fromEntries(OUTCOMES.map((o) => [o, counter(o)])) as Record<Outcome, CounterLike>;
  const duration = shared<HistogramLike>(
    `${prefix}store_duration_seconds`,
    (name) =>
      new prom.Histogram({
        name,
        help: 'Store round-trip time by operation and result',
        labelNames: ['operation', 'result'],
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
        registers: [registry],
      }),
  );
  const clears = shared<CounterLike>(
    `${prefix}clears_total`,
    (name) =>
      new prom.Counter({
        name,
        help: 'Namespaces and tags cleared, and clears of everything, by target and result (error: not taken by the store, retried)',
        labelNames: ['target', 'result'],
        registers: [registry],
      }),
  );

  // Label children are looked up once per (outcome, family), not on every request.
  const children = new Map<string, { inc(): void }>();
  return {
    decision(outcome, family) {
      const id = `${outcome}\0${family}`;
      let child = children.get(id);
      if (!child) {
        child = counters[outcome].labels(family);
        children.set(id, child);
      }
      child.inc();
    },
    storeCall(operation, seconds, ok) {
      duration.labels(operation, ok ? 'ok' : 'error').observe(seconds);
    },
    clear(target, count, ok) {
      clears.labels(target, ok ? 'ok' : 'error').inc(count);
    },
  };
}
