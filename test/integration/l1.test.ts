/**
 * The in-process tier: hot entries answered without a Redis round trip,
 * dropped on every instance when any instance clears their namespace (Redis
 * pub/sub), never stale on the instance that made the mutation.
 */
import { expect } from 'chai';
import express from 'express';
import sinon from 'sinon';
import request from 'supertest';
import { createCache } from 'express-cache-aside';
import type { Cache } from 'express-cache-aside';
import type Redis from 'ioredis';
import { connectShared, deleteByPrefix, randomPrefix } from '../helpers/shared-redis';
import { scanKeys, subscriberCount, waitFor } from '../helpers/app-factory';
import { keyLayout } from '../helpers/key-layout';

interface Instance {
  cache: Cache;
  app: express.Express;
  redis: Redis;
  version: () => number;
}

describe('in-process tier (l1)', function () {
  const prefix = randomPrefix('l1');
  const instances: Instance[] = [];
  let data = 1;

  async function instance(ownPrefix = prefix): Promise<Instance> {
    const redis = await connectShared();
    const channel = `${ownPrefix}:invalidations`;
    const subscribers = await subscriberCount(redis, channel);
    const cache = createCache({ redis, prefix: ownPrefix, l1: { max: 100, ttl: '30s' } });
    const app = express();
    app.get('/item', cache.route({ namespace: 'items', ttl: '1m' }), (_req, res) => {
      res.json({ version: data });
    });
    app.put('/item', cache.invalidate({ namespaces: ['items'] }), (_req, res) => {
      data++;
      res.json({ version: data });
    });
    const made = { cache, app, redis, version: () => data };
    instances.push(made);
    // Clears from other instances reach this one only once its subscription is up.
    await waitFor('the tier to subscribe', async () => (await subscriberCount(redis, channel)) > subscribers);
    return made;
  }

  after(async function () {
    for (const i of instances) await i.cache.close();
    const redis = await connectShared();
    await deleteByPrefix(redis, prefix);
    for (const i of instances) i.redis.disconnect();
    redis.disconnect();
  });

  it('answers a hot entry from process memory, without a Redis round trip', async function () {
    const a = await instance();
    await request(a.app).get('/item').expect('X-Cache', 'MISS');
    await waitFor('the entry to be stored', async () => (await scanKeys(a.redis, keyLayout(prefix).entryPattern('items'))).length > 0);
    await request(a.app).get('/item').expect('X-Cache', 'HIT');
    const mget = sinon.spy(a.redis, 'mgetBuffer');
    for (let i = 0; i < 20; i++) await request(a.app).get('/item').expect('X-Cache', 'HIT');
    expect(mget.callCount).to.equal(0);
  });

  it('a mutation on this instance is never followed by its old entry here', async function () {
    const a = instances[0]!;
    for (let i = 0; i < 5; i++) {
      await request(a.app).get('/item').expect(200);
      const put = await request(a.app).put('/item').expect(200);
      const read = await request(a.app).get('/item').expect(200);
      expect(read.body.version).to.equal(put.body.version);
    }
  });

  it('a clear on instance A drops the entry on instance B, within a measured window', async function () {
    const a = instances[0]!;
    const b = await instance();
    // Warm B's tier with the current entry.
    await request(b.app).get('/item');
    await waitFor('B serves from its tier', async () => (await request(b.app).get('/item')).headers['x-cache'] === 'HIT');
    const windows: number[] = [];
    for (let round = 0; round < 10; round++) {
      await request(b.app).get('/item');
      const put = await request(a.app).put('/item').expect(200);
      const answered = Date.now();
      // Poll B until it serves the new version; record how long the old one lived after A's response.
      let staleFor = 0;
      for (;;) {
        const read = await request(b.app).get('/item');
        if (read.body.version === put.body.version) break;
        staleFor = Date.now() - answered;
        expect(staleFor, 'B kept the old entry too long').to.be.lessThan(1000);
      }
      windows.push(staleFor);
    }
    windows.sort((x, y) => x - y);
    console.log(`      l1 staleness window across instances over 10 clears: max ${windows.at(-1)} ms, median ${windows[5]} ms`);
    expect(windows.at(-1)!).to.be.lessThan(1000);
  });

  it('does not serve from the tier while its subscription is down', async function () {
    const cPrefix = randomPrefix('l1-sub');
    const c = await instance(cPrefix);
    await request(c.app).get('/item');
    await waitFor('C serves from its tier', async () => (await request(c.app).get('/item')).headers['x-cache'] === 'HIT');
    const mget = sinon.spy(c.redis, 'mgetBuffer');
    // Kill only C's subscriber connection (a duplicate of its client): the tier must fall back to Redis.
    const clients = (await c.redis.client('LIST')) as string;
    const subscriberIds = clients
      .split('\n')
      .filter((line) => line.includes(`name=express-cache-aside:l1:${cPrefix}:`))
      .map((line) => /id=(\d+)/.exec(line)![1]!);
    expect(subscriberIds).to.have.length(1);
    for (const id of subscriberIds) await c.redis.client('KILL', 'ID', id);
    await waitFor('the tier to fall back to Redis', async () => {
      await request(c.app).get('/item').expect(200);
      return mget.callCount > 0;
    });
    await deleteByPrefix(c.redis, cPrefix);
  });
});
