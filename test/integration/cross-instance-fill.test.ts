/**
 * Read-your-writes across instances, driven step by step (issue 14, item 1):
 * two caches on one Redis and one prefix play instances A and B. B starts a
 * fill that reads the old state and is held there; A's write lands and A
 * clears the namespace; then a client reads on B. That read began after the
 * clear was acknowledged, so it must never be served B's in-flight fill made
 * under the older generation. Run for routes and for getOrSet, with the
 * in-process tier off and on. The history test in consistency.test.ts finds
 * the same defect by chance; this one needs no luck.
 */
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import express from 'express';
import type Redis from 'ioredis';
import { createCache, type Cache } from 'express-cache-aside';
import { deferred, waitFor } from '../helpers/app-factory';
import { connectShared, deleteByPrefix, randomPrefix } from '../helpers/shared-redis';
import { plainGet } from '../helpers/http-get';

const get = plainGet;

for (const tier of ['off', 'on'] as const) {
  describe(`a fill begun before another instance's clear is never served after it (in-process tier ${tier})`, function () {
    const prefix = randomPrefix(`cross-fill-${tier}`);
    const clients: Redis[] = [];
    let a: Cache;
    let b: Cache;
    let inspector: Redis;

    beforeEach(async function () {
      inspector = await connectShared();
      const l1 = tier === 'on' ? { l1: { max: 100, ttl: '30s' } } : {};
      const clientA = await connectShared();
      const clientB = await connectShared();
      clients.push(clientA, clientB);
      a = createCache({ redis: clientA, prefix, ttl: 60, timeoutMs: 1000, ...l1 });
      b = createCache({ redis: clientB, prefix, ttl: 60, timeoutMs: 1000, ...l1 });
    });

    afterEach(async function () {
      await a.close();
      await b.close();
      for (const client of clients.splice(0)) await client.quit();
      await deleteByPrefix(inspector, prefix);
      await inspector.quit();
    });

    it("route: a read on B after A acknowledged its clear gets the new state, not B's older fill", async function () {
      let state = 'old';
      let handlerCalls = 0;
      const gate = deferred();
      const app = express();
      app.get('/item', b.route({ namespace: 'items', key: 'one' }), async (_req, res) => {
        handlerCalls += 1;
        const read = state;
        if (handlerCalls === 1) await gate.promise;
        res.json({ state: read });
      });
      const server = app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      const port = (server.address() as AddressInfo).port;
      try {
        const first = get(port, '/item');
        await waitFor("B's fill to read the old state", () => handlerCalls === 1);
        state = 'new';
        await a.invalidateNamespaces(['items']);
        // Began after the clear was acknowledged.
        const second = get(port, '/item');
        // Joined or not, it gets a moment to reach the handler before the old fill is released.
        await waitFor('the second read to run the handler', () => handlerCalls === 2, 1000).catch(() => undefined);
        gate.resolve();
        const [older, newer] = await Promise.all([first, second]);
        expect(JSON.parse(older.body)).to.deep.equal({ state: 'old' });
        expect(JSON.parse(newer.body), `second read (X-Cache: ${newer.cache})`).to.deep.equal({ state: 'new' });
        const third = await get(port, '/item');
        expect(JSON.parse(third.body), `third read (X-Cache: ${third.cache})`).to.deep.equal({ state: 'new' });
      } finally {
        gate.resolve();
        server.close();
      }
    });

    it("getOrSet: a call on B after A acknowledged its clear gets the new value, not B's older fetch", async function () {
      let state = 'old';
      let fetches = 0;
      const gate = deferred();
      const fetch = async (): Promise<string> => {
        fetches += 1;
        const read = state;
        if (fetches === 1) await gate.promise;
        return read;
      };
      const first = b.getOrSet('values', 'one', fetch);
      await waitFor("B's fetch to read the old state", () => fetches === 1);
      state = 'new';
      await a.invalidateNamespaces(['values']);
      const second = b.getOrSet('values', 'one', fetch);
      await waitFor('the second call to fetch', () => fetches === 2, 1000).catch(() => undefined);
      gate.resolve();
      expect(await first).to.equal('old');
      expect(await second).to.equal('new');
      expect(await b.getOrSet('values', 'one', fetch)).to.equal('new');
    });
  });
}
