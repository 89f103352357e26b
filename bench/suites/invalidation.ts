// Suite "invalidation": runs bench/tasks/invalidation.ts in its own process
// (the orchestrator never imports the package) and returns its timings.

import { NotAvailable, runTask } from '../lib/child';
import type { BenchConfig } from '../lib/config';
import { describeError } from '../lib/protocol';
import { formatMs, markdownTable } from '../lib/report';
import { median, percentile, summarize } from '../lib/stats';
import type { InvalidationSize } from '../tasks/invalidation';

/** The namespace sizes measured. */
export const INVALIDATION_SIZES = [10, 1_000, 100_000] as const;

/** The timings per size, or why there are none. */
export interface InvalidationOutcome {
  sizes: InvalidationSize[];
  unavailable?: string;
}

/** Fills and clears namespaces of 10, 1,000 and 100,000 entries. */
export async function runInvalidation(config: BenchConfig, runPrefix: string): Promise<InvalidationOutcome> {
  try {
    const sizes = await runTask<InvalidationSize[]>(
      'invalidation',
      {
        BENCH_PREFIX: `${runPrefix}:invalidation`,
        INVALIDATION_SIZES: INVALIDATION_SIZES.join(','),
        INVALIDATION_RUNS: String(config.invalidationRuns),
        INVALIDATION_RUNS_LARGE: String(config.invalidationRunsLarge),
      },
      5 * 60_000,
    );
    return { sizes };
  } catch (error) {
    const reason = error instanceof NotAvailable ? error.reason : describeError(error);
    console.log(`[invalidation] NOT AVAILABLE: ${reason}`);
    return { sizes: [], unavailable: reason };
  }
}

/** Median per size, and the largest median over the smallest (flat: ≤ 2). */
export function invalidationSpread(outcome: InvalidationOutcome): { medians: number[]; growth: number } {
  const medians = outcome.sizes.map((size) => median(size.timesMs));
  return { medians, growth: medians.length ? Math.max(...medians) / Math.min(...medians) : NaN };
}

/** The invalidation table of RESULTS.md. */
export function invalidationTable(outcome: InvalidationOutcome): string {
  const rows = outcome.sizes.map((size) => {
    const sorted = [...size.timesMs].sort((a, b) => a - b);
    const times = summarize(size.timesMs);
    return [
      size.entries.toLocaleString('en-US'),
      String(size.runs),
      formatMs(times.median, 3),
      formatMs(percentile(sorted, 0.9), 3),
      `${formatMs(times.min, 3)}–${formatMs(times.max, 3)}`,
      size.keysAfterFill.toLocaleString('en-US'),
      `${size.fillSeconds.toFixed(2)} s`,
      size.clearedEveryTime ? 'yes' : '**no**',
    ];
  });
  return markdownTable(
    ['entries in namespace', 'timed runs', 'median ms', 'p90 ms', 'min–max ms', 'keys after fill', 'fill time', 'next read missed'],
    rows,
    ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}
