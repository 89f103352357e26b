// Benchmark settings read once from the environment, so a smoke run
// (BENCH_QUICK=1) and a full run share every code path.

/** The suites `npm run bench` can run; BENCH_ONLY picks a subset. */
export const SUITES = ['hits', 'miss', 'invalidation', 'stampede', 'compression', 'l1-staleness', 'shop'] as const;

/** One suite's name. */
export type SuiteName = (typeof SUITES)[number];

/** Everything a run is parameterised by. */
export interface BenchConfig {
  quick: boolean;
  rounds: number;
  roundSeconds: number;
  /** Unmeasured load per variant before round 1, so every server's JIT is warm. */
  jitWarmSeconds: number;
  connections: number;
  redisUrl: string;
  suites: SuiteName[];
  /** Timed invalidations per namespace size (each on a freshly filled namespace). */
  invalidationRuns: number;
  /** The same for the 100,000-entry namespace, whose fill dominates the run time. */
  invalidationRunsLarge: number;
  stampedeSeconds: number;
  stampedeConnections: number;
  /** Mutations on instance A whose staleness window on instance B is measured. */
  stalenessMutations: number;
  /** Least time from one mutation's start to the next's. */
  stalenessSpacingMs: number;
  /** How long the load on B runs (the mutations stop 0.5 s before it ends). */
  stalenessLoadSeconds: number;
  /** Requests of the shop suite's sequence (the same for every variant). */
  shopRequests: number;
  /** Concurrent connections of the shop suite, spread over its three instances. */
  shopConnections: number;
  /** Seed of the shop suite's request sequence. */
  shopSeed: number;
}

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function suiteList(raw: string | undefined): SuiteName[] {
  if (raw === undefined || raw.trim() === '') return [...SUITES];
  const names = raw.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(SUITES as readonly string[]).includes(name)) {
      throw new TypeError(`BENCH_ONLY: unknown suite ${JSON.stringify(name)}; use some of ${SUITES.join(', ')}`);
    }
  }
  return names as SuiteName[];
}

/** Reads BENCH_QUICK, BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_ONLY, BENCH_SHOP_REQUESTS, BENCH_SHOP_SEED and REDIS_URL. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  return {
    quick,
    rounds: Math.round(positiveNumber(env, 'BENCH_ROUNDS', quick ? 1 : 5)),
    roundSeconds: positiveNumber(env, 'BENCH_SECONDS', quick ? 1 : 3),
    jitWarmSeconds: quick ? 0 : 1,
    connections: Math.round(positiveNumber(env, 'BENCH_CONNECTIONS', 32)),
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    suites: suiteList(env.BENCH_ONLY),
    invalidationRuns: quick ? 5 : 50,
    invalidationRunsLarge: quick ? 2 : 5,
    stampedeSeconds: quick ? 5 : 9,
    stampedeConnections: 200,
    stalenessMutations: quick ? 10 : 30,
    stalenessSpacingMs: 150,
    stalenessLoadSeconds: quick ? 4 : 10,
    shopRequests: Math.round(positiveNumber(env, 'BENCH_SHOP_REQUESTS', quick ? 3_000 : 10_000)),
    shopConnections: 16,
    shopSeed: Math.round(positiveNumber(env, 'BENCH_SHOP_SEED', 20_261_125)),
  };
}
