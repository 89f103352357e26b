/**
 * Read-your-writes across instances: two caches on one Redis prefix stand
 * for two instances. Instance B starts a fill (its handler or fetch blocked),
 * instance A clears the namespace, then a new read on B must not join,
 * wait for, or be served B's pre-clear fill: it sees the new generation.
 * With the in-process tier off and on, for routes and for getOrSet.
 */
import { expect } from 'chai';
import type { CacheOptions } from 'express-cache-aside';
import { deferred, sleep, useFactory, type AppHandle } from '../helpers/app-factory';

/** Waits until check() holds or maxMs passed: the old code never calls the handler twice, so this must not throw. */
async function until(check: () => boolean, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!check() && Date.now() < deadline) await sleep(10);
}

const tiers: Array<[string, CacheOptions]> = [
  ['tier off', {}],
  ['tier on', { l1: { max: 100, ttl: '30s' } }],
];

for (const [tierName, tierOptions] of tiers) {
  describe(`read-your-writes across instances (${tierName})`, function () {
    this.timeout(20_000);
    const f = useFactory('ryw');

    async function twoInstances(): Promise<{ a: AppHandle; b: AppHandle }> {
      const prefix = f.prefix();
      const options: CacheOptions = { ...tierOptions, prefix, timeoutMs: 1000, lockWaitMs: 300, ttl: '1m' };
      return { a: await f.setup('redis', options), b: await f.setup('redis', options) };
    }

    it("a read on B after A's clear never gets B's fill that began before the clear (route)", async function () {
      const { a, b } = await twoInstances();
      let data = 'old';
      let calls = 0;
      const gate = deferred();
      b.app.get('/item', b.cache.route({ namespace: 'items', key: 'one' }), async (_req, res) => {
        calls += 1;
        const value = data;
        if (calls === 1) await gate.promise;
        res.json({ value });
      });

      const first = b.http().get('/item');
      const firstDone = first.then((r) => r);
      await until(() => calls === 1, 5000);
      expect(calls, 'B started its fill').to.equal(1);

      data = 'new';
      await a.cache.invalidateNamespaces(['items']);

      const second = b
        .http()
        .get('/item')
        .then((r) => r);
      // Fixed: B's second read fills for itself (after lockWaitMs at most). Before: it joins the blocked fill.
      await until(() => calls >= 2, 2000);
      gate.resolve();
      const [r1, r2] = await Promise.all([firstDone, second]);
      expect(r1.body).to.deep.equal({ value: 'old' });
      expect(r2.body, "the read after A's clear").to.deep.equal({ value: 'new' });
      expect(r2.headers['x-cache']).to.equal('MISS');

      // The pre-clear fill's write is refused by the store, and never lands in B's in-process tier.
      await sleep(100);
      const r3 = await b.http().get('/item');
      expect(r3.body, 'a later read on B').to.deep.equal({ value: 'new' });
    });

    it("a getOrSet on B after A's clear never gets B's fetch that began before the clear", async function () {
      const { a, b } = await twoInstances();
      let data = 'old';
      let fetches = 0;
      const gate = deferred();
      const fetch = async (): Promise<string> => {
        fetches += 1;
        const value = data;
        if (fetches === 1) await gate.promise;
        return value;
      };
      const first = b.cache.getOrSet('items', 'one', fetch);
      await until(() => fetches === 1, 5000);
      data = 'new';
      await a.cache.invalidateNamespaces(['items']);
      const second = b.cache.getOrSet('items', 'one', fetch);
      await until(() => fetches >= 2, 2000);
      gate.resolve();
      expect(await first).to.equal('old');
      expect(await second, "the call after A's clear").to.equal('new');
      await sleep(100);
      expect(await b.cache.getOrSet('items', 'one', fetch), 'a later call on B').to.equal('new');
      expect(await a.cache.getOrSet('items', 'one', fetch), 'a later call on A').to.equal('new');
    });
  });
}
