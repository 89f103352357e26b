/** Options parsing: defaults, durations, and TypeErrors that name the option. */
import { expect } from 'chai';
import { durationToMs } from '../../src/duration';
import { CacheOptionError } from '../../src/errors';
import { parseCacheOptions, parseInvalidateOptions, parseRouteOptions } from '../../src/options';

describe('durations', function () {
  it('reads numbers as seconds and strings with units', function () {
    expect(durationToMs(60)).to.equal(60_000);
    expect(durationToMs('500ms')).to.equal(500);
    expect(durationToMs('30s')).to.equal(30_000);
    expect(durationToMs('10m')).to.equal(600_000);
    expect(durationToMs('1h')).to.equal(3_600_000);
    expect(durationToMs('1d')).to.equal(86_400_000);
    expect(durationToMs('90')).to.equal(90_000);
  });
  it('refuses what is not a duration', function () {
    for (const bad of ['soon', '', -1, NaN, Infinity, null, {}, '-5s']) expect(durationToMs(bad), String(bad)).to.equal(undefined);
  });
});

describe('options', function () {
  it('fills the defaults of API.md', function () {
    const s = parseCacheOptions(undefined);
    expect(s).to.include({ prefix: 'cache', ttlMs: 60_000, timeoutMs: 100, clearWaitMs: 1000, header: 'X-Cache' });
    expect(parseCacheOptions({ clearWaitMs: 0 }).clearWaitMs, 'clearWaitMs 0: never wait').to.equal(0);
    const r = parseRouteOptions({ namespace: 'n' });
    expect(r.staleTtlMs).to.equal(0);
    expect([...r.statuses]).to.deep.equal([200]);
    expect(r.maxBodyBytes).to.equal(1_048_576);
  });

  const cacheCases: Array<[string, object]> = [
    ['ttl', { ttl: 'soon' }],
    ['ttl', { ttl: 0 }],
    ['timeoutMs', { timeoutMs: 0 }],
    ['timeoutMs', { timeoutMs: NaN }],
    ['prefix', { prefix: '' }],
    ['prefix', { prefix: 'a{b' }],
    ['header', { header: 123 }],
    ['header', { header: 'bad header' }],
    ['redis', { redis: {} }],
    ['logger', { logger: { info() {} } }],
    ['jitter', { jitter: 1 }],
    ['colour', { colour: 'red' }],
    ['breaker.failures', { breaker: { failures: 0 } }],
    ['clearWaitMs', { clearWaitMs: -1 }],
    ['clearWaitMs', { clearWaitMs: '1s' }],
    ['clearWaitMs', { clearWaitMs: Infinity }],
  ];
  for (const [name, options] of cacheCases) {
    it(`createCache throws a TypeError naming "${name}" for ${JSON.stringify(options)}`, function () {
      expect(() => parseCacheOptions(options as never))
        .to.throw(CacheOptionError)
        .that.is.instanceOf(TypeError)
        .with.property('option', name);
    });
  }

  const routeCases: Array<[string, object]> = [
    ['namespace', {}],
    ['namespace', { namespace: '' }],
    ['key', { namespace: 'n', key: 42 }],
    ['statuses', { namespace: 'n', statuses: ['200'] }],
    ['maxBodyBytes', { namespace: 'n', maxBodyBytes: -1 }],
    ['staleTtl', { namespace: 'n', staleTtl: 'later' }],
    ['vary', { namespace: 'n', vary: ['bad header'] }],
    ['shared', { namespace: 'n', shared: 'yes' }],
    ['nmespace', { nmespace: 'n' }],
  ];
  for (const [name, options] of routeCases) {
    it(`route throws a TypeError naming "${name}" for ${JSON.stringify(options)}`, function () {
      expect(() => parseRouteOptions(options as never))
        .to.throw(CacheOptionError)
        .that.is.instanceOf(TypeError)
        .with.property('option', name);
    });
  }

  it('invalidate needs namespaces', function () {
    expect(() => parseInvalidateOptions({} as never)).to.throw(TypeError, '"namespaces"');
    expect(() => parseInvalidateOptions({ namespaces: [] })).to.throw(TypeError, '"namespaces"');
    expect(() => parseInvalidateOptions({ namespaces: ['a', ''] })).to.throw(TypeError, '"namespaces"');
    expect(parseInvalidateOptions({ namespaces: ['a'] }).namespaces).to.deep.equal(['a']);
  });
});
