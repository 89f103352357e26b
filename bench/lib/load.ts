// The load generator: autocannon, run in the orchestrator process (never in
// a server process), with latencies recorded at microsecond resolution
// (autocannon's own histogram rounds to whole milliseconds).

import autocannon from 'autocannon';
import { percentile } from './stats';

/** What to request and how hard. */
export interface LoadOptions {
  port: number;
  /** A fixed list the connections cycle through, or a function of a global counter (unique paths). */
  paths: readonly string[] | ((n: number) => string);
  connections: number;
  seconds: number;
  /** Keep every latency with its completion time (for looking at a moment of the run). */
  keepSamples?: boolean;
  /** Request headers every request carries (e.g. Accept-Encoding). */
  headers?: Record<string, string>;
}

/** Every 2xx response of a run: its latency and when it completed (ms since the epoch). */
export interface LoadSamples {
  latencyMs: Float64Array;
  completedAtMs: Float64Array;
}

/** One load run's outcome. */
export interface LoadResult {
  requestsPerSecond: number;
  /** Responses with a 2xx status. */
  ok: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** Socket errors and timeouts. */
  errors: number;
  non2xx: number;
  /** CPU the load generator itself used, as a share of one core (near 1: it may be the bottleneck). */
  clientCpu: number;
  samples?: LoadSamples;
}

/** A growable array of float samples (a run records ~10^5 latencies). */
class Samples {
  private data = new Float64Array(1 << 16);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  values(): Float64Array {
    return this.data.slice(0, this.length);
  }

  sorted(): Float64Array {
    return this.values().sort();
  }
}

/** Runs autocannon against 127.0.0.1:port for `seconds` and summarises it. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { paths, headers } = options;
  let counter = 0;
  const requests =
    typeof paths === 'function'
      ? [{ method: 'GET', headers, setupRequest: (request: object) => ({ ...request, path: paths(++counter) }) }]
      : paths.map((path) => ({ method: 'GET', path, headers }));

  const latencies = new Samples();
  const completedAt = options.keepSamples ? new Samples() : undefined;
  const cpuBefore = process.cpuUsage();
  const instance = autocannon({
    url: `http://127.0.0.1:${options.port}`,
    connections: options.connections,
    duration: options.seconds,
    timeout: 10,
    requests,
  });
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
    if (statusCode >= 200 && statusCode < 300) {
      latencies.push(responseTimeMs);
      completedAt?.push(performance.timeOrigin + performance.now());
    }
  });
  const result = await instance;
  const cpu = process.cpuUsage(cpuBefore);

  const sorted = latencies.sorted();
  return {
    requestsPerSecond: latencies.length / result.duration,
    ok: latencies.length,
    seconds: result.duration,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.length > 0 ? (sorted[sorted.length - 1] ?? NaN) : NaN,
    meanMs: sorted.length > 0 ? sorted.reduce((sum, value) => sum + value, 0) / sorted.length : NaN,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    clientCpu: (cpu.user + cpu.system) / 1e6 / result.duration,
    samples: completedAt ? { latencyMs: latencies.values(), completedAtMs: completedAt.values() } : undefined,
  };
}
