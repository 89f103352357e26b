/**
 * Self-test of the Redis process harness in test/helpers: other suites trust
 * these helpers to pause, kill, restart, cluster and fail over real servers,
 * so each of those moves is checked here against real redis-server processes.
 */
import { expect } from 'chai';
import { freePort, isPortFree } from '../helpers/ports';
import { startCluster, keySlot, type RedisClusterProcess } from '../helpers/redis-cluster';
import { startRedis, rawCommand, type RedisProcess } from '../helpers/redis-server';
import { startSentinelSet, type SentinelSet } from '../helpers/redis-sentinel';
import { closeSharedClients, connectOrFail, connectShared, deleteByPrefix, randomPrefix, sharedRedisUrl } from '../helpers/shared-redis';
import { startSlowProxy } from '../helpers/slow-proxy';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the promise's value, or 'timeout' if it takes longer than ms. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

describe('test harness: real Redis processes', function () {
  this.timeout(30000);

  describe('ports', () => {
    it('freePort returns a port that can be bound', async () => {
      const port = await freePort();
      expect(port).to.be.within(1024, 65535);
      expect(await isPortFree(port)).to.equal(true);
    });
  });

  describe('shared Redis', () => {
    const prefix = randomPrefix('harness');

    after(async () => {
      await closeSharedClients();
    });

    it('randomPrefix has no key separators or hash-tag braces', () => {
      expect(randomPrefix()).to.match(/^eca-test-[0-9a-f]{8}$/);
      expect(randomPrefix('a:b{c}*')).to.match(/^eca-test-a-b-c-[0-9a-f]{8}$/);
      expect(randomPrefix()).not.to.equal(randomPrefix());
    });

    it('connectShared answers PING and deleteByPrefix removes only keys under the prefix', async () => {
      const redis = await connectShared();
      const tricky = `${prefix}[*?]`;
      await redis.set(`${tricky}:a`, '1');
      await redis.set(`${tricky}:b`, '2');
      // Would match the prefix if glob characters were not escaped.
      await redis.set(`${prefix}x*?]:c`, '3');
      expect(await deleteByPrefix(redis, tricky)).to.equal(2);
      expect(await redis.exists(`${tricky}:a`, `${tricky}:b`)).to.equal(0);
      expect(await redis.get(`${prefix}x*?]:c`)).to.equal('3');
      expect(await deleteByPrefix(redis, prefix)).to.equal(1);
    });

    it('connecting to an unreachable Redis rejects with a clear message, not a skip', async () => {
      const url = `redis://127.0.0.1:${await freePort()}`;
      const error = await connectOrFail(url).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(Error);
      expect((error as Error).message)
        .to.include('unreachable')
        .and.include(url);
    });

    it('sharedRedisUrl follows REDIS_URL', () => {
      expect(sharedRedisUrl).to.equal(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    });
  });

  describe('startRedis', () => {
    let server: RedisProcess;

    before(async () => {
      server = await startRedis({ args: ['--maxmemory', '2mb', '--maxmemory-policy', 'allkeys-lru'] });
    });

    after(async () => {
      await server.stop();
    });

    it('starts a server of its own that answers and took the extra args', async () => {
      const redis = server.client();
      expect(await redis.ping()).to.equal('PONG');
      expect(await redis.config('GET', 'maxmemory-policy')).to.deep.equal(['maxmemory-policy', 'allkeys-lru']);
      expect(await redis.config('GET', 'save')).to.deep.equal(['save', '']);
      const info = await redis.info('server');
      expect(info).to.include(`process_id:${server.pid}`);
      expect(server.url).to.equal(`redis://127.0.0.1:${server.port}`);
    });

    it('pause stops answers without closing the connection, resume brings them back', async () => {
      const redis = server.client({ maxRetriesPerRequest: null });
      expect(await redis.ping()).to.equal('PONG');
      server.pause();
      const pending = redis.ping();
      expect(await within(pending, 300)).to.equal('timeout');
      server.resume();
      expect(await within(pending, 5000)).to.equal('PONG');
    });

    it('restart gives an empty server on the same port', async () => {
      const port = server.port;
      const oldPid = server.pid;
      const redis = server.client({ maxRetriesPerRequest: null });
      await redis.set('harness:survives?', 'no');
      await server.restart();
      expect(server.port).to.equal(port);
      expect(server.pid).to.not.equal(oldPid);
      expect(await redis.dbsize()).to.equal(0);
      expect(await redis.get('harness:survives?')).to.equal(null);
    });

    it('kill ends the process; stop is idempotent and frees the port', async () => {
      const own = await startRedis();
      const port = own.port;
      await own.kill();
      expect(own.alive).to.equal(false);
      expect(await rawCommand(port, 'PING', 300)).to.equal(null);
      await own.stop();
      await own.stop();
      expect(await isPortFree(port)).to.equal(true);
    });

    it('stop kills a paused server', async () => {
      const own = await startRedis();
      const { pid } = own;
      own.pause();
      await own.stop();
      expect(() => process.kill(pid, 0)).to.throw();
    });
  });

  describe('startSlowProxy', () => {
    let server: RedisProcess;

    before(async () => {
      server = await startRedis();
    });

    after(async () => {
      await server.stop();
    });

    it('adds roughly its delay to a PING, and setDelay changes it', async () => {
      const proxy = await startSlowProxy(server.port, 200);
      try {
        const redis = server.client({ port: proxy.port });
        await redis.ping(); // connect and ready check first, so only one round trip is timed
        let started = Date.now();
        expect(await redis.ping()).to.equal('PONG');
        const slow = Date.now() - started;
        expect(slow).to.be.within(180, 1500);

        proxy.setDelay(0);
        started = Date.now();
        expect(await redis.ping()).to.equal('PONG');
        expect(Date.now() - started).to.be.below(150);
      } finally {
        await proxy.stop();
      }
    });

    it('keeps replies in order', async () => {
      const proxy = await startSlowProxy(server.port, 30);
      try {
        const redis = server.client({ port: proxy.port });
        const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => redis.echo(String(i))));
        expect(replies).to.deep.equal(Array.from({ length: 50 }, (_, i) => String(i)));
      } finally {
        await proxy.stop();
      }
    });
  });

  describe('startCluster', () => {
    let cluster: RedisClusterProcess;

    before(async function () {
      this.timeout(45000);
      cluster = await startCluster();
    });

    after(async () => {
      await cluster?.stop();
    });

    it('has three masters that all say cluster_state:ok', async () => {
      expect(cluster.nodes).to.have.length(3);
      expect(cluster.ports).to.deep.equal(cluster.nodes.map((n) => n.port));
      for (const node of cluster.nodes) {
        const info = await node.client().cluster('INFO');
        expect(String(info)).to.include('cluster_state:ok');
      }
    });

    it('a Cluster client SETs and GETs many keys across all masters', async () => {
      const client = cluster.client();
      const keys = Array.from({ length: 300 }, (_, i) => `harness:${i}`);
      await Promise.all(keys.map((key) => client.set(key, `v-${key}`)));
      const values = await Promise.all(keys.map((key) => client.get(key)));
      expect(values).to.deep.equal(keys.map((key) => `v-${key}`));
      // Every master holds some of them.
      const perNode = await Promise.all(cluster.nodes.map((n) => n.client().dbsize()));
      expect(perNode.every((count) => count > 0)).to.equal(true);
      expect(perNode.reduce((a, b) => a + b, 0)).to.equal(keys.length);
    });

    it('keySlot agrees with CLUSTER KEYSLOT', async () => {
      const node = cluster.nodes[0]!.client();
      for (const key of ['a', 'harness:1', '{user1000}.following', 'foo{}{bar}', 'ünïcode']) {
        expect(keySlot(key)).to.equal(await node.cluster('KEYSLOT', key));
      }
    });

    it('pauseAll stops answers and resumeAll restores them', async () => {
      const client = cluster.client({ redisOptions: { maxRetriesPerRequest: null } });
      expect(await client.set('harness:pause', '1')).to.equal('OK');
      cluster.pauseAll();
      const pending = client.get('harness:pause');
      expect(await within(pending, 300)).to.equal('timeout');
      cluster.resumeAll();
      expect(await within(pending, 5000)).to.equal('1');
    });
  });

  describe('startSentinelSet', () => {
    let set: SentinelSet;

    before(async function () {
      this.timeout(30000);
      set = await startSentinelSet();
    });

    after(async () => {
      await set?.stop();
    });

    it('failover after killMaster promotes the replica and a sentinel client can write', async function () {
      this.timeout(40000);
      const client = set.client();
      expect(await client.set('harness:before', '1')).to.equal('OK');
      const oldPort = set.master.port;
      expect(await set.currentMasterPort()).to.equal(oldPort);

      await set.killMaster();
      const newPort = await set.waitForFailover(oldPort, 30000);
      expect(newPort).to.equal(set.replica.port);

      // The client reconnects through the sentinels; give it a few tries.
      const deadline = Date.now() + 10000;
      let written: string | null = null;
      while (written === null) {
        try {
          written = await client.set('harness:after', '2');
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await sleep(100);
        }
      }
      expect(written).to.equal('OK');
      expect(await set.replica.client().get('harness:after')).to.equal('2');
      // Written before the failover and replicated, so it survived.
      expect(await client.get('harness:before')).to.equal('1');
    });
  });
});
