/** CacheOptionError: one class for every bad option, a TypeError with `option` and `code`, from every entry point. */
import { expect } from 'chai';
import { CacheOptionError, createCache } from '../../src/index';
import {
  parseCacheOptions,
  parseGetOrSetArguments,
  parseInvalidateOptions,
  parseMetricsOptions,
  parseRouteOptions,
  parseWarmupArguments,
} from '../../src/options';

function caught(fn: () => unknown): CacheOptionError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(CacheOptionError);
    expect(err).to.be.instanceOf(TypeError);
    return err as CacheOptionError;
  }
  throw new Error('expected a CacheOptionError');
}

describe('CacheOptionError', function () {
  it('names the option and a code for createCache, route and invalidate options', function () {
    expect(caught(() => parseCacheOptions({ colour: 'red' } as never))).to.include({ option: 'colour', code: 'EOPTION_UNKNOWN' });
    expect(caught(() => parseCacheOptions({ ttl: 'soon' }))).to.include({ option: 'ttl', code: 'EOPTION_INVALID' });
    expect(caught(() => parseCacheOptions({ breaker: 5 } as never))).to.include({ option: 'breaker', code: 'EOPTION_NOT_OBJECT' });
    expect(caught(() => parseCacheOptions({ header: 'bad header' }))).to.include({ option: 'header', code: 'EOPTION_INVALID' });
    expect(caught(() => parseRouteOptions({} as never))).to.include({ option: 'namespace', code: 'EOPTION_REQUIRED' });
    expect(caught(() => parseRouteOptions({ namespace: 'n', vary: ['bad header'] }))).to.include({
      option: 'vary',
      code: 'EOPTION_INVALID',
    });
    expect(caught(() => parseInvalidateOptions({ namespaces: [] }))).to.include({ option: 'namespaces', code: 'EOPTION_REQUIRED' });
  });

  it('covers getOrSet arguments and options', function () {
    const fetch = (): number => 1;
    expect(caught(() => parseGetOrSetArguments('', 'k', fetch, undefined, 1000))).to.include({
      option: 'namespace',
      code: 'EOPTION_REQUIRED',
    });
    expect(caught(() => parseGetOrSetArguments('n', 42, fetch, undefined, 1000))).to.include({ option: 'key', code: 'EOPTION_REQUIRED' });
    expect(caught(() => parseGetOrSetArguments('n', 'k', 'nope', undefined, 1000))).to.include({
      option: 'fetch',
      code: 'EOPTION_REQUIRED',
    });
    expect(caught(() => parseGetOrSetArguments('n', 'k', fetch, { tll: 5 } as never, 1000))).to.include({
      option: 'tll',
      code: 'EOPTION_UNKNOWN',
    });
    expect(caught(() => parseGetOrSetArguments('n', 'k', fetch, { ttl: 0 }, 1000))).to.include({ option: 'ttl', code: 'EOPTION_INVALID' });
    expect(parseGetOrSetArguments('n', 'k', fetch, { staleTtl: '2s' }, 1000)).to.deep.equal({ ttlMs: 1000, staleTtlMs: 2000, tags: [] });
    expect(parseGetOrSetArguments('n', 'k', fetch, { tags: ['a'] }, 1000).tags).to.deep.equal(['a']);
    expect(caught(() => parseGetOrSetArguments('n', 'k', fetch, { tags: [] }, 1000))).to.include({
      option: 'tags',
      code: 'EOPTION_INVALID',
    });
    expect(caught(() => parseGetOrSetArguments('n', 'k', fetch, { tags: ['a', ''] }, 1000))).to.include({
      option: 'tags',
      code: 'EOPTION_INVALID',
    });
  });

  it('covers tags and soft: non-empty strings, an empty static list is a config error, at most 64 per entry, invalidate needs namespaces or tags', function () {
    expect(parseRouteOptions({ namespace: 'n', tags: ['a', 'a', 'b'] }).tags).to.deep.equal(['a', 'b']);
    expect(caught(() => parseRouteOptions({ namespace: 'n', tags: [] }))).to.include({ option: 'tags', code: 'EOPTION_INVALID' });
    expect(caught(() => parseRouteOptions({ namespace: 'n', tags: ['ok', ''] }))).to.include({ option: 'tags', code: 'EOPTION_INVALID' });
    expect(caught(() => parseRouteOptions({ namespace: 'n', tags: 'course' as never }))).to.include({
      option: 'tags',
      code: 'EOPTION_INVALID',
    });
    const tooMany = Array.from({ length: 65 }, (_, i) => `t${i}`);
    expect(caught(() => parseRouteOptions({ namespace: 'n', tags: tooMany }))).to.include({ option: 'tags', code: 'EOPTION_INVALID' });
    expect(typeof parseRouteOptions({ namespace: 'n', tags: () => ['x'] }).tags).to.equal('function');
    expect(caught(() => parseInvalidateOptions({}))).to.include({ option: 'namespaces', code: 'EOPTION_REQUIRED' });
    expect(parseInvalidateOptions({ tags: ['a'] })).to.deep.equal({ namespaces: undefined, tags: ['a'], soft: false });
    expect(parseInvalidateOptions({ namespaces: ['n'], tags: () => [], soft: true }).soft).to.equal(true);
    expect(caught(() => parseInvalidateOptions({ tags: [] }))).to.include({ option: 'tags', code: 'EOPTION_INVALID' });
    expect(caught(() => parseInvalidateOptions({ tags: ['a'], soft: 'yes' as never }))).to.include({
      option: 'soft',
      code: 'EOPTION_INVALID',
    });
  });

  it('covers warmup arguments and options', function () {
    const app = (): void => {};
    expect(caught(() => parseWarmupArguments({}, ['/a'], undefined))).to.include({ option: 'app', code: 'EOPTION_REQUIRED' });
    expect(caught(() => parseWarmupArguments(app, '/a', undefined))).to.include({ option: 'targets', code: 'EOPTION_INVALID' });
    expect(caught(() => parseWarmupArguments(app, ['/a', 'b'], undefined))).to.include({ option: 'targets[1]', code: 'EOPTION_INVALID' });
    expect(caught(() => parseWarmupArguments(app, ['/a'], { concurrency: 0 }))).to.include({
      option: 'concurrency',
      code: 'EOPTION_INVALID',
    });
    expect(caught(() => parseWarmupArguments(app, ['/a'], { every: 'never' }))).to.include({ option: 'every', code: 'EOPTION_INVALID' });
    expect(caught(() => parseWarmupArguments(app, ['/a'], { evry: 5 } as never))).to.include({ option: 'evry', code: 'EOPTION_UNKNOWN' });
    expect(parseWarmupArguments(app, ['/a', { path: '/b' }, async () => {}], { every: '1m' })).to.deep.equal({
      concurrency: 4,
      everyMs: 60_000,
      host: undefined,
      headers: undefined,
    });
  });

  it('covers metrics options, checked when the cache is created', function () {
    const registry = { getSingleMetric: () => undefined };
    expect(caught(() => parseMetricsOptions({ registry, prefix: '1bad' }))).to.include({
      option: 'metrics.prefix',
      code: 'EOPTION_INVALID',
    });
    expect(caught(() => parseMetricsOptions({ registry, extra: 1 }))).to.include({ option: 'extra', code: 'EOPTION_UNKNOWN' });
    expect(caught(() => createCache({ metrics: { registry: null } }))).to.include({ option: 'metrics.registry' });
  });

  it('rejects (never throws synchronously) from cache.warmup and cache.getOrSet, with the fields', async function () {
    const cache = createCache({});
    try {
      const warm = await cache.warmup({} as never, ['/a']).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(warm).to.be.instanceOf(CacheOptionError).and.include({ option: 'app', code: 'EOPTION_REQUIRED' });
      const got = await cache
        .getOrSet('n', '', () => 1)
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(got).to.be.instanceOf(CacheOptionError).and.include({ option: 'key', code: 'EOPTION_REQUIRED' });
    } finally {
      await cache.close();
    }
  });
});
