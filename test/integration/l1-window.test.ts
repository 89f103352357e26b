/**
 * The in-process tier's cross-instance window (issue 14, item 20), measured:
 * two caches on one Redis and one prefix play instances A and B, each with
 * its own client and its own tier. A client clears on A and, the moment A
 * acknowledges, reads on B, which holds the previous value in its tier. With
 * the default `consistency: 'delivered'` B may answer from its tier before
 * the clear message reaches it; with `'acknowledged'` A's clear waits until
 * B confirmed the drop, so the read never sees the older value. A publish
 * whose confirmations do not come is bounded by half of timeoutMs.
 */
import { expect } from 'chai';
import { Cluster, type Redis } from 'ioredis';
import { createCache, type Cache } from 'express-cache-aside';
import { connectShared, deleteByPrefix, randomPrefix } from '../helpers/shared-redis';
import { waitFor } from '../helpers/app-factory';

const ROUNDS = 500;

describe('in-process tier: a write on A read on B at once', function () {
  this.timeout(60_000);
  const clients: Redis[] = [];
  const caches: Cache[] = [];
  let inspector: Redis;
  const prefixes: string[] = [];

  before(async function () {
    inspector = await connectShared();
  });

  afterEach(async function () {
    for (const cache of caches.splice(0)) await cache.close();
    for (const client of clients.splice(0)) await client.quit();
  });

  after(async function () {
    for (const prefix of prefixes) await deleteByPrefix(inspector, prefix);
    await inspector.quit();
  });

  async function twoInstances(consistency: 'delivered' | 'acknowledged'): Promise<[Cache, Cache]> {
    const prefix = randomPrefix(`l1-window-${consistency}`);
    prefixes.push(prefix);
    const make = async (): Promise<Cache> => {
      const client = await connectShared();
      clients.push(client);
      const cache = createCache({ redis: client, prefix, ttl: 60, timeoutMs: 1000, l1: { max: 100, ttl: '30s', consistency } });
      caches.push(cache);
      return cache;
    };
    const pair: [Cache, Cache] = [await make(), await make()];
    // Both subscriptions are up once a clear on one reaches the other's tier; wait for that before measuring.
    await waitFor(
      'both tiers to subscribe',
      async () => ((await inspector.call('PUBSUB', 'NUMSUB', `${prefix}:invalidations`)) as [string, number])[1] === 2,
    );
    return pair;
  }

  /** Rounds of: B holds v(i-1) in its tier; A writes v(i) and clears; B reads at once. Returns how many reads were stale. */
  async function measure(a: Cache, b: Cache): Promise<number> {
    let value = 0;
    const fetch = async (): Promise<number> => value;
    let stale = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      // Twice: the first read fills Redis and the tier, the second comes from the tier.
      await b.getOrSet('items', 'one', fetch);
      await b.getOrSet('items', 'one', fetch);
      value = round;
      await a.invalidateNamespaces(['items']);
      if ((await b.getOrSet('items', 'one', fetch)) !== round) stale++;
    }
    return stale;
  }

  it("delivered (the default): reads on B right after A's acknowledged clear can get B's older copy", async function () {
    const [a, b] = await twoInstances('delivered');
    const stale = await measure(a, b);
    console.log(`      consistency 'delivered': ${stale} of ${ROUNDS} reads on B right after A's clear were stale`);
    expect(stale, 'the window exists in this mode').to.be.greaterThan(0);
  });

  it("acknowledged: no read on B after A's clear gets B's older copy", async function () {
    const [a, b] = await twoInstances('acknowledged');
    const started = performance.now();
    const stale = await measure(a, b);
    const ms = performance.now() - started;
    console.log(
      `      consistency 'acknowledged': ${stale} of ${ROUNDS} stale; ${(ms / ROUNDS).toFixed(2)} ms per round (3 reads, 1 clear)`,
    );
    expect(stale).to.equal(0);
  });

  it('acknowledged: a clear whose confirmation never comes answers within half of timeoutMs past its round trips', async function () {
    const prefix = randomPrefix('l1-window-silent');
    prefixes.push(prefix);
    const client = await connectShared();
    clients.push(client);
    const cache = createCache({ redis: client, prefix, ttl: 60, timeoutMs: 400, l1: { consistency: 'acknowledged' } });
    caches.push(cache);
    // A subscriber that never confirms: PUBLISH counts it, so the clear waits for it until the bound.
    const silent = await connectShared();
    clients.push(silent);
    await silent.subscribe(`${prefix}:invalidations`);
    await waitFor(
      'the tier to subscribe',
      async () => ((await inspector.call('PUBSUB', 'NUMSUB', `${prefix}:invalidations`)) as [string, number])[1] === 2,
    );
    const started = performance.now();
    await cache.invalidateNamespaces(['items']);
    const ms = performance.now() - started;
    expect(ms, 'waited for the silent subscriber').to.be.greaterThan(190);
    expect(ms, 'but no longer than the bound, with margin').to.be.lessThan(400 + 300);
    // The clear itself reached Redis: it was not counted as failed.
    expect(cache.stats().errors).to.equal(0);
  });

  it('refuses acknowledged mode on a Cluster client, naming the option', function () {
    // A Cluster client that never connects: only its type matters here.
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    try {
      expect(() => createCache({ redis: cluster, l1: { consistency: 'acknowledged' } })).to.throw(TypeError, /l1\.consistency/);
    } finally {
      cluster.disconnect();
    }
    expect(() => createCache({ l1: { consistency: 'eventually' as never } })).to.throw(TypeError, /l1\.consistency/);
  });
});
