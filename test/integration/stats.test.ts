/**
 * Behaviour tests of cache.stats() (totals and per-namespace counters after a
 * scripted sequence of hits, misses and bypasses, store errors included) and
 * of cache.close() (keeps the given client open, passes requests through).
 */
import { expect } from 'chai';
import type Redis from 'ioredis';
import { captureLogger, storeKinds, useFactory, waitForEntries, type AppHandle } from '../helpers/app-factory';
import { useRedisProcess } from '../helpers/hooks';

/** GET /a in namespace 'alpha', GET /b in namespace 'beta'; both count their handler calls. */
function twoRoutes(h: AppHandle): { calls: number } {
  const counter = { calls: 0 };
  h.app.get('/a', h.cache.route({ namespace: 'alpha' }), (_req, res) => {
    counter.calls += 1;
    res.send('a');
  });
  h.app.get('/b', h.cache.route({ namespace: 'beta' }), (_req, res) => {
    counter.calls += 1;
    res.send('b');
  });
  return counter;
}

for (const storeKind of storeKinds) {
  describe(`stats() (${storeKind} store)`, function () {
    const f = useFactory(`stats-${storeKind}`);

    it('counts hits, misses and bypasses, in total and per namespace', async function () {
      const h = await f.setup(storeKind);
      twoRoutes(h);
      const fresh = h.cache.stats();
      expect(fresh).to.include({ hits: 0, misses: 0, stale: 0, bypasses: 0, errors: 0 });

      expect((await h.http().get('/a')).headers['x-cache']).to.equal('MISS');
      await waitForEntries(h);
      expect((await h.http().get('/a')).headers['x-cache']).to.equal('HIT');
      expect((await h.http().get('/a')).headers['x-cache']).to.equal('HIT');
      expect((await h.http().get('/b')).headers['x-cache']).to.equal('MISS');
      // A request with credentials is served around the cache by default.
      expect((await h.http().get('/a').set('Authorization', 'Bearer t')).headers['x-cache']).to.equal('BYPASS');

      const stats = h.cache.stats();
      expect(stats).to.include({ hits: 2, misses: 2, stale: 0, bypasses: 1, errors: 0 });
      expect(stats.refreshes).to.be.a('number');
      expect(stats.lockWaits).to.be.a('number');
      expect(stats.lockTimeouts).to.be.a('number');
      expect(stats.namespaces.alpha).to.include({ hits: 2, misses: 1, stale: 0, errors: 0 });
      expect(stats.namespaces.beta).to.deep.equal({ hits: 0, misses: 1, stale: 0, bypasses: 0, errors: 0 });
    });

    it('counts getOrSet misses and hits under their namespace', async function () {
      const h = await f.cache(storeKind);
      await h.cache.getOrSet('data', 'k', () => 1);
      await waitForEntries(h);
      await h.cache.getOrSet('data', 'k', () => 2);
      const stats = h.cache.stats();
      expect(stats.namespaces.data).to.include({ hits: 1, misses: 1 });
      expect(stats).to.include({ hits: 1, misses: 1 });
    });
  });
}

describe('stats() with a failing store', function () {
  const f = useFactory('stats-errors');
  const server = useRedisProcess();

  it('counts a store failure as an error and a bypass, in total and for the namespace', async function () {
    const { logger, entries } = captureLogger();
    const h = await f.setupOn(server.client(), { timeoutMs: 100, logger });
    const counter = twoRoutes(h);
    await server.kill();
    const res = await h.http().get('/a').expect(200);
    expect(res.headers['x-cache']).to.equal('BYPASS');
    expect(counter.calls).to.equal(1);
    const stats = h.cache.stats();
    expect(stats.bypasses).to.equal(1);
    expect(stats.errors).to.be.at.least(1);
    expect(stats.hits + stats.misses).to.equal(0);
    expect(stats.namespaces.alpha?.bypasses).to.equal(1);
    expect(stats.namespaces.alpha?.errors).to.be.at.least(1);
    expect(
      entries.filter((e) => e.level === 'warn' || e.level === 'error'),
      'the failure was logged',
    ).to.not.be.empty;
  });
});

for (const storeKind of storeKinds) {
  describe(`close() (${storeKind} store)`, function () {
    const f = useFactory(`close-${storeKind}`);

    it('stops caching (requests pass through with BYPASS) and can be called twice', async function () {
      const h = await f.setup(storeKind);
      const counter = twoRoutes(h);
      await h.http().get('/a').expect(200);
      await waitForEntries(h);
      await h.cache.close();
      const after = await h.http().get('/a').expect(200);
      expect(after.text).to.equal('a');
      expect(after.headers['x-cache']).to.equal('BYPASS');
      expect(counter.calls).to.equal(2);
      await h.cache.close();
    });
  });
}

describe('close() and the given client', function () {
  const f = useFactory('close-client');

  it('does not quit the ioredis client it was given', async function () {
    const h = await f.setup('redis');
    const redis = h.redis as Redis;
    await h.cache.getOrSet('data', 'k', () => 'v');
    await h.cache.close();
    expect(redis.status).to.equal('ready');
    expect(await redis.ping()).to.equal('PONG');
  });
});
