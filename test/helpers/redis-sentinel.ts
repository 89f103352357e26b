/**
 * A real Redis Sentinel set owned by a test: one master, one replica and three
 * sentinels (`redis-server <conf> --sentinel`) on free 127.0.0.1 ports, tuned
 * so a killed master fails over in a few seconds.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Redis, { type RedisOptions } from 'ioredis';
import { faultTestClientDefaults, launchRedis, rawCommand, startRedis, type RedisProcess } from './redis-server';

/** A running sentinel set and the means to fail it over or stop it. */
export interface SentinelSet {
  masterName: string;
  /** The process started as master (it may no longer be master after a failover). */
  master: RedisProcess;
  /** The process started as replica (it may be master after a failover). */
  replica: RedisProcess;
  sentinelPorts: number[];
  /** The three sentinel processes. */
  sentinels: RedisProcess[];
  /** ioredis client in sentinel mode ({ sentinels, name }) — tracked, closed by stop(). */
  client(options?: RedisOptions): Redis;
  /** The master port the sentinels report now (first sentinel that answers). */
  currentMasterPort(): Promise<number>;
  /** SIGKILL the current master. */
  killMaster(): Promise<void>;
  /** Resolves with the new master port once the answering sentinels (at least two) all report a master other than oldPort; rejects after timeoutMs. */
  waitForFailover(oldPort: number, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 20000;
const DEFAULT_FAILOVER_TIMEOUT_MS = 30000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/** Polls check every 100 ms until it returns true; rejects with describe()'s text after timeoutMs. */
async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${describe()} (waited ${timeoutMs} ms)`);
    await sleep(100);
  }
}

/** A master, one replica, three sentinels (quorum 2, down-after 1000 ms, failover-timeout 3000 ms); resolves when the replica is in sync and all sentinels know the master, the replica and each other. */
export async function startSentinelSet(options: { masterName?: string } = {}): Promise<SentinelSet> {
  const masterName = options.masterName ?? 'eca-master';
  const processes: RedisProcess[] = [];
  const admins: Redis[] = [];
  const clients = new Set<Redis>();
  let stopPromise: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopPromise ??= (async () => {
      for (const redis of [...clients, ...admins]) redis.disconnect();
      clients.clear();
      // Sentinels first, so they do not react to the data nodes going away.
      const sentinelsFirst = [...processes].reverse();
      await Promise.all(sentinelsFirst.slice(0, 3).map((p) => p.stop()));
      await Promise.all(sentinelsFirst.slice(3).map((p) => p.stop()));
    })();
    return stopPromise;
  };
  const admin = (port: number): Redis => {
    const redis = new Redis({ ...faultTestClientDefaults, port, commandTimeout: 1000 });
    redis.on('error', () => undefined);
    admins.push(redis);
    return redis;
  };

  try {
    // No diskless-sync delay: the replica must be in sync in well under a second.
    const master = await startRedis({ args: ['--repl-diskless-sync-delay', '0'] });
    processes.push(master);
    const replica = await startRedis({
      args: ['--replicaof', '127.0.0.1', String(master.port), '--repl-diskless-sync-delay', '0'],
    });
    processes.push(replica);
    const replicaAdmin = admin(replica.port);
    let replicaInfo = '';
    await waitUntil(
      async () => {
        replicaInfo = await replicaAdmin.info('replication');
        return infoField(replicaInfo, 'master_link_status') === 'up' && infoField(replicaInfo, 'master_sync_in_progress') === '0';
      },
      READY_TIMEOUT_MS,
      () => `replica on ${replica.port} never synced with master ${master.port}:\n${replicaInfo}`,
    );

    const sentinels = await Promise.all(
      [0, 1, 2].map(() =>
        launchRedis({
          label: 'redis-sentinel',
          prepare: async (port, dir) => {
            const confPath = join(dir, 'sentinel.conf');
            // Sentinel rewrites its config file, so it must be a writable file of its own.
            await writeFile(
              confPath,
              [
                `port ${port}`,
                'bind 127.0.0.1',
                `dir ${dir}`,
                'sentinel resolve-hostnames no',
                `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
                `sentinel down-after-milliseconds ${masterName} 1000`,
                `sentinel failover-timeout ${masterName} 3000`,
                `sentinel parallel-syncs ${masterName} 1`,
                '',
              ].join('\n'),
            );
            return [confPath, '--sentinel'];
          },
        }),
      ),
    );
    processes.push(...sentinels);
    const sentinelPorts = sentinels.map((s) => s.port);
    const sentinelAdmins = sentinelPorts.map(admin);

    let lastState: string[] = [];
    await waitUntil(
      async () => {
        const states = await Promise.all(
          sentinelAdmins.map(async (s) => {
            const flat = (await s.call('SENTINEL', 'MASTER', masterName)) as string[];
            const fields = new Map<string, string>();
            for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), String(flat[i + 1]));
            return fields;
          }),
        );
        lastState = states.map((f) => JSON.stringify(Object.fromEntries(f)));
        return states.every(
          (f) => f.get('flags') === 'master' && Number(f.get('num-slaves')) >= 1 && Number(f.get('num-other-sentinels')) >= 2,
        );
      },
      READY_TIMEOUT_MS,
      () => `sentinels never all saw the master, the replica and each other:\n${lastState.join('\n')}`,
    );

    const reportedPorts = async (): Promise<number[]> => {
      const answers = await Promise.all(
        sentinelAdmins.map((s) =>
          (s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName) as Promise<string[] | null>).then(
            (addr) => (addr?.[1] === undefined ? null : Number(addr[1])),
            () => null,
          ),
        ),
      );
      return answers.filter((port): port is number => port !== null);
    };

    const set: SentinelSet = {
      masterName,
      master,
      replica,
      sentinelPorts,
      sentinels,
      client(clientOptions: RedisOptions = {}): Redis {
        const redis = new Redis({
          ...faultTestClientDefaults,
          sentinels: sentinelPorts.map((port) => ({ host: '127.0.0.1', port })),
          name: masterName,
          sentinelRetryStrategy: (times: number) => Math.min(times * 100, 1000),
          ...clientOptions,
        });
        // Fault tests provoke connection errors on purpose; they are not failures.
        redis.on('error', () => undefined);
        clients.add(redis);
        return redis;
      },
      async currentMasterPort(): Promise<number> {
        const ports = await reportedPorts();
        const port = ports[0];
        if (port === undefined) throw new Error(`no sentinel of ${masterName} answered get-master-addr-by-name`);
        return port;
      },
      async killMaster(): Promise<void> {
        const port = await set.currentMasterPort().catch(() => master.port);
        const target = [master, replica].find((p) => p.port === port) ?? master;
        await target.kill();
      },
      async waitForFailover(oldPort: number, timeoutMs = DEFAULT_FAILOVER_TIMEOUT_MS): Promise<number> {
        let ports: number[] = [];
        let newPort = -1;
        await waitUntil(
          async () => {
            ports = await reportedPorts();
            const first = ports[0];
            if (ports.length < 2 || first === undefined || first === oldPort) return false;
            if (!ports.every((p) => p === first)) return false;
            // Only hand back a master that really is one, so callers can write at once.
            const info = await rawCommand(first, 'INFO replication', 1000);
            if (info === null || infoField(info, 'role') !== 'master') return false;
            newPort = first;
            return true;
          },
          timeoutMs,
          () => `no failover away from master port ${oldPort}; sentinels report ${JSON.stringify(ports)}`,
        );
        return newPort;
      },
      stop,
    };
    return set;
  } catch (error) {
    await stop();
    throw error;
  }
}
