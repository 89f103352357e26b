// Sends the shop benchmark's request sequence to the shop instances: a fixed
// number of concurrent connections take the next request of the sequence in
// order, request i goes to instance i mod n (a round-robin load balancer),
// and every answer's status, X-Cache and latency are kept by index.

import http from 'node:http';
import type { ShopRequest } from './shop-workload';

/** X-Cache values, as stored per request. */
export const CACHE_CODES = ['', 'HIT', 'MISS', 'STALE', 'BYPASS'] as const;

/** Every answer of one run, by request index. */
export interface DriveRecord {
  status: Uint16Array;
  /** Index into CACHE_CODES (0: no X-Cache, e.g. a write). */
  cache: Uint8Array;
  latencyMs: Float64Array;
  seconds: number;
  /** Requests that got no answer (socket error, timeout). */
  errors: number;
}

function send(agent: http.Agent, port: number, request: ShopRequest): Promise<{ status: number; cache: string }> {
  return new Promise((resolve, reject) => {
    const body = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: request.path,
        method: request.method,
        agent,
        headers: body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {},
      },
      (res) => {
        res.resume();
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, cache: String(res.headers['x-cache'] ?? '') }));
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`${request.method} ${request.path}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends `sequence` over `connections` connections spread over the instances on `ports`. */
export async function driveSequence(ports: readonly number[], sequence: readonly ShopRequest[], connections: number): Promise<DriveRecord> {
  const agents = ports.map(() => new http.Agent({ keepAlive: true, maxSockets: connections }));
  const record: DriveRecord = {
    status: new Uint16Array(sequence.length),
    cache: new Uint8Array(sequence.length),
    latencyMs: new Float64Array(sequence.length),
    seconds: 0,
    errors: 0,
  };
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < sequence.length) {
      const index = next++;
      const instance = index % ports.length;
      const sentAt = performance.now();
      try {
        const answer = await send(agents[instance]!, ports[instance]!, sequence[index]!);
        record.status[index] = answer.status;
        record.cache[index] = Math.max(0, CACHE_CODES.indexOf(answer.cache as (typeof CACHE_CODES)[number]));
      } catch {
        record.errors += 1;
      }
      record.latencyMs[index] = performance.now() - sentAt;
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  record.seconds = (performance.now() - started) / 1000;
  for (const agent of agents) agent.destroy();
  return record;
}
