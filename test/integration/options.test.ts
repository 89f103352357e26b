/**
 * Behaviour tests of option handling: every invalid option of createCache,
 * route and invalidate throws a TypeError naming it at mount time; duration
 * strings and numbers (seconds) are accepted and mean what they say; caches
 * with different prefixes never see each other's entries.
 */
import { expect } from 'chai';
import { createCache, type Cache, type CacheOptions, type InvalidateOptions, type RouteOptions } from 'express-cache-aside';
import { sleep, storeKinds, useFactory, waitForEntries } from '../helpers/app-factory';

/** Calls `build` and expects a TypeError whose message names `option`. */
function expectOptionError(option: string, build: () => unknown): void {
  let thrown: unknown;
  try {
    build();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `an invalid "${option}" must throw`).to.be.instanceOf(TypeError);
  // A whole-word match, so "namespace" is not satisfied by a message about "namespaces".
  expect((thrown as TypeError).message, 'the message names the option').to.match(new RegExp(`(^|[^A-Za-z])${option}([^A-Za-z]|$)`));
}

describe('options', function () {
  const f = useFactory('options');
  let cache: Cache;

  beforeEach(async function () {
    ({ cache } = await f.cache('memory'));
  });

  describe('createCache rejects invalid options with a TypeError naming them', function () {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['ttl', { ttl: 'soon' }],
      ['ttl', { ttl: -1 }],
      ['ttl', { ttl: Number.NaN }],
      ['ttl', { ttl: '' }],
      ['ttl', { ttl: {} }],
      ['timeoutMs', { timeoutMs: 0 }],
      ['timeoutMs', { timeoutMs: -1 }],
      ['timeoutMs', { timeoutMs: Number.NaN }],
      ['timeoutMs', { timeoutMs: '100' }],
      ['prefix', { prefix: '' }],
      ['prefix', { prefix: 'a{b' }],
      ['prefix', { prefix: 'a}b' }],
      ['prefix', { prefix: 42 }],
      ['header', { header: 123 }],
      ['header', { header: true }],
      ['header', { header: 'Bad Header' }],
      ['redis', { redis: {} }],
      ['redis', { redis: 'redis://127.0.0.1:6379' }],
      ['ttll', { ttll: 60 }],
      ['timeout', { timeout: 100 }],
    ];
    for (const [option, options] of cases) {
      it(`${option}: ${JSON.stringify(options)}`, function () {
        expectOptionError(option, () => createCache(options as CacheOptions));
      });
    }
  });

  describe('cache.route rejects invalid options with a TypeError naming them', function () {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['namespace', {}],
      ['namespace', { namespace: '' }],
      ['namespace', { namespace: 42 }],
      ['key', { namespace: 'n', key: 42 }],
      ['key', { namespace: 'n', key: '' }],
      ['ttl', { namespace: 'n', ttl: 'soon' }],
      ['ttl', { namespace: 'n', ttl: -1 }],
      ['staleTtl', { namespace: 'n', staleTtl: 'bad' }],
      ['staleTtl', { namespace: 'n', staleTtl: -5 }],
      ['statuses', { namespace: 'n', statuses: ['200'] }],
      ['statuses', { namespace: 'n', statuses: 200 }],
      ['statuses', { namespace: 'n', statuses: [99] }],
      ['maxBodyBytes', { namespace: 'n', maxBodyBytes: -1 }],
      ['maxBodyBytes', { namespace: 'n', maxBodyBytes: '1kb' }],
      ['query', { namespace: 'n', query: 'page' }],
      ['namespaces', { namespace: 'n', namespaces: ['x'] }],
      ['tll', { namespace: 'n', tll: 5 }],
    ];
    for (const [option, options] of cases) {
      it(`${option}: ${JSON.stringify(options)}`, function () {
        expectOptionError(option, () => cache.route(options as unknown as RouteOptions));
      });
    }
  });

  describe('cache.invalidate rejects invalid options with a TypeError naming them', function () {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['namespaces', {}],
      ['namespaces', { namespaces: [] }],
      ['namespaces', { namespaces: 42 }],
      ['namespaces', { namespaces: [42] }],
      ['namespaces', { namespaces: [''] }],
      ['namespace', { namespace: 'courses' }],
    ];
    for (const [option, options] of cases) {
      it(`${option}: ${JSON.stringify(options)}`, function () {
        expectOptionError(option, () => cache.invalidate(options as unknown as InvalidateOptions));
      });
    }
  });

  it("accepts durations as '500ms', '30s', '10m', '1h', '1d' and numbers of seconds, everywhere a duration goes", function () {
    for (const ttl of ['500ms', '30s', '10m', '1h', '1d', 1, 0.5, 300]) {
      expect(() => f.adopt(createCache({ ttl })), `createCache ttl ${String(ttl)}`).to.not.throw();
      expect(() => cache.route({ namespace: 'n', ttl }), `route ttl ${String(ttl)}`).to.not.throw();
      expect(() => cache.route({ namespace: 'n', ttl, staleTtl: ttl }), `route staleTtl ${String(ttl)}`).to.not.throw();
    }
    expect(() => cache.route({ namespace: 'n', staleTtl: 0 })).to.not.throw();
    expect(() => cache.route({ namespace: 'n', statuses: [200, 203, 404], maxBodyBytes: 10, query: ['page'] })).to.not.throw();
    expect(() => cache.invalidate({ namespaces: ['a', 'b'] })).to.not.throw();
    expect(() => cache.invalidate({ namespaces: () => ['a'] })).to.not.throw();
  });

  for (const storeKind of storeKinds) {
    it(`reads a numeric ttl as seconds, not milliseconds (${storeKind} store)`, async function () {
      const h = await f.cache(storeKind, { ttl: 1 });
      let fetches = 0;
      const fetch = () => {
        fetches += 1;
        return fetches;
      };
      expect(await h.cache.getOrSet('ttl', 'k', fetch)).to.equal(1);
      await waitForEntries(h);
      await sleep(250);
      expect(await h.cache.getOrSet('ttl', 'k', fetch), 'still fresh after 250 ms').to.equal(1);
      await sleep(1000);
      expect(await h.cache.getOrSet('ttl', 'k', fetch), 'expired after more than a second').to.equal(2);
    });
  }
});

for (const storeKind of storeKinds) {
  describe(`prefix isolation (${storeKind} store)`, function () {
    const f = useFactory(`prefix-${storeKind}`);

    it('two caches with different prefixes never see each other’s entries or clears', async function () {
      const base = f.prefix();
      // One prefix starting with the other is the hard case for key layouts.
      const one = await f.cache(storeKind, { prefix: base });
      const two = await f.cache(storeKind, { prefix: `${base}:2` });
      expect(await one.cache.getOrSet('shared', 'k', () => 'one')).to.equal('one');
      await waitForEntries(one);
      expect(await two.cache.getOrSet('shared', 'k', () => 'two'), 'cache two has its own entry').to.equal('two');
      await waitForEntries(two);
      expect(await one.cache.getOrSet('shared', 'k', () => 'wrong')).to.equal('one');
      await one.cache.invalidateNamespaces(['shared']);
      expect(await two.cache.getOrSet('shared', 'k', () => 'wrong'), "cache one's clear leaves cache two alone").to.equal('two');
      expect(await one.cache.getOrSet('shared', 'k', () => 'one again')).to.equal('one again');
    });
  });
}
