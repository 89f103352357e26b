/**
 * Prometheus metrics through prom-client: a scripted sequence of hits,
 * misses, stale serves and bypasses (a redis-server this file pauses) is
 * scraped from a fresh Registry and each counter checked by family, 1,000
 * `user:N` namespaces make one label value, a route's metricsLabel is used,
 * the store histogram records round trips by operation and result, and
 * nothing is registered without `metrics`. prom-client is an optional peer:
 * a child process with prom-client made unloadable checks the cache and
 * stats() still work, and that asking for metrics then says what is missing.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { Registry, register as globalRegistry } from 'prom-client';
import { createCache } from 'express-cache-aside';
import { captureLogger, sleep, useFactory, waitFor, waitForEntries, type AppHandle } from '../helpers/app-factory';
import { useRedisProcess } from '../helpers/hooks';
import { parseExposition, type Sample } from '../helpers/prometheus';

const run = promisify(execFile);
const root = join(__dirname, '..', '..');

/** Scrapes the registry the way Prometheus would. */
async function scrape(registry: Registry): Promise<Sample[]> {
  return parseExposition(await registry.metrics());
}

/** The value of the one sample with this name and these labels (0 when absent, like an unseen counter child). */
function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value ?? 0;
}

/** Every value a label takes on a metric. */
function labelValues(samples: Sample[], name: string, label: string): string[] {
  return [...new Set(samples.filter((s) => s.name === name).map((s) => s.labels[label] ?? ''))].sort();
}

const M = 'express_cache_aside_';
/** Generous for a loaded 2-core machine (300 ms was not: seen BYPASS at load 18), so only the paused store ever times out. */
const TIMEOUT_MS = 1000;

describe('metrics (prom-client)', function () {
  this.timeout(20_000);
  const f = useFactory('metrics');
  const server = useRedisProcess();

  /** An app on the paused-able server with metrics in a fresh registry, its store failures recorded instead of printed. */
  async function metricsApp(options: { prefix?: string } = {}): Promise<{ h: AppHandle; registry: Registry; calls: Map<string, number> }> {
    const registry = new Registry();
    const h = await f.setupOn(server.client(), {
      timeoutMs: TIMEOUT_MS,
      jitter: 0,
      logger: captureLogger().logger,
      metrics: { registry, ...(options.prefix ? { prefix: options.prefix } : {}) },
    });
    const calls = new Map<string, number>();
    const count = (name: string): number => {
      const n = (calls.get(name) ?? 0) + 1;
      calls.set(name, n);
      return n;
    };
    h.app.get('/courses', h.cache.route({ namespace: 'courses', key: 'list' }), (_req, res) => {
      res.json({ courses: count('courses') });
    });
    h.app.get('/users/:id/cart', h.cache.route({ namespace: (req) => `user:${String(req.params.id)}`, key: 'cart' }), (req, res) => {
      res.json({ user: req.params.id, n: count('cart') });
    });
    h.app.get(
      '/tenants/:id',
      h.cache.route({ namespace: (req) => `tenant:${String(req.params.id)}`, key: 'home', metricsLabel: 'tenant-home' }),
      (req, res) => {
        res.json({ tenant: req.params.id, n: count('tenant') });
      },
    );
    h.app.get('/news', h.cache.route({ namespace: 'news', key: 'front', ttl: '300ms', staleTtl: '1m' }), (_req, res) => {
      res.json({ news: count('news') });
    });
    return { h, registry, calls };
  }

  /** GETs a path and checks what the cache header said. */
  async function expectCache(h: AppHandle, path: string, expected: string, headers: Record<string, string> = {}): Promise<void> {
    const res = await h.http().get(path).set(headers).expect(200);
    expect(res.headers['x-cache'], `GET ${path}`).to.equal(expected);
  }

  it('counts hits, misses, stale serves, bypasses and errors by namespace family after a scripted sequence', async function () {
    const { h, registry, calls } = await metricsApp();

    // courses: 1 miss, 3 hits, then 1 bypass for credentials and 1 for a paused store (which is also 1 error).
    await expectCache(h, '/courses', 'MISS');
    await waitForEntries(h, 1, 'courses');
    for (let i = 0; i < 3; i += 1) await expectCache(h, '/courses', 'HIT');
    await expectCache(h, '/courses', 'BYPASS', { Authorization: 'Bearer t' });

    // news: 1 miss, then 1 stale serve once its 300 ms are up; the background refresh runs the handler again.
    await expectCache(h, '/news', 'MISS');
    await waitForEntries(h, 1, 'news');
    await sleep(400);
    const writes = async (): Promise<number> =>
      sampleValue(await scrape(registry), `${M}store_duration_seconds_count`, { operation: 'write', result: 'ok' });
    const writesBefore = await writes();
    await expectCache(h, '/news', 'STALE');
    await waitFor('the refresh of /news to run', () => calls.get('news') === 2);
    // The refresh's write must land before the store is paused, or it would count as an error too.
    await waitFor('the refresh of /news to be written', async () => (await writes()) === writesBefore + 1);

    // tenants: a route-given metricsLabel; 1 miss, 1 hit.
    await expectCache(h, '/tenants/7', 'MISS');
    await waitForEntries(h, 1);
    await expectCache(h, '/tenants/7', 'HIT');

    server.pause();
    try {
      await expectCache(h, '/courses', 'BYPASS');
    } finally {
      server.resume();
    }

    const samples = await scrape(registry);
    const at = (outcome: string, family: string): number => sampleValue(samples, `${M}${outcome}_total`, { family });
    expect({
      hits: at('hits', 'courses'),
      misses: at('misses', 'courses'),
      stale: at('stale', 'courses'),
      bypasses: at('bypasses', 'courses'),
      errors: at('errors', 'courses'),
    }).to.deep.equal({ hits: 3, misses: 1, stale: 0, bypasses: 2, errors: 1 });
    expect({
      hits: at('hits', 'news'),
      misses: at('misses', 'news'),
      stale: at('stale', 'news'),
      bypasses: at('bypasses', 'news'),
      errors: at('errors', 'news'),
    }).to.deep.equal({ hits: 0, misses: 1, stale: 1, bypasses: 0, errors: 0 });
    expect({ hits: at('hits', 'tenant-home'), misses: at('misses', 'tenant-home') }).to.deep.equal({ hits: 1, misses: 1 });
    expect(labelValues(samples, `${M}misses_total`, 'family'), 'metricsLabel replaces the family').to.not.include('tenant');

    // The counters agree with stats(), which works beside them.
    const stats = h.cache.stats();
    for (const outcome of ['hits', 'misses', 'stale', 'bypasses', 'errors'] as const) {
      const total = samples.filter((s) => s.name === `${M}${outcome}_total`).reduce((sum, s) => sum + s.value, 0);
      expect(total, `${outcome}_total summed over families`).to.equal(stats[outcome]);
    }

    // The store histogram: lookups that answered, and the one the paused store did not.
    expect(sampleValue(samples, `${M}store_duration_seconds_count`, { operation: 'lookup', result: 'ok' })).to.be.at.least(8);
    expect(sampleValue(samples, `${M}store_duration_seconds_count`, { operation: 'lookup', result: 'error' })).to.equal(1);
    const timedOut = sampleValue(samples, `${M}store_duration_seconds_sum`, { operation: 'lookup', result: 'error' });
    expect(timedOut, 'the failed lookup took about timeoutMs').to.be.within(TIMEOUT_MS / 1000 - 0.01, 3);
    const buckets = samples.filter(
      (s) => s.name === `${M}store_duration_seconds_bucket` && s.labels.operation === 'lookup' && s.labels.result === 'ok',
    );
    expect(buckets.map((s) => s.labels.le)).to.include.members(['0.001', '0.1', '1', '+Inf']);
    expect(labelValues(samples, `${M}store_duration_seconds_count`, 'operation')).to.include.members(['lookup', 'prepare', 'write']);
  });

  it('1,000 distinct user:N namespaces make one label value', async function () {
    const { h, registry } = await metricsApp();
    const users = Array.from({ length: 1000 }, (_, i) => i + 1);
    for (let start = 0; start < users.length; start += 50) {
      await Promise.all(users.slice(start, start + 50).map((id) => expectCache(h, `/users/${id}/cart`, 'MISS')));
    }
    await waitForEntries(h, 1000);
    await Promise.all(users.slice(0, 10).map((id) => expectCache(h, `/users/${id}/cart`, 'HIT')));

    const samples = await scrape(registry);
    for (const outcome of ['hits', 'misses']) {
      expect(labelValues(samples, `${M}${outcome}_total`, 'family'), `${outcome}_total families`).to.deep.equal(['user']);
    }
    expect(sampleValue(samples, `${M}misses_total`, { family: 'user' })).to.equal(1000);
    expect(sampleValue(samples, `${M}hits_total`, { family: 'user' })).to.equal(10);
    // Every series the cache exports, whatever the metric: none is per user.
    const series = samples.filter((s) => s.name.startsWith(M));
    expect(series.filter((s) => s.name.endsWith('_total')).length, 'counter series').to.be.at.most(5);
    expect(
      series.some((s) => Object.values(s.labels).some((v) => /\d/.test(v) && v.startsWith('user'))),
      'a user id in a label',
    ).to.equal(false);
  });

  it('a route metricsLabel bounds every counter, store errors included, even for namespaces without a colon', async function () {
    const { h, registry } = await metricsApp();
    // `site-<id>` has no ':' to cut at: only the route's metricsLabel keeps it to one label value.
    h.app.get(
      '/sites/:id',
      h.cache.route({ namespace: (req) => `site-${String(req.params.id)}`, key: 'home', metricsLabel: 'site' }),
      (req, res) => {
        res.json({ site: req.params.id });
      },
    );
    await expectCache(h, '/sites/1', 'MISS');
    await waitForEntries(h, 1);
    server.pause();
    try {
      for (const id of [1, 2, 3]) await expectCache(h, `/sites/${id}`, 'BYPASS');
    } finally {
      server.resume();
    }
    const samples = await scrape(registry);
    expect(sampleValue(samples, `${M}bypasses_total`, { family: 'site' })).to.equal(3);
    for (const outcome of ['misses', 'bypasses', 'errors']) {
      expect(labelValues(samples, `${M}${outcome}_total`, 'family'), `${outcome}_total families`).to.deep.equal(['site']);
    }
    expect(sampleValue(samples, `${M}errors_total`, { family: 'site' })).to.equal(3);
  });

  it('metrics.prefix renames the metrics', async function () {
    const { h, registry } = await metricsApp({ prefix: 'shop_cache_' });
    await expectCache(h, '/courses', 'MISS');
    const samples = await scrape(registry);
    expect(sampleValue(samples, 'shop_cache_misses_total', { family: 'courses' })).to.equal(1);
    expect(
      samples.some((s) => s.name.startsWith(M)),
      'no metric under the default prefix',
    ).to.equal(false);
    expect(samples.some((s) => s.name.startsWith('shop_cache_store_duration_seconds'))).to.equal(true);
  });

  it('two caches on one registry share the metrics instead of failing on a duplicate name', async function () {
    const registry = new Registry();
    const one = f.adopt(createCache({ prefix: f.prefix(), metrics: { registry } }));
    const two = f.adopt(createCache({ prefix: f.prefix(), metrics: { registry } }));
    await one.getOrSet('courses', 'a', () => 1);
    await two.getOrSet('courses', 'a', () => 2);
    const samples = await scrape(registry);
    expect(sampleValue(samples, `${M}misses_total`, { family: 'courses' })).to.equal(2);
  });

  it('registers nothing without the metrics option, and stats() still counts', async function () {
    const before = (await globalRegistry.getMetricsAsJSON()).map((m) => m.name);
    const registry = new Registry();
    const cache = f.adopt(createCache({ prefix: f.prefix() }));
    await cache.getOrSet('courses', 'a', () => 1);
    await cache.getOrSet('courses', 'a', () => 1);
    expect(cache.stats()).to.include({ hits: 1, misses: 1 });
    expect(
      (await globalRegistry.getMetricsAsJSON()).map((m) => m.name),
      'the global registry',
    ).to.deep.equal(before);
    expect(await registry.getMetricsAsJSON(), 'an unrelated registry').to.deep.equal([]);
  });

  it('rejects a metrics option that is not a registry, or a bad prefix, with a TypeError naming it', function () {
    expect(() => createCache({ metrics: { registry: {} } })).to.throw(TypeError, /metrics\.registry/);
    expect(() => createCache({ metrics: { registry: new Registry(), prefix: 'bad prefix-' } })).to.throw(TypeError, /metrics\.prefix/);
    expect(() => createCache({ metrics: { registry: new Registry(), label: 'x' } as never })).to.throw(TypeError, /"label"/);
  });

  it('without prom-client installed: the cache and stats() work, and metrics says what is missing', async function () {
    // A child process in which require('prom-client') fails, as in an app that never installed it.
    const script = `
      const Module = require('node:module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === 'prom-client' || request.startsWith('prom-client/')) {
          const err = new Error("Cannot find module 'prom-client'");
          err.code = 'MODULE_NOT_FOUND';
          throw err;
        }
        return resolve.call(this, request, ...rest);
      };
      const { createCache } = require('./src/index.ts');
      (async () => {
        const cache = createCache();
        await cache.getOrSet('courses', 'a', () => 1);
        await cache.getOrSet('courses', 'a', () => 1);
        let metricsError = 'none';
        try { createCache({ metrics: { registry: {} } }); } catch (err) { metricsError = [err instanceof TypeError, err.constructor.name, err.option, err.code, /prom-client/.test(err.message)].join(' '); }
        const loaded = Object.keys(require.cache).some((file) => file.includes('prom-client'));
        console.log(JSON.stringify({ stats: cache.stats(), metricsError, loaded }));
        await cache.close();
      })().catch((err) => { console.error(err); process.exit(1); });
    `;
    const { stdout } = await run(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: root, timeout: 15_000 });
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as {
      stats: { hits: number; misses: number };
      metricsError: string;
      loaded: boolean;
    };
    expect(result.stats).to.include({ hits: 1, misses: 1 });
    expect(result.loaded, 'prom-client loaded').to.equal(false);
    expect(result.metricsError).to.equal('true CacheOptionError metrics EOPTION_PEER_MISSING true');
  });
});
