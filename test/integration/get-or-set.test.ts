/**
 * Behaviour tests of cache.getOrSet, the data-level cache-aside: values
 * round-trip deep-equal (Date, Buffer, Map, Set, BigInt, undefined, nested),
 * concurrent misses call fetch once, a rejected fetch reaches every caller
 * and stores nothing, and ttl is honoured. Runs against both stores.
 */
import { expect } from 'chai';
import { deferred, sleep, storeKinds, useFactory, waitForEntries } from '../helpers/app-factory';

for (const storeKind of storeKinds) {
  describe(`getOrSet (${storeKind} store)`, function () {
    const f = useFactory(`get-or-set-${storeKind}`);

    it('round-trips Date, Buffer, Map, Set, BigInt, undefined and nested objects deep-equal', async function () {
      const h = await f.cache(storeKind);
      const make = () => ({
        date: new Date('2024-02-29T12:34:56.789Z'),
        buffer: Buffer.from([0, 1, 2, 254, 255]),
        map: new Map<string, unknown>([
          ['a', 1],
          ['b', { nested: [1, 2] }],
        ]),
        set: new Set([1, 'two', 3n]),
        big: 12345678901234567890n,
        missing: undefined,
        nested: { deep: { list: [1, 'x', null, { y: new Date(0) }] }, empty: {} },
        text: 'Grüße ✓',
      });
      let fetches = 0;
      const first = await h.cache.getOrSet('data', 'rich', () => {
        fetches += 1;
        return make();
      });
      expect(first).to.deep.equal(make());
      await waitForEntries(h);
      const hit = await h.cache.getOrSet('data', 'rich', () => {
        fetches += 1;
        return make();
      });
      expect(fetches, 'second call is a hit').to.equal(1);
      expect(hit).to.deep.equal(make());
      expect(hit.date).to.be.instanceOf(Date);
      expect(Buffer.isBuffer(hit.buffer)).to.equal(true);
      expect(hit.map).to.be.instanceOf(Map);
      expect(hit.set).to.be.instanceOf(Set);
      expect(typeof hit.big).to.equal('bigint');
      expect(hit).to.have.property('missing');
    });

    it('caches undefined itself, and other plain values', async function () {
      const h = await f.cache(storeKind);
      const values: Array<[string, unknown]> = [
        ['undefined', undefined],
        ['null', null],
        ['zero', 0],
        ['empty-string', ''],
        ['false', false],
        ['array', [1, [2, [3]]]],
      ];
      let fetches = 0;
      for (const [key, value] of values) {
        expect(
          await h.cache.getOrSet('plain', key, () => {
            fetches += 1;
            return value;
          }),
        ).to.deep.equal(value);
      }
      await waitForEntries(h, values.length);
      for (const [key, value] of values) {
        const hit = await h.cache.getOrSet('plain', key, () => {
          fetches += 1;
          return 'refetched';
        });
        expect(hit, key).to.deep.equal(value);
      }
      expect(fetches).to.equal(values.length);
    });

    it('calls fetch once for concurrent misses of one entry', async function () {
      const h = await f.cache(storeKind);
      let fetches = 0;
      const results = await Promise.all(
        Array.from({ length: 30 }, () =>
          h.cache.getOrSet('data', 'shared', async () => {
            fetches += 1;
            await sleep(100);
            return { value: 42, at: new Date(1_000) };
          }),
        ),
      );
      expect(fetches).to.equal(1);
      for (const result of results) expect(result).to.deep.equal({ value: 42, at: new Date(1_000) });
    });

    it("passes fetch's rejection to every concurrent caller and stores nothing", async function () {
      const h = await f.cache(storeKind);
      let fetches = 0;
      const gate = deferred();
      const calls = Array.from({ length: 10 }, () =>
        h.cache
          .getOrSet('data', 'failing', async () => {
            fetches += 1;
            await gate.promise;
            throw new Error('origin unavailable');
          })
          .then(
            () => 'resolved',
            (err: unknown) => (err instanceof Error ? err.message : String(err)),
          ),
      );
      await sleep(50);
      gate.resolve();
      const outcomes = await Promise.all(calls);
      expect(outcomes).to.deep.equal(Array.from({ length: 10 }, () => 'origin unavailable'));
      expect(fetches).to.equal(1);

      await sleep(100);
      const after = await h.cache.getOrSet('data', 'failing', () => {
        fetches += 1;
        return 'recovered';
      });
      expect(after).to.equal('recovered');
      expect(fetches, 'nothing was stored by the failed fetch').to.equal(2);
    });

    it("respects a short ttl ('300ms'): a hit before expiry, a refetch after", async function () {
      const h = await f.cache(storeKind);
      let fetches = 0;
      const fetch = () => {
        fetches += 1;
        return `value ${fetches}`;
      };
      expect(await h.cache.getOrSet('short', 'k', fetch, { ttl: '300ms' })).to.equal('value 1');
      await waitForEntries(h);
      expect(await h.cache.getOrSet('short', 'k', fetch, { ttl: '300ms' })).to.equal('value 1');
      await sleep(450);
      expect(await h.cache.getOrSet('short', 'k', fetch, { ttl: '300ms' })).to.equal('value 2');
      expect(fetches).to.equal(2);
    });

    it('stores every one of concurrent first fills of different keys in a namespace never written before', async function () {
      const h = await f.cache(storeKind);
      const keys = Array.from({ length: 8 }, (_, i) => `k${i}`);
      let fetches = 0;
      await Promise.all(
        keys.map((key) =>
          h.cache.getOrSet('brand-new', key, async () => {
            fetches += 1;
            await sleep(20);
            return key;
          }),
        ),
      );
      expect(fetches).to.equal(keys.length);
      await waitForEntries(h, keys.length, 'brand-new');
      const refetched: string[] = [];
      for (const key of keys) {
        const value = await h.cache.getOrSet('brand-new', key, () => {
          refetched.push(key);
          return `${key} again`;
        });
        expect(value).to.be.a('string');
      }
      expect(refetched, 'keys whose first fill was lost').to.deep.equal([]);
    });

    it('keeps entries of different namespaces and keys apart', async function () {
      const h = await f.cache(storeKind);
      expect(await h.cache.getOrSet('ns1', 'k', () => 'ns1/k')).to.equal('ns1/k');
      expect(await h.cache.getOrSet('ns2', 'k', () => 'ns2/k')).to.equal('ns2/k');
      expect(await h.cache.getOrSet('ns1', 'k2', () => 'ns1/k2')).to.equal('ns1/k2');
      await waitForEntries(h, 3);
      expect(await h.cache.getOrSet('ns1', 'k', () => 'wrong')).to.equal('ns1/k');
      expect(await h.cache.getOrSet('ns2', 'k', () => 'wrong')).to.equal('ns2/k');
    });
  });
}
