/**
 * What tags cost on the wire, and what a paused store does to a tag clear.
 * On one node (a redis-server this file starts, its replies delayed by a
 * proxy so a request's time counts its round trips, MONITOR listing the
 * commands): a hit is one round trip with 0, 1 or 8 tags (one MGET without
 * tags; the lookup script and the GET pipelined behind it with tags), a miss
 * is two (lookup with the fill lock, then write with the release). On a
 * Cluster (INFO commandstats summed over the masters): a hit without tags is
 * an MGET and a GET in parallel (one round trip); with tags, the slot script,
 * the GET and the global record in parallel, then one HMGET per tag in
 * parallel (two round trips). With the store paused, a tag clear and the
 * reads of its entries keep their bound, and the clear is retried later.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import { expect } from 'chai';
import express, { type Express } from 'express';
import type { Cluster, Redis } from 'ioredis';
import { createCache, type Cache, type CacheOptions } from 'express-cache-aside';
import { captureLogger, sleep, waitFor } from '../helpers/app-factory';
import { startCluster, type RedisClusterProcess } from '../helpers/redis-cluster';
import { readyClient, startRedis, type RedisProcess } from '../helpers/redis-server';
import { commandCounter } from '../helpers/redis-store-subject';
import { startSlowProxy, type SlowProxy } from '../helpers/slow-proxy';
import { randomPrefix } from '../helpers/shared-redis';
import { plainGet } from '../helpers/http-get';

const REPLY_DELAY_MS = 100;
/** "Answered promptly" with the store paused: timeoutMs (100) plus a generous margin for a loaded 2-core machine. */
const BOUND_MS = 600;

const get = plainGet;

const TAGS: Record<string, string[]> = { t0: [], t1: ['one'], t8: Array.from({ length: 8 }, (_, i) => `tag-${i}`) };

/** The three routes (0, 1 and 8 tags) on an app listening on a free port. */
async function listen(cache: Cache, version: () => number): Promise<{ server: http.Server; port: number; app: Express }> {
  const app = express();
  for (const [name, tags] of Object.entries(TAGS)) {
    app.get(`/${name}`, cache.route(tags.length > 0 ? { namespace: 'rt', tags } : { namespace: 'rt' }), (_req, res) => {
      res.json({ name, v: version() });
    });
  }
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, app };
}

describe('tags on the wire: round trips per hit and per miss on one node', function () {
  this.timeout(30_000);
  let server: RedisProcess;
  let proxy: SlowProxy;
  let client: Redis;
  let admin: Redis;
  let cache: Cache;
  let app: { server: http.Server; port: number };
  let counter: Awaited<ReturnType<typeof commandCounter>>;

  before(async function () {
    server = await startRedis();
    proxy = await startSlowProxy(server.port, REPLY_DELAY_MS);
    client = await readyClient(proxy.port);
    admin = server.client();
    counter = await commandCounter(admin, client);
    cache = createCache({ redis: client, prefix: randomPrefix('rt'), timeoutMs: 2000 });
    app = await listen(cache, () => 1);
  });
  after(async function () {
    await cache?.close();
    app?.server.close();
    counter?.stop();
    client?.disconnect();
    await proxy?.stop();
    await server?.stop();
  });

  it('a miss is 2 round trips (lookup with the fill lock; write with the release); a hit is 1 with 0, 1 and 8 tags', async function () {
    // Warm the script cache (a first call is EVALSHA, NOSCRIPT, EVAL).
    await counter.count!(async () => {
      await get(app.port, '/t8');
      await sleep(4 * REPLY_DELAY_MS);
    });
    const report: string[] = [];
    for (const name of ['t0', 't1', 't8']) {
      const miss = await counter.count!(async () => {
        const answer = await get(app.port, `/${name}?miss`);
        // The write goes out after the answer; give it its round trip.
        await sleep(3 * REPLY_DELAY_MS);
        return answer;
      });
      expect(miss.result.cache).to.equal('MISS');
      // The lookup script alone (an entry this process never saw is expected to miss), then the write script.
      expect(miss.commands, `${name} miss`).to.deep.equal(['evalsha', 'evalsha']);
      // Every reply waits REPLY_DELAY_MS: an answer within [1, 2) delays waited for one round trip.
      expect(
        Math.floor(miss.result.ms / REPLY_DELAY_MS),
        `${name}: the miss answers after one round trip (${miss.result.ms.toFixed(0)} ms)`,
      ).to.equal(1);
      const hit = await counter.count!(() => get(app.port, `/${name}?miss`));
      expect(hit.result.cache).to.equal('HIT');
      expect(hit.commands, `${name} hit`).to.deep.equal(TAGS[name]!.length === 0 ? ['mget'] : ['evalsha', 'get']);
      expect(Math.floor(hit.result.ms / REPLY_DELAY_MS), `${name}: one round trip (${hit.result.ms.toFixed(0)} ms)`).to.equal(1);
      report.push(
        `${name}: miss ${miss.commands.join('+')} (${miss.result.ms.toFixed(0)} ms to answer), hit ${hit.commands.join('+')} (${hit.result.ms.toFixed(0)} ms)`,
      );
    }
    console.log(`      round trips at ${REPLY_DELAY_MS} ms per reply: ${report.join('; ')}`);
  });
});

/** Calls per command on every master since the last reset. */
async function commandStats(nodes: Redis[]): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  for (const node of nodes) {
    const info = String(await node.info('commandstats'));
    for (const match of info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) totals[match[1]!] = (totals[match[1]!] ?? 0) + Number(match[2]);
  }
  const data: Record<string, number> = {};
  for (const name of ['mget', 'get', 'evalsha', 'eval', 'hmget', 'set']) if (totals[name]) data[name] = totals[name]!;
  return data;
}

describe('tags on the wire: commands per hit on a Cluster', function () {
  this.timeout(60_000);
  let cluster: RedisClusterProcess;
  let client: Cluster;
  let cache: Cache;
  let app: { server: http.Server; port: number };

  before(async function () {
    cluster = await startCluster();
    client = cluster.client();
    if (client.status !== 'ready') await once(client, 'ready');
    cache = createCache({ redis: client, prefix: randomPrefix('rt-cluster'), timeoutMs: 2000 });
    app = await listen(cache, () => 1);
  });
  after(async function () {
    await cache?.close();
    app?.server.close();
    await cluster?.stop();
  });

  it('a hit without tags is an MGET and a GET in parallel (1 round trip); with n tags, 2 scripts and a GET in parallel, then n HMGETs in parallel (2)', async function () {
    const masters = client.nodes('master');
    for (const name of ['t0', 't1', 't8']) {
      await get(app.port, `/${name}`);
      await waitFor(`${name} stored`, async () => (await get(app.port, `/${name}`)).cache === 'HIT', 5000);
      await Promise.all(masters.map((node) => node.config('RESETSTAT')));
      const hit = await get(app.port, `/${name}`);
      expect(hit.cache).to.equal('HIT');
      const stats = await commandStats(masters);
      const tags = TAGS[name]!.length;
      // commandstats counts the calls inside scripts too: the slot script and the global record's script GET one key each.
      expect(stats, `${name} hit`).to.deep.equal(tags === 0 ? { mget: 1, get: 1 } : { evalsha: 2, get: 1 + 2, hmget: tags });
    }
  });
});

for (const kind of ['redis-server', 'cluster'] as const) {
  describe(`tags with the store paused (${kind})`, function () {
    this.timeout(60_000);
    let server: RedisProcess | undefined;
    let cluster: RedisClusterProcess | undefined;
    let cache: Cache;
    let app: { server: http.Server; port: number };
    let version = 1;
    const log = captureLogger();

    before(async function () {
      let redis: Redis | Cluster;
      if (kind === 'redis-server') {
        server = await startRedis();
        redis = await readyClient(server.port);
      } else {
        cluster = await startCluster();
        redis = cluster.client({ clusterRetryStrategy: () => 100 });
        if (redis.status !== 'ready') await once(redis, 'ready');
      }
      const options: CacheOptions = { redis, prefix: randomPrefix('paused'), timeoutMs: 100, logger: log.logger, breaker: false };
      cache = createCache(options);
      app = await listen(cache, () => version);
    });
    after(async function () {
      server?.resume();
      cluster?.resumeAll();
      await cache?.close();
      app?.server.close();
      await server?.stop();
      await cluster?.stop();
    });

    it('a tag clear and the reads of its entries answer within the bound while paused; the clear is retried and lands after', async function () {
      await get(app.port, '/t1');
      await waitFor('t1 stored', async () => (await get(app.port, '/t1')).cache === 'HIT', 5000);
      if (server) server.pause();
      else cluster!.pauseAll();
      try {
        version = 2;
        const started = performance.now();
        await cache.invalidateTags(['one']);
        expect(performance.now() - started, 'the clear gives up within the bound').to.be.below(BOUND_MS);
        const during = await get(app.port, '/t1');
        expect(during.ms, 'a read of a tagged entry while paused').to.be.below(BOUND_MS);
        expect(during.cache).to.equal('BYPASS');
        expect(JSON.parse(during.body).v, 'served uncached: the new value').to.equal(2);
        expect(cache.stats().clears.failed).to.be.at.least(1);
      } finally {
        if (server) server.resume();
        else cluster!.resumeAll();
      }
      // The retry lands: reads of the tagged entry leave BYPASS and the old entry never comes back.
      await waitFor(
        'the retried tag clear to land and t1 to be a HIT again',
        async () => (await get(app.port, '/t1')).cache === 'HIT',
        20_000,
        100,
      );
      expect(JSON.parse((await get(app.port, '/t1')).body).v).to.equal(2);
      expect(log.entries.some((e) => String(e.msg).includes('clear failed'))).to.equal(true);
    });
  });
}
