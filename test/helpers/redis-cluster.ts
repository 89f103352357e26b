/**
 * A real Redis Cluster of redis-server processes owned by a test: masters (and
 * optional replicas) on free ports, joined with `redis-cli --cluster create`,
 * and ready only once every node agrees the cluster is ok and a Cluster client
 * can write to every master.
 */
import { execFile } from 'node:child_process';
import Redis, { Cluster, type ClusterOptions } from 'ioredis';
import { freePortWithOffset } from './ports';
import { baseRedisArgs, faultTestClientDefaults, launchRedis, type RedisProcess } from './redis-server';

/** Path of the redis-cli binary; REDIS_CLI_BIN overrides it. */
export const redisCliBin: string = process.env.REDIS_CLI_BIN ?? 'redis-cli';

/** A running cluster and the means to fault or stop it. */
export interface RedisClusterProcess {
  /** Masters first, then replicas if requested. */
  nodes: RedisProcess[];
  ports: number[];
  /** ioredis Cluster connected to the nodes (tracked, closed by stop()). */
  client(options?: ClusterOptions): Cluster;
  pauseAll(): void;
  resumeAll(): void;
  stop(): Promise<void>;
}

/** Options for startCluster. */
export interface StartClusterOptions {
  /** @default 3 */
  masters?: number;
  /** Replicas per master. @default 0 */
  replicas?: number;
  /** Extra redis-server args for every node. */
  args?: string[];
}

const SLOT_COUNT = 16384;
const READY_TIMEOUT_MS = 30000;
// Redis Cluster's bus listens on port + 10000.
const BUS_PORT_OFFSET = 10000;

// CRC16-CCITT (XModem), the hash Redis Cluster uses for key slots.
const crcTable: number[] = Array.from({ length: 256 }, (_, n) => {
  let crc = n << 8;
  for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  return crc;
});

/** The cluster slot of a key, honouring `{hash tags}` as Redis does. */
export function keySlot(key: string): number {
  let hashed = key;
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) hashed = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(hashed, 'utf8')) {
    crc = ((crc << 8) & 0xffff) ^ (crcTable[((crc >> 8) ^ byte) & 0xff] ?? 0);
  }
  return crc % SLOT_COUNT;
}

/** One key for each of `buckets` equal slot ranges, so writing all of them touches every part of the slot space. */
export function keysSpreadOverSlots(prefix: string, buckets = 64): string[] {
  const width = SLOT_COUNT / buckets;
  const found = new Map<number, string>();
  for (let i = 0; found.size < buckets; i += 1) {
    const key = `${prefix}${i}`;
    const bucket = Math.floor(keySlot(key) / width);
    if (!found.has(bucket)) found.set(bucket, key);
  }
  return [...found.values()];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function runRedisCli(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(redisCliBin, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${redisCliBin} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/** Default Cluster client options for fault tests; the caller's options override them. */
function clusterClientOptions(options: ClusterOptions): ClusterOptions {
  return {
    clusterRetryStrategy: (times: number) => Math.min(times * 100, 1000),
    slotsRefreshTimeout: 2000,
    ...options,
    redisOptions: {
      connectTimeout: faultTestClientDefaults.connectTimeout,
      maxRetriesPerRequest: faultTestClientDefaults.maxRetriesPerRequest,
      ...options.redisOptions,
    },
  };
}

/** 3 masters by default, `cluster-enabled yes`, joined with `redis-cli --cluster create`; resolves when every node says cluster_state:ok and a Cluster client can SET/GET keys spread over all slots. */
export async function startCluster(options: StartClusterOptions = {}): Promise<RedisClusterProcess> {
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 0;
  if (masters < 3) throw new RangeError(`startCluster: masters must be at least 3 (redis-cli refuses fewer), got ${masters}`);
  const total = masters * (1 + replicas);
  const extra = options.args ?? [];
  const clients = new Set<Cluster>();
  const started = await Promise.allSettled(
    Array.from({ length: total }, () =>
      launchRedis({
        label: 'redis-cluster-node',
        pickPort: () => freePortWithOffset(BUS_PORT_OFFSET),
        prepare: (port, dir) => [
          ...baseRedisArgs(port, dir),
          '--cluster-enabled',
          'yes',
          // Relative to --dir, so each node keeps its own table.
          '--cluster-config-file',
          'nodes.conf',
          // Long enough that pauseAll()/resumeAll() does not mark nodes failed.
          '--cluster-node-timeout',
          '5000',
          ...extra,
        ],
      }),
    ),
  );
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stop = async (): Promise<void> => {
    for (const cluster of clients) cluster.disconnect();
    clients.clear();
    await Promise.all(nodes.map((node) => node.stop()));
  };
  const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed !== undefined) {
    await stop();
    throw failed.reason;
  }

  const cluster: RedisClusterProcess = {
    nodes,
    ports: nodes.map((node) => node.port),
    client(clientOptions: ClusterOptions = {}): Cluster {
      const startupNodes = nodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
      const client = new Cluster(startupNodes, clusterClientOptions(clientOptions));
      // Fault tests provoke connection errors on purpose; they are not failures.
      client.on('error', () => undefined);
      clients.add(client);
      return client;
    },
    pauseAll(): void {
      for (const node of nodes) node.pause();
    },
    resumeAll(): void {
      for (const node of nodes) node.resume();
    },
    stop,
  };

  try {
    await runRedisCli(
      ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
      READY_TIMEOUT_MS,
    );
    await waitForClusterOk(nodes, total);
    await probeAllSlots(cluster);
    return cluster;
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Polls CLUSTER INFO on every node until all say ok, with every slot assigned and every node known. */
async function waitForClusterOk(nodes: RedisProcess[], total: number): Promise<void> {
  const admins = nodes.map((node) => new Redis({ ...faultTestClientDefaults, port: node.port, lazyConnect: false }));
  for (const admin of admins) admin.on('error', () => undefined);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last: string[] = [];
  try {
    for (;;) {
      last = await Promise.all(admins.map((admin) => admin.cluster('INFO').then(String, (error: Error) => error.message)));
      const ready = last.every(
        (info) =>
          infoField(info, 'cluster_state') === 'ok' &&
          infoField(info, 'cluster_slots_assigned') === String(SLOT_COUNT) &&
          infoField(info, 'cluster_known_nodes') === String(total),
      );
      if (ready) return;
      if (Date.now() > deadline) {
        throw new Error(`cluster not ok within ${READY_TIMEOUT_MS} ms; last CLUSTER INFO:\n${last.join('\n---\n')}`);
      }
      await sleep(100);
    }
  } finally {
    for (const admin of admins) admin.disconnect();
  }
}

/** SET/GET/DEL keys spread over the whole slot space through a Cluster client, retrying until the topology settles. */
async function probeAllSlots(cluster: RedisClusterProcess): Promise<void> {
  const client = cluster.client();
  const keys = keysSpreadOverSlots(`eca-harness-probe-${process.pid}-`);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    for (;;) {
      try {
        await Promise.all(
          keys.map(async (key) => {
            await client.set(key, key);
            const value = await client.get(key);
            if (value !== key) throw new Error(`probe key ${key} read back ${String(value)}`);
            await client.del(key);
          }),
        );
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`cluster client could not SET/GET across slots: ${String(error)}`);
        await sleep(100);
      }
    }
  } finally {
    client.disconnect();
  }
}
