/**
 * A clear acknowledged just before a Cluster failover is not lost (issue 14,
 * item 9). On a live local cluster with one replica per master, the master
 * holding a namespace's slot acknowledges a clear that its replica never
 * receives (the replica is paused and its link cut first), and then the
 * replica takes over (CLUSTER FAILOVER TAKEOVER), so the promoted master
 * holds the namespace's old generation and its old entries: the clear is
 * gone from Redis. An ioredis Cluster emits no 'ready' for one shard's
 * failover; the store notices the slot's new master on the topology refresh
 * and the cache applies its recent clears again, so reads get the new value.
 */
import net from 'node:net';
import { once } from 'node:events';
import { expect } from 'chai';
import type Redis from 'ioredis';
import { createCache, type Cache } from 'express-cache-aside';
import { waitFor } from '../helpers/app-factory';
import { keySlot, startCluster, type RedisClusterProcess } from '../helpers/redis-cluster';
import type { RedisProcess } from '../helpers/redis-server';
import { randomPrefix } from '../helpers/shared-redis';

/** The node serving a slot as master, and its replica, from CLUSTER NODES. */
async function slotOwners(cluster: RedisClusterProcess, slot: number): Promise<{ master: RedisProcess; replica: RedisProcess }> {
  const admin = cluster.nodes[0]!.client();
  try {
    const lines = String(await admin.cluster('NODES'))
      .trim()
      .split('\n')
      .map((line) => line.split(' '));
    const portOf = (address: string): number => Number(address.split('@')[0]!.split(':')[1]);
    const serves = (fields: string[]): boolean =>
      fields.slice(8).some((range) => {
        const [low, high = low] = range.split('-').map(Number);
        return low !== undefined && high !== undefined && slot >= low && slot <= high;
      });
    const masterLine = lines.find((fields) => fields[2]!.includes('master') && serves(fields));
    const replicaLine = lines.find((fields) => fields[3] === masterLine?.[0]);
    const byPort = (port: number): RedisProcess | undefined => cluster.nodes.find((node) => node.port === port);
    const master = masterLine && byPort(portOf(masterLine[1]!));
    const replica = replicaLine && byPort(portOf(replicaLine[1]!));
    if (!master || !replica) throw new Error(`no master and replica found for slot ${slot}`);
    return { master, replica };
  } finally {
    admin.disconnect();
  }
}

/** Writes a command to a (paused) server's socket so it is the first thing the server reads when it runs again. */
function queueCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write(`${command}\r\n`));
    socket.once('data', (reply: Buffer) => {
      socket.destroy();
      resolve(reply.toString('utf8').trim());
    });
    socket.once('error', reject);
  });
}

async function role(node: RedisProcess): Promise<string> {
  const admin = node.client();
  try {
    return String(((await admin.call('ROLE')) as unknown[])[0]);
  } finally {
    admin.disconnect();
  }
}

describe('Redis Cluster failover of the master holding a namespace', function () {
  this.timeout(120_000);
  let cluster: RedisClusterProcess;
  let cache: Cache | undefined;

  before(async function () {
    cluster = await startCluster({ masters: 3, replicas: 1 });
  });

  after(async function () {
    await cache?.close();
    await cluster?.stop();
  });

  it('a clear acknowledged just before the failover is applied again on the promoted replica', async function () {
    const client = cluster.client();
    if (client.status !== 'ready') await once(client, 'ready');
    const prefix = randomPrefix('failover');
    cache = createCache({ redis: client, prefix, ttl: 60, timeoutMs: 1000 });
    let state = 'v1';
    let fetches = 0;
    const fetch = async (): Promise<string> => {
      fetches += 1;
      return state;
    };
    const read = (): Promise<string> => cache!.getOrSet('courses', 'one', fetch);

    expect(await read()).to.equal('v1');
    await waitFor('v1 to be stored', async () => {
      const before = fetches;
      await read();
      return fetches === before;
    });
    const generationKey = `${prefix}:{courses}:g`;
    // redis-cli assigns the replicas after the cluster says ok: wait until the slot's master has one.
    let owners: { master: RedisProcess; replica: RedisProcess } | undefined;
    await waitFor(
      "the slot's master to have a replica",
      async () => {
        owners = await slotOwners(cluster, keySlot(generationKey)).catch(() => undefined);
        return owners !== undefined;
      },
      20_000,
      200,
    );
    const { master, replica } = owners!;
    const masterAdmin: Redis = master.client();
    const replicaAdmin: Redis = replica.client();
    // The replica has the entry and the generation it was written under.
    await waitFor(
      'the replica to acknowledge the entry',
      async () => Number(await masterAdmin.call('WAIT', '1', '500')) === 1,
      20_000,
      100,
    );
    await replicaAdmin.call('READONLY');
    const oldGeneration = await replicaAdmin.get(generationKey);
    expect(oldGeneration).to.be.a('string');

    // The replica stops and its link is cut, so the clear below reaches the master only.
    replica.pause();
    await masterAdmin.call('CLIENT', 'KILL', 'TYPE', 'replica');
    state = 'v2';
    await cache.invalidateNamespaces(['courses']);
    const clearedGeneration = await masterAdmin.get(generationKey);
    expect(clearedGeneration).to.not.equal(oldGeneration);

    // The takeover is the first thing the replica does when it runs again, before it can resync.
    const takeover = queueCommand(replica.port, 'CLUSTER FAILOVER TAKEOVER');
    await new Promise((resolve) => setTimeout(resolve, 50));
    replica.resume();
    expect(await takeover).to.equal('+OK');
    const failedOverAt = performance.now();
    await waitFor('the old master to follow the promoted replica', async () => (await role(master)) === 'slave', 20_000, 100);
    // The fault happened: the promoted master holds the generation from before the clear.
    expect(await replicaAdmin.get(generationKey), 'generation on the promoted master').to.equal(oldGeneration);

    const seen: string[] = [];
    await waitFor(
      'a read to see v2',
      async () => {
        seen.push(await read());
        return seen[seen.length - 1] === 'v2';
      },
      15_000,
      20,
    );
    const tookMs = performance.now() - failedOverAt;
    for (let i = 0; i < 20; i++) expect(await read(), 'reads after the clear was applied again').to.equal('v2');
    console.log(
      `      failover noticed after ${seen.filter((value) => value === 'v1').length} stale read(s); v2 read ${tookMs.toFixed(0)} ms after the takeover`,
    );
    masterAdmin.disconnect();
    replicaAdmin.disconnect();
  });
});
