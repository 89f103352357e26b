/**
 * Micro-bench of the store's hit path, on a redis-server this script starts:
 * the first store's lookup (a bare MGET of the namespace record and the
 * entry, checked in Node), the fast path the engine uses for entries it last
 * saw without tags (lookupEntry with expectPlain: one MGET of the namespace
 * record, the entry and the global record), and the full lookupEntry (one
 * script: namespace, global record, entry, tags, lock on a miss) with 0, 1
 * and 8 tags.
 * Interleaved rounds; reports the median per variant of sequential latency
 * (1 in flight), throughput (32 in flight), and CPU per lookup: Redis'
 * (INFO cpu, user + sys) and this process' (process.cpuUsage). CPU time is
 * the figure to trust on a loaded machine: wall times include preemption.
 * Run: npx tsx bench/store-v2-micro.ts
 */
import { namespaceKeys } from '../src/keys';
import { RedisStore } from '../src/stores/redis-store';
import { uniqueToken } from '../src/tokens';
import { startRedis } from '../test/helpers/redis-server';

const ROUNDS = 7;
const SEQUENTIAL_OPS = 4000;
const CONCURRENT_OPS = 20000;
const IN_FLIGHT = 32;

/** Appends one round's sample to a variant's series. */
function addSample(series: Record<string, number[]>, name: string, value: number): void {
  const samples = series[name];
  if (samples === undefined) series[name] = [value];
  else samples.push(value);
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const server = await startRedis();
  const client = server.client({ maxRetriesPerRequest: 20 });
  const admin = server.client();
  try {
    const store = new RedisStore(client, 'bench');
    const payload = Buffer.alloc(2048, 1);
    // Entries with 0, 1 and 8 tags.
    for (const count of [0, 1, 8]) {
      const found = await store.lookupEntry('v2', `k${count}`, { fill: { lockTtlMs: 5000, fillTtlMs: 5000 } });
      const tags = Array.from({ length: count }, (_, i) => `tag-${i}`);
      const outcome = await store.writeEntry('v2', `k${count}`, found.ticket!, payload, { ttlMs: 600_000, tags });
      if (outcome !== 'stored') throw new Error(`seed ${count}: ${outcome}`);
    }
    const lockOptions = { fill: { lockToken: uniqueToken(), lockTtlMs: 5000, fillTtlMs: 5000 } };
    const keys = namespaceKeys('bench', 'v2');
    // What the first store's hit did: MGET of the namespace record and the entry, the generation compared in Node.
    const bareMget = async (): Promise<{ payload: Buffer | null }> => {
      const [g, value] = await client.mgetBuffer(keys.generation, `${keys.entryPrefix}k0`);
      return { payload: g && value && value.compare(g, 0, 16, 0, 16) === 0 ? value.subarray(49) : null };
    };
    const variants: Record<string, () => Promise<unknown>> = {
      'v1 lookup (MGET)': bareMget,
      'fast path (MGET of 3), 0 tags': () => store.lookupEntry('v2', 'k0', { ...lockOptions, expectPlain: true }),
      'v2 lookupEntry, 0 tags': () => store.lookupEntry('v2', 'k0', lockOptions),
      'v2 lookupEntry, 1 tag': () => store.lookupEntry('v2', 'k1', lockOptions),
      'v2 lookupEntry, 8 tags': () => store.lookupEntry('v2', 'k8', lockOptions),
    };
    for (const [name, op] of Object.entries(variants)) {
      const r = (await op()) as { status?: string; payload: Buffer | null };
      if (!r.payload || (r.status !== undefined && r.status !== 'hit')) throw new Error(`${name} is not a hit`);
    }
    const latency: Record<string, number[]> = {};
    const throughput: Record<string, number[]> = {};
    const serverCpu: Record<string, number[]> = {};
    const clientCpu: Record<string, number[]> = {};
    const redisCpuMicros = async (): Promise<number> => {
      const info = String(await admin.info('cpu'));
      const field = (name: string): number => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)![1]);
      return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
    };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, op] of Object.entries(variants)) {
        let started = process.hrtime.bigint();
        for (let i = 0; i < SEQUENTIAL_OPS; i++) await op();
        addSample(latency, name, Number(process.hrtime.bigint() - started) / 1000 / SEQUENTIAL_OPS);
        const redisBefore = await redisCpuMicros();
        const clientBefore = process.cpuUsage();
        started = process.hrtime.bigint();
        let next = 0;
        await Promise.all(
          Array.from({ length: IN_FLIGHT }, async () => {
            while (next++ < CONCURRENT_OPS) await op();
          }),
        );
        addSample(throughput, name, CONCURRENT_OPS / (Number(process.hrtime.bigint() - started) / 1e9));
        const client = process.cpuUsage(clientBefore);
        addSample(clientCpu, name, (client.user + client.system) / CONCURRENT_OPS);
        addSample(serverCpu, name, ((await redisCpuMicros()) - redisBefore) / CONCURRENT_OPS);
      }
    }
    const base = median(throughput['v1 lookup (MGET)']!);
    console.log(`medians of ${ROUNDS} interleaved rounds; ${IN_FLIGHT} in flight for throughput and CPU`);
    console.log('| variant | latency, 1 in flight (µs) | lookups/s | vs MGET | Redis CPU µs/lookup | client CPU µs/lookup |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const name of Object.keys(variants)) {
      const ops = median(throughput[name]!);
      console.log(
        `| ${name} | ${median(latency[name]!).toFixed(1)} | ${Math.round(ops)} | ${(ops / base).toFixed(2)}× | ${median(serverCpu[name]!).toFixed(2)} | ${median(clientCpu[name]!).toFixed(2)} |`,
      );
    }
  } finally {
    client.disconnect();
    admin.disconnect();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
